"""What the provider contract tests need of a vendor: a scripted endpoint, a provider on it, and the vendor's own
words for a success, a throttle and a batch of items. One adapter per vendor; the behaviour every provider owes
(tests/providers/test_contract.py) is written once against this."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import httpx

from reconciler.apply.lock import LeaseLostError
from reconciler.providers.aliyun.provider import AliyunSettings
from reconciler.providers.base import NO_FENCE, Batch, BatchResult, Fence, Provider
from reconciler.providers.http import RetryPolicy
from reconciler.providers.msads.provider import MsAdsSettings
from reconciler.state.live import ScopeLive
from tests.support import aliyun_fakes as ali
from tests.support import msads_fakes as ms

Reply = httpx.Response | Exception


@dataclass(frozen=True)
class VendorAdapter:
    """One vendor, as the contract tests drive it.

    ``script`` makes its scripted endpoint from replies (it keeps the requests it received); ``provider`` builds
    its provider on one, with a recording sleep; ``batch`` is ``n`` items of its issuing operation; ``issued`` the
    answer that issues every item of a batch of ``n``; ``throttled`` its throttle answer, announcing a wait of
    ``retry_after_s`` in its own header when given; ``announced_wait`` a throttle announcing a wait and the seconds
    it means; ``throttled_5xx`` a server error whose body says throttling; ``throttle_code`` the code a throttled
    item is failed with; ``error_tracking_id`` the vendor's id for a refused call, ``request_id`` the id couponctl
    gave the call (None when the vendor takes none); ``stuck_page`` a full page that a read given ``page_by_page``
    settings gets again and again, ``malformed_page`` a page it cannot read, ``malformed_says`` what its error says.
    """

    name: str
    script: Callable[..., Any]
    provider: Callable[[Any, Any, Any], Provider]
    spec: object
    batch: Callable[[int], Batch]
    issued: Callable[[int], httpx.Response]
    throttled: Callable[[float | None], httpx.Response]
    throttled_5xx: Callable[[int], httpx.Response]
    announced_wait: tuple[httpx.Response, float]
    throttle_code: str
    error_tracking_id: str
    request_id: str | None
    issue_retry: RetryPolicy
    stuck_page: httpx.Response
    page_by_page: object
    malformed_page: httpx.Response
    malformed_says: str

    def issue(self, script: Any, batch: Batch, *, sleeps: Any = None, fence: Fence | None = None) -> BatchResult:
        provider = self.provider(script, sleeps, None)

        async def run() -> BatchResult:
            try:
                return await provider.issue(self.spec, batch, fence or NO_FENCE)  # type: ignore[arg-type]
            finally:
                await provider.aclose()

        return asyncio.run(run())

    def read(self, script: Any, *, settings: object = None) -> ScopeLive:
        provider = self.provider(script, None, settings)

        async def run() -> ScopeLive:
            try:
                return await provider.read_scope(self.spec)  # type: ignore[arg-type]
            finally:
                await provider.aclose()

        return asyncio.run(run())


def _msads_throttled(retry_after_s: float | None) -> httpx.Response:
    headers = {} if retry_after_s is None else {"Retry_After": f"{retry_after_s:g}"}
    return ms.fault("AdApiFaultDetail", 117, 429, **headers)


def _aliyun_throttled(retry_after_s: float | None) -> httpx.Response:
    headers = {} if retry_after_s is None else {"x_acs_retry_after": f"{retry_after_s * 1000:g}"}
    return ali.gateway_error("Throttling.User", 400, "Request was denied due to user flow control.", **headers)


# Each of the gateway's throttling codes, in a server error.
_ALIYUN_5XX_THROTTLES = {500: "Throttling.User", 502: "Throttling.Api", 503: "Throttling"}

MSADS = VendorAdapter(
    name="msads",
    script=ms.Script,
    provider=lambda script, sleeps, settings: ms.make_provider(script, sleeps=sleeps, settings=settings),
    spec=ms.SPEC,
    batch=lambda n: Batch(ms.SCOPE, "DispatchCoupons", tuple(ms.emails(n))),
    issued=lambda n: ms.reply({"PartialErrors": []}),
    throttled=_msads_throttled,
    throttled_5xx=lambda status: ms.fault("AdApiFaultDetail", 117, status, Retry_After="1"),
    announced_wait=(ms.fault("AdApiFaultDetail", 117, 429, Retry_After="12"), 12.0),  # Retry-After: seconds
    throttle_code="117",
    error_tracking_id="TRK-1",
    request_id=None,
    issue_retry=ms.FAST_ISSUES,
    stuck_page=ms.reply({"Coupons": [ms.coupon(f"C{i:03d}") for i in range(100)]}),
    page_by_page=MsAdsSettings(search_window=1, read_retry=ms.FAST_READS),
    malformed_page=ms.reply({"Coupons": "nope"}),
    malformed_says="malformed SearchCoupons response",
)

ALIYUN = VendorAdapter(
    name="aliyun",
    script=ali.Script,
    provider=lambda script, sleeps, settings: ali.make_provider(script, sleeps=sleeps, settings=settings),
    spec=ali.SPEC,
    batch=lambda n: Batch(ali.SCOPE, "SendCoupon", tuple(ali.uids(*range(1, n + 1)))),
    issued=lambda n: ali.sent(*(str(uid) for uid in range(1, n + 1))),
    throttled=_aliyun_throttled,
    throttled_5xx=lambda status: ali.gateway_error(_ALIYUN_5XX_THROTTLES[status], status),
    announced_wait=(ali.gateway_error("Throttling.Api", 400, x_acs_retry_after="2500"), 2.5),  # milliseconds
    throttle_code="Throttling.User",
    error_tracking_id="GW-ERR-1",
    request_id="req-1",
    issue_retry=ali.FAST_ISSUES,
    stuck_page=ali.reply(ali.envelope([ali.coupon(1, 11), ali.coupon(2, 12)], TotalCount=None)),
    page_by_page=AliyunSettings(page_size=2, read_window=2, read_retry=ali.FAST_READS, signature="v3"),
    malformed_page=ali.reply(ali.envelope([{"UserId": 1}])),
    malformed_says="malformed GetCouponPage",
)

VENDORS = (MSADS, ALIYUN)


class RecordingFence:
    """Notes how many requests had reached the vendor each time it was awaited; refuses from ``refuse_at`` on."""

    def __init__(self, seen: Callable[[], int], refuse_at: int | None = None) -> None:
        self.seen = seen
        self.refuse_at = refuse_at
        self.calls: list[int] = []
        self.fresh_checks = 0

    async def __call__(self) -> None:
        self.calls.append(self.seen())
        if self.refuse_at is not None and len(self.calls) >= self.refuse_at:
            raise LeaseLostError("lease taken over")

    async def still_fresh(self) -> None:
        self.fresh_checks += 1
