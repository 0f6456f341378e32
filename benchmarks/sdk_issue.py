"""Issuing as a user would script it with the vendor's official SDK: batch after batch, one call at a time.

Per coupon class, DistributeCoupons for the missing account ids in batches of 100 and DispatchCoupons for the
missing emails in batches of 1000 (couponctl's default batch sizes), sequentially. No journal, no re-read:
the bare cost of the issuing calls. Prints a JSON summary.

    python benchmarks/sdk_issue.py --url http://127.0.0.1:PORT --scopes scopes.json \\
        --developer-token TOKEN --access-token TOKEN
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

from openapi_client.models import billing
from sdk_read import sdk_client

DISTRIBUTE_BATCH = 100
DISPATCH_BATCH = 1000


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--url", required=True)
    parser.add_argument("--scopes", type=Path, required=True, help="JSON: customerId, className, missing targets")
    parser.add_argument("--developer-token", required=True)
    parser.add_argument("--access-token", required=True)
    args = parser.parse_args(argv)

    started = time.perf_counter()
    scopes = json.loads(args.scopes.read_text(encoding="utf-8"))
    clients: dict[str, Any] = {}
    calls = issued = failed = 0
    for scope in scopes:
        customer, name = scope["customerId"], scope["className"]
        client = clients.get(customer) or sdk_client(args.url, args.developer_token, args.access_token, customer)
        clients[customer] = client
        accounts: list[int] = scope["missingAccounts"]
        for i in range(0, len(accounts), DISTRIBUTE_BATCH):
            batch = accounts[i : i + DISTRIBUTE_BATCH]
            request = billing.DistributeCouponsRequest(
                AccountIds=batch, ClassName=name, FeatureId=7, SendNotification=False
            )
            response = client.DistributeCoupons(distribute_coupons_request=request)
            calls += 1
            errors = sum(1 for entry in response.partial_errors or [] if entry)
            failed += errors
            issued += len(batch) - errors
        emails: list[str] = scope["missingEmails"]
        for i in range(0, len(emails), DISPATCH_BATCH):
            batch_emails = emails[i : i + DISPATCH_BATCH]
            dispatch = billing.DispatchCouponsRequest(
                SendToEmails=batch_emails, CustomerId=customer, CouponClassName=name
            )
            answer = client.DispatchCoupons(dispatch_coupons_request=dispatch)
            calls += 1
            errors = len(answer.partial_errors or [])
            failed += errors
            issued += len(batch_emails) - errors
    summary = {"calls": calls, "issued": issued, "failed": failed, "seconds": time.perf_counter() - started}
    json.dump(summary, sys.stdout)
    return 0


if __name__ == "__main__":
    sys.exit(main())
