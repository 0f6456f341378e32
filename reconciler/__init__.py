"""couponctl: a declarative, GitOps-style reconciler for coupon distribution."""

__version__ = "0.1.0"
