"""The frozen values every layer shares: the desired state the manifests declare and the live state the vendor
shows."""
