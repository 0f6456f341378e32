"""Vendor providers: read live state per scope, issue batches of targets."""
