"""Microsoft Advertising Customer Billing v13: the provider, its wire format and its descriptor."""
