"""couponctl: a declarative, GitOps-style reconciler for coupon distribution."""

import logging

__version__ = "0.1.0"

# A library logs; only the command line decides what reaches a terminal (``couponctl --debug``).
logging.getLogger(__name__).addHandler(logging.NullHandler())
