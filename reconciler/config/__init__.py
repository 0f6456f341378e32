"""couponctl.yaml into a Config: loading, the model, secret references and their redaction, paths kept inside
the project."""
