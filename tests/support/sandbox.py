"""An in-process Microsoft Advertising sandbox for the tests: a seed, a store with a settable clock, the application,
a sync way to call it, and readers of its answers."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

import httpx

from reconciler.sandbox.embedded import EmbeddedTransport
from reconciler.sandbox.faults import FaultPlan
from reconciler.sandbox.seed import MsadsSeed, parse_seed
from reconciler.sandbox.store import Store

BASE_URL = "http://sandbox.local"
SEARCH = "/CustomerBilling/v13/Coupons/Search"
DISPATCH = "/CustomerBilling/v13/Coupons/Dispatch"
DISTRIBUTE = "/CustomerBilling/v13/Coupons/Distribute"
REDEEM = "/CustomerBilling/v13/Coupon/Redeem"
COUPON_INFO = "/CustomerBilling/v13/CouponInfo/Query"
FAC_CHECK = "/CustomerBilling/v13/FeatureAdoptionCouponEligibility/Check"
FAC_CLAIM = "/CustomerBilling/v13/FeatureAdoptionCoupons/Claim"
TOKEN = "/oauth2/v2.0/token"

DEVELOPER_TOKEN = "DEV-TOKEN-1"
ALL_TOKEN = "all-customers-token"
NARROW_TOKEN = "customer-200-token"
EXPIRED_TOKEN = "expired-token"
AUTH = {"Authorization": f"Bearer {ALL_TOKEN}", "DeveloperToken": DEVELOPER_TOKEN}

# Customer 100 owns three classes; account 1004 is managed by 100 but bills to customer 200.
SEED = f"""
msads:
  developerToken: {DEVELOPER_TOKEN}
  accessTokens: [{ALL_TOKEN}]
  users:
    - {{accessToken: {NARROW_TOKEN}, customers: ["200"]}}
    - {{accessToken: {EXPIRED_TOKEN}, expired: true}}
  oauthClients:
    - {{clientId: app, refreshToken: refresh-1, tokenLifetimeSeconds: 60}}
    - {{clientId: secret-app, clientSecret: s3cret, refreshToken: refresh-2, customers: ["200"]}}
  customers:
    - id: "100"
      accounts: [1001, 1002, 1003, {{id: 1004, number: F1004, billsTo: "200"}}]
      classes:
        - {{name: ACQ-10, type: Acquisition, amount: 10, currency: USD, coupons: 5,
           startDate: 2026-01-01, endDate: 2026-12-31}}
        - {{name: RET-20, type: Retention, amount: 20, currency: EUR, coupons: 150, startDate: 2026-02-01,
           spendThreshold: 5, activeDuration: 30, percentOff: 12.5, expirationDate: 2027-06-30}}
        - {{name: FUTURE-5, type: Retention, amount: 5, currency: USD, coupons: 2, startDate: 2030-01-01}}
    - id: "200"
      accounts: [2001]
      classes:
        - {{name: OTHER-1, type: Retention, amount: 1, currency: USD, coupons: 3}}
"""

START = datetime(2026, 6, 1, 12, 0, tzinfo=UTC).timestamp()


class Clock:
    """A settable clock (seconds since the epoch)."""

    def __init__(self, now: float = START) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


def msads_seed(text: str) -> MsadsSeed:
    """The Microsoft Advertising section of a seed that must have one."""
    msads = parse_seed(text, "seed.yaml").msads
    assert msads is not None, "the seed has no msads section"
    return msads


class Sandbox:
    """The application over an in-memory store, called through the embedded transport."""

    def __init__(self, faults: FaultPlan | None = None, seed: str = SEED) -> None:
        self.clock = Clock()
        self.store = Store(None, clock=self.clock)
        self.store.load(msads_seed(seed))
        self.transport = EmbeddedTransport(self.store, faults)

    def post(
        self,
        path: str,
        json: object = None,
        *,
        headers: Mapping[str, str] | Mapping[bytes, bytes] = AUTH,
        content: bytes | None = None,
        data: Mapping[str, str] | None = None,
        method: str = "POST",
    ) -> httpx.Response:
        async def send() -> httpx.Response:
            async with httpx.AsyncClient(transport=_Borrowed(self.transport), base_url=BASE_URL) as client:
                return await client.request(method, path, json=json, headers=dict(headers), content=content, data=data)

        return asyncio.run(send())

    def search(
        self, customer: str = "100", *more: dict[str, str], size: int = 100, index: int = 0, **fields: object
    ) -> httpx.Response:
        body: dict[str, object] = {
            "Predicates": [{"Field": "CustomerId", "Operator": "Equals", "Value": customer}, *more],
            "PageInfo": {"Index": index, "Size": size},
            **fields,
        }
        return self.post(SEARCH, body)

    def coupons(self, customer: str = "100", *more: dict[str, str], **fields: Any) -> list[dict[str, Any]]:
        """Every page of a search, checked to succeed."""
        found: list[dict[str, Any]] = []
        for index in range(1000):
            response = self.search(customer, *more, index=index, **fields)
            assert response.status_code == 200, response.text
            page = response.json()["Coupons"]
            found += page
            if len(page) < 100:
                return found
        raise AssertionError("too many pages")

    def dispatch(self, emails: list[str], coupon_class: str = "ACQ-10", customer: object = "100") -> httpx.Response:
        return self.post(DISPATCH, {"SendToEmails": emails, "CustomerId": customer, "CouponClassName": coupon_class})

    def distribute(
        self,
        accounts: Sequence[object],
        coupon_class: str = "ACQ-10",
        feature: int | None = 7,
        *,
        customer: str | None = "100",
        headers: Mapping[str, str] = AUTH,
    ) -> httpx.Response:
        """DistributeCoupons with the owner customer in the ``CustomerId`` header (None: no header)."""
        body = {
            "AccountIds": list(accounts),
            "ClassName": coupon_class,
            "FeatureId": feature,
            "SendNotification": False,
        }
        return self.post(DISTRIBUTE, body, headers={**headers, **({"CustomerId": customer} if customer else {})})

    def client(self) -> httpx.AsyncClient:
        """An async client whose requests reach this sandbox in-process (closing it leaves the sandbox open)."""
        return httpx.AsyncClient(transport=_Borrowed(self.transport), base_url=BASE_URL)

    def redeem(self, account: object, code: str) -> httpx.Response:
        return self.post(REDEEM, {"AccountId": account, "CouponCode": code})


class _Borrowed(httpx.AsyncBaseTransport):
    """Lends the sandbox transport to one client without letting the client close it (and the store)."""

    def __init__(self, transport: httpx.AsyncBaseTransport) -> None:
        self._transport = transport

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        return await self._transport.handle_async_request(request)


def pred(field: str, value: str, operator: str = "Equals") -> dict[str, str]:
    return {"Field": field, "Operator": operator, "Value": value}


def codes(response: httpx.Response) -> list[int]:
    """The error codes of a fault body, whatever its Type."""
    body = response.json()
    entries = body.get("Errors") or body.get("OperationErrors") or []
    return [int(e["Code"]) for e in entries]
