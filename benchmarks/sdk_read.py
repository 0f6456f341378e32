"""The read a user would script with the vendor's official SDK (msads 13.0.30.1, ``openapi_client``).

One SearchCoupons page after another per coupon class (there is no total count: page until a page holds fewer
than 100 coupons), the holders collected from SendToEmail and ClaimInfo, and the desired targets (the same
CSV lists and account ids the couponctl project declares) compared with them. Prints a JSON summary.

    python benchmarks/sdk_read.py --url http://127.0.0.1:PORT --scopes scopes.json \\
        --developer-token TOKEN --access-token TOKEN
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
import time
from pathlib import Path
from typing import Any

from bingads.authorization import (
    AuthorizationData,
    OAuthDesktopMobileAuthCodeGrant,
    OAuthTokens,
)
from bingads.service_client import ServiceClient
from openapi_client.models import billing

PAGE_SIZE = 100


def sdk_client(url: str, developer_token: str, access_token: str, customer_id: str) -> Any:
    """A CustomerBillingService client as the SDK's samples build it, with a ready access token."""
    authentication = OAuthDesktopMobileAuthCodeGrant(
        client_id="bench-client", oauth_tokens=OAuthTokens(access_token=access_token)
    )
    data = AuthorizationData(
        developer_token=developer_token, authentication=authentication, customer_id=customer_id, account_id=None
    )
    return ServiceClient("CustomerBillingService", 13, authorization_data=data, location=url)


def search_page(client: Any, customer_id: str, class_name: str, index: int) -> list[Any]:
    request = billing.SearchCouponsRequest(
        Predicates=[
            billing.Predicate(Field="CustomerId", Operator="Equals", Value=customer_id),
            billing.Predicate(Field="CouponClassName", Operator="Equals", Value=class_name),
        ],
        Ordering=[billing.OrderBy(Field="CouponStartDate", Order="Ascending")],
        PageInfo=billing.Paging(Index=index, Size=PAGE_SIZE),
        ReturnAdditionalFields=billing.AccountAdditionalField.COUPONCLAIMINFO,
    )
    response = client.SearchCoupons(search_coupons_request=request)
    return list(response.coupons or [])


def desired_emails(path: Path) -> set[str]:
    with path.open(encoding="utf-8", newline="") as stream:
        return {row["email"].strip().lower() for row in csv.DictReader(stream) if row.get("email")}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--url", required=True)
    parser.add_argument("--scopes", type=Path, required=True, help="JSON: customerId, className, emailsCsv, accounts")
    parser.add_argument("--developer-token", required=True)
    parser.add_argument("--access-token", required=True)
    args = parser.parse_args(argv)

    started = time.perf_counter()
    scopes = json.loads(args.scopes.read_text(encoding="utf-8"))
    clients: dict[str, Any] = {}
    summary: dict[str, Any] = {"scopes": [], "calls": 0, "coupons": 0, "missing": 0}
    for scope in scopes:
        customer, name = scope["customerId"], scope["className"]
        client = clients.get(customer) or sdk_client(args.url, args.developer_token, args.access_token, customer)
        clients[customer] = client
        emails: set[str] = set()
        accounts: set[int] = set()
        available = pages = coupons = 0
        index = 0
        while True:
            page = search_page(client, customer, name, index)
            pages += 1
            coupons += len(page)
            for coupon in page:
                if coupon.send_to_email:
                    emails.add(coupon.send_to_email.lower())
                elif coupon.claim_info is not None:
                    accounts.add(int(coupon.claim_info.account_id))
                elif not coupon.is_redeemed:
                    available += 1
            if len(page) < PAGE_SIZE:
                break
            index += 1
        want_emails = desired_emails(Path(scope["emailsCsv"]))
        want_accounts = {int(a) for a in scope["accounts"]}
        missing = len(want_emails - emails) + len(want_accounts - accounts)
        summary["scopes"].append(
            {"class": name, "pages": pages, "coupons": coupons, "available": available, "missing": missing}
        )
        summary["calls"] += pages
        summary["coupons"] += coupons
        summary["missing"] += missing
    summary["seconds"] = time.perf_counter() - started
    json.dump(summary, sys.stdout)
    return 0


if __name__ == "__main__":
    sys.exit(main())
