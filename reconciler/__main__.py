"""`python -m reconciler` runs the couponctl command line."""

from reconciler.cli import main

main()
