"""A scripted ResellerTrade gateway for provider tests (httpx.MockTransport), a request verifier, and builders."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any
from urllib.parse import parse_qsl

import httpx

from reconciler.config.secrets import Secret
from reconciler.plan.model import PlanItem
from reconciler.providers.aliyun.provider import AliyunProvider, AliyunSettings
from reconciler.providers.http import HttpSettings, RetryPolicy, build_client, limiter_for
from reconciler.signing import acs
from reconciler.state.desired import Scope, ScopeSpec, Target
from tests.support.virtual_time import SteppedTime

BASE = "https://resellertrade.aliyuncs.com"
SELLER = "3944837183"
TEMPLATE = "295873"
SCOPE = Scope("aliyun-test", SELLER, TEMPLATE)
SPEC = ScopeSpec(SCOPE, "aliyun", ("reseller-q1",))
KEY_ID = "LTAI-test-key-id"
SECRET = "ak-secret-SECRET-0123456789"
TOKEN = "sts-token-SECRET-abcdefghij"
CREDENTIALS = acs.AcsCredentials(KEY_ID, Secret(SECRET))
STS = acs.AcsCredentials(KEY_ID, Secret(SECRET), Secret(TOKEN))
NOW = datetime(2026, 6, 1, 12, 0, 0, tzinfo=UTC)

Reply = httpx.Response | Exception
Handler = Callable[[httpx.Request], httpx.Response]

FAST_READS = RetryPolicy(attempts=4, base_delay=0.0, max_delay=0.0, max_retry_after=120.0)
FAST_ISSUES = RetryPolicy(attempts=3, base_delay=0.0, max_delay=0.0, max_retry_after=120.0)


def envelope(data: object = None, *, success: bool = True, code: str = "success", **extra: object) -> dict[str, Any]:
    count = len(data) if isinstance(data, list) else None
    body: dict[str, Any] = {
        "Code": code,
        "Message": "success" if success else "refused",
        "RequestId": "GW-REQ-1",
        "Success": success,
        "Data": data,
        "Count": count,
        "TotalCount": count,
        "ContextMap": {},
    }
    return {**body, **extra}


def reply(body: object = None, status: int = 200, **headers: str) -> httpx.Response:
    all_headers = {k.replace("_", "-"): v for k, v in headers.items()}
    if body is None:
        return httpx.Response(status, headers=all_headers)
    return httpx.Response(status, json=body, headers=all_headers)


def gateway_error(code: str, status: int, message: str = "refused", **headers: str) -> httpx.Response:
    body = {
        "RequestId": "GW-ERR-1",
        "HostId": "resellertrade.aliyuncs.com",
        "Code": code,
        "Message": message,
        "Recommend": f"https://api.aliyun.com/troubleshoot?q={code}",
    }
    return reply(body, status, **headers)


def sent(*uids: str, amount: float = 100.0) -> httpx.Response:
    """A SendCoupon success listing ``uids``."""
    data = [{"Amount": amount, "Uid": int(u), "UserId": int(u), "YouhuiId": 70000000 + i} for i, u in enumerate(uids)]
    return reply(envelope(data))


class Script:
    """Replies in order, one per request (the last one repeats); records every request."""

    def __init__(self, *replies: Reply) -> None:
        self.replies = list(replies)
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        answer = self.replies[min(len(self.requests), len(self.replies)) - 1]
        if isinstance(answer, Exception):
            raise answer
        return answer


def form(request: httpx.Request) -> dict[str, str]:
    return dict(parse_qsl(request.content.decode(), keep_blank_values=True))


def query(request: httpx.Request) -> dict[str, str]:
    return dict(request.url.params)


def coupon(
    coupon_id: int,
    uid: int,
    *,
    status: str = "AVAILABLE",
    amount: float = 100.0,
    template: str = TEMPLATE,
    seller: str = SELLER,
) -> dict[str, object]:
    """A GetCouponPage item as the SDK model has it."""
    return {
        "Amount": amount,
        "CertainMoney": 0.0,
        "CouponId": coupon_id,
        "CouponType": "VOUCHER",
        "Currency": {"CurrencyCode": "CNY"},
        "Description": "",
        "DiscountRate": None,
        "EndTime": "2026-09-01 00:00:00",
        "FrozenAmount": 0.0,
        "FrozenCount": 0,
        "PromotionId": 1,
        "SellerId": int(seller),
        "StartTime": "2026-06-01 20:00:00",
        "Status": status,
        "TemplateId": int(template),
        "UniversalType": "UNIVERSAL",
        "UpperLimit": None,
        "UsageCount": 1,
        "UsedAmount": 0.0,
        "UsedCount": 0,
        "UserId": uid,
    }


class Pages:
    """GetCouponPage over a list of coupons, honouring PageNo / PageSize; records every request."""

    def __init__(self, coupons: list[dict[str, object]], *, total: bool = True) -> None:
        self.coupons = coupons
        self.total = total
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        params = query(request)
        size = int(params["PageSize"])
        start = (int(params["PageNo"]) - 1) * size
        body = envelope(self.coupons[start : start + size])
        body["TotalCount"] = len(self.coupons) if self.total else None
        return reply(body)

    def page_numbers(self) -> list[int]:
        return sorted(int(query(r)["PageNo"]) for r in self.requests)


class Sleeps:
    """A fake asyncio.sleep that records the waits and returns at once."""

    def __init__(self) -> None:
        self.waits: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.waits.append(seconds)


def counter(prefix: str) -> Callable[[], str]:
    numbers: Iterator[int] = iter(range(1, 1_000_000))
    return lambda: f"{prefix}-{next(numbers)}"


def make_provider(
    handler: Handler,
    *,
    settings: AliyunSettings | None = None,
    credentials: acs.AcsCredentials = CREDENTIALS,
    sleeps: Sleeps | None = None,
    deterministic: bool = True,
) -> AliyunProvider:
    http = HttpSettings(requests_per_second=0)
    pacing = SteppedTime()  # the limiter's pauses (after a throttle) pass at once
    extra: dict[str, Any] = {}
    if deterministic:
        extra = {"clock": lambda: NOW, "nonce": counter("nonce"), "request_id": counter("req")}
    return AliyunProvider(
        name="aliyun-test",
        client=build_client(
            base_url=BASE, user_agent="couponctl/test", settings=http, transport=httpx.MockTransport(handler)
        ),
        credentials=credentials,
        limiter=limiter_for(http, clock=pacing.clock, sleep=pacing.sleep),
        settings=settings or AliyunSettings(read_retry=FAST_READS, issue_retry=FAST_ISSUES),
        sleep=sleeps or Sleeps(),
        **extra,
    )


def uids(*values: int, amount: str = "100") -> list[PlanItem]:
    return [PlanItem(Target.uid(v), "reseller-q1", Decimal(amount)) for v in values]


# --- verifying what the provider signed, with the same primitives the sandbox uses ---------------------------


def v3_valid(request: httpx.Request, secret: str = SECRET) -> bool:
    """Whether the request's Authorization is the V3 signature of what it carries."""
    parsed = acs.parse_v3_authorization(request.headers["Authorization"])
    assert parsed is not None
    canonical = acs.v3_canonical_request(
        request.method,
        request.url.path,
        query(request),
        request.headers.items(),
        parsed.signed_headers,
        acs.sha256_hex(request.content),
    )
    return parsed.signature == acs.v3_signature(secret, acs.v3_string_to_sign(canonical))


def v1_valid(request: httpx.Request, secret: str = SECRET) -> bool:
    params = {**form(request), **query(request)}
    return params["Signature"] == acs.v1_signature(secret, request.method, params)
