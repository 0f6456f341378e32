"""A scripted Microsoft Advertising endpoint for provider tests (httpx.MockTransport), and builders (of providers
on it or on the in-process sandbox, and of plan items)."""

from __future__ import annotations

import json
from collections.abc import Callable, Coroutine, Iterable
from typing import Any

import httpx

from reconciler.config.secrets import Secret
from reconciler.plan.model import PlanItem
from reconciler.providers.http import HttpSettings, RetryPolicy, build_client, limiter_for
from reconciler.providers.msads.provider import MsAdsProvider, MsAdsSettings
from reconciler.providers.oauth import StaticToken, TokenSource
from reconciler.state.desired import Scope, ScopeSpec, Target
from tests.support.sandbox import ALL_TOKEN, DEVELOPER_TOKEN, Sandbox
from tests.support.virtual_time import SteppedTime

BASE = "https://clientcenter.api.bingads.microsoft.com"
OWNER = "251186883"
CLASS = "SPRING27-ACQ-100"
SCOPE = Scope("msads-test", OWNER, CLASS)
SPEC = ScopeSpec(SCOPE, "msads", ("m.yaml",), feature_id=12, send_notification=True)
DEV_TOKEN = "dev-token-SECRET-0123456789"
ACCESS_TOKEN = "access-token-SECRET-abcdefghij"

Reply = httpx.Response | Exception
# What httpx.MockTransport accepts: a plain or an async handler.
Handler = Callable[[httpx.Request], httpx.Response] | Callable[[httpx.Request], Coroutine[None, None, httpx.Response]]


def reply(body: object = None, status: int = 200, *, tracking: str | None = "TRK-1", **headers: str) -> httpx.Response:
    all_headers = {k.replace("_", "-"): v for k, v in headers.items()}
    if tracking is not None:
        all_headers["TrackingId"] = tracking
    if body is None:
        return httpx.Response(status, headers=all_headers)
    return httpx.Response(status, json=body, headers=all_headers)


def fault(fault_type: str, code: int, status: int, *, message: str = "refused", **headers: str) -> httpx.Response:
    key = "Errors" if fault_type == "AdApiFaultDetail" else "OperationErrors"
    entry: dict[str, object] = {"Code": code, "Message": message}
    if key == "Errors":
        entry.update(ErrorCode="E", Detail=None)
    else:
        entry.update(Details=None)
    return reply({"TrackingId": "BODY-TRK", "Type": fault_type, key: [entry]}, status, **headers)


class Script:
    """Replies in order, one per request (the last one repeats); records every request."""

    def __init__(self, *replies: Reply) -> None:
        self.replies = list(replies)
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        index = min(len(self.requests), len(self.replies)) - 1
        answer = self.replies[index]
        if isinstance(answer, Exception):
            raise answer
        return answer

    def bodies(self) -> list[Any]:
        return [json.loads(r.content) for r in self.requests]


class SearchPages:
    """SearchCoupons over a list of coupons, honouring PageInfo; records every request."""

    def __init__(self, coupons: list[dict[str, object]]) -> None:
        self.coupons = coupons
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        page = json.loads(request.content)["PageInfo"]
        start = page["Index"] * page["Size"]
        return reply({"Coupons": self.coupons[start : start + page["Size"]]})

    def indexes(self) -> list[int]:
        return sorted(json.loads(r.content)["PageInfo"]["Index"] for r in self.requests)


def coupon(
    code: str,
    *,
    email: str | None = None,
    claimed_by: int | str | None = None,
    redeemed_by: int | str | None = None,
    amount: float = 100.0,
    currency: str = "USD",
    coupon_type: str = "Acquisition",
    class_name: str = CLASS,
) -> dict[str, object]:
    """A Coupon as the service emits it: every property present (null when nil), ClaimInfo only if set."""
    body: dict[str, object] = {
        "CouponCode": code,
        "ClassName": class_name,
        "CouponType": coupon_type,
        "Amount": amount,
        "SpendThreshold": 0.0,
        "CurrencyCode": currency,
        "PercentOff": None,
        "ActiveDuration": 90,
        "ExpirationDate": "2027-12-31T00:00:00",
        "StartDate": "2027-01-01T00:00:00",
        "EndDate": "2027-06-30T00:00:00",
        "SendToEmail": email,
        "SendToDate": "2027-02-01T10:00:00" if email else None,
        "IsRedeemed": redeemed_by is not None,
        "RedemptionInfo": None,
    }
    if redeemed_by is not None:
        body["RedemptionInfo"] = {
            "AccountId": redeemed_by,
            "AccountNumber": "X1",
            "SpendToThreshold": 0.0,
            "Balance": amount,
            "CurrencyCode": currency,
            "RedemptionDate": "2027-02-03T00:00:00",
            "ExpirationDate": "2027-12-31T00:00:00",
            "ActivationDate": None,
        }
    if claimed_by is not None:
        body["ClaimInfo"] = {"AccountId": claimed_by, "AccountNumber": "X1", "ClaimDate": "2027-02-02T00:00:00"}
    return body


class Sleeps:
    """A fake asyncio.sleep that records the waits and returns at once."""

    def __init__(self) -> None:
        self.waits: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.waits.append(seconds)


FAST_READS = RetryPolicy(attempts=4, base_delay=0.0, max_delay=0.0, max_retry_after=120.0)
FAST_ISSUES = RetryPolicy(attempts=3, base_delay=0.0, max_delay=0.0, max_retry_after=120.0)


def make_provider(
    handler: Handler,
    *,
    settings: MsAdsSettings | None = None,
    tokens: TokenSource | None = None,
    sleeps: Sleeps | None = None,
    client: httpx.AsyncClient | None = None,
) -> MsAdsProvider:
    http = HttpSettings(requests_per_second=0)
    pacing = SteppedTime()  # the limiter's pauses (after a throttle) pass at once
    return MsAdsProvider(
        name="msads-test",
        client=client
        or build_client(
            base_url=BASE, user_agent="couponctl/test", settings=http, transport=httpx.MockTransport(handler)
        ),
        developer_token=Secret(DEV_TOKEN),
        tokens=tokens or StaticToken(Secret(ACCESS_TOKEN)),
        limiter=limiter_for(http, clock=pacing.clock, sleep=pacing.sleep),
        settings=settings or MsAdsSettings(read_retry=FAST_READS, issue_retry=FAST_ISSUES),
        sleep=sleeps or Sleeps(),
    )


def sandbox_provider(sandbox: Sandbox, *, token: str = ALL_TOKEN, customer_id: str | None = None) -> MsAdsProvider:
    """A provider whose requests reach the sandbox in-process; ``customer_id`` is its configured manager customer."""
    return MsAdsProvider(
        name="msads-test",
        client=sandbox.client(),
        developer_token=Secret(DEVELOPER_TOKEN),
        tokens=StaticToken(Secret(token)),
        limiter=limiter_for(HttpSettings(requests_per_second=0)),
        settings=MsAdsSettings(customer_id=customer_id, read_retry=FAST_READS, issue_retry=FAST_ISSUES),
        sleep=Sleeps(),
    )


def emails(count: int, start: int = 0) -> list[PlanItem]:
    return [PlanItem(Target.email(f"user{i}@example.com"), "m.yaml") for i in range(start, start + count)]


def accounts(ids: Iterable[int]) -> list[PlanItem]:
    return [PlanItem(Target.account(i), "m.yaml") for i in ids]
