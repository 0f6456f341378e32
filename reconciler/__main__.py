"""`python -m reconciler` runs the couponctl command line."""

from reconciler.cli.main import main

main()
