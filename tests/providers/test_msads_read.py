"""SearchCoupons through MockTransport: exact requests, paging, retries, and the live state it yields."""

from __future__ import annotations

import asyncio
import json
from dataclasses import replace
from datetime import UTC, date, datetime
from decimal import Decimal

import httpx
import pytest

from reconciler.errors import ApiFaultError, AuthError, OutcomeUnknownError, ProviderError, ThrottledError
from reconciler.providers.msads.provider import MsAdsSettings, coupon_status
from reconciler.providers.msads.wire import WireCoupon, parse_coupon
from reconciler.state.desired import Scope, Target
from reconciler.state.live import FaceValue, IssuedCoupon, ScopeLive
from tests.support.msads_fakes import (
    ACCESS_TOKEN,
    CLASS,
    DEV_TOKEN,
    FAST_READS,
    OWNER,
    SPEC,
    Script,
    SearchPages,
    Sleeps,
    coupon,
    fault,
    make_provider,
    reply,
)
from tests.support.provider_calls import read_scope_once


def read(
    handler: Script | SearchPages, *, settings: MsAdsSettings | None = None, sleeps: Sleeps | None = None
) -> ScopeLive:
    provider = make_provider(handler, settings=settings, sleeps=sleeps)
    return read_scope_once(provider, SPEC)


def test_search_request_is_exact() -> None:
    script = Script(reply({"Coupons": []}, tracking="T-9"))
    read(script)
    (request,) = script.requests
    assert request.method == "POST"
    assert str(request.url) == "https://clientcenter.api.bingads.microsoft.com/CustomerBilling/v13/Coupons/Search"
    assert json.loads(request.content) == {
        "Predicates": [
            {"Field": "CustomerId", "Operator": "Equals", "Value": OWNER},
            {"Field": "CouponClassName", "Operator": "Equals", "Value": CLASS},
        ],
        "Ordering": [{"Field": "CouponStartDate", "Order": "Ascending"}],
        "PageInfo": {"Index": 0, "Size": 100},
        "ReturnAdditionalFields": "CouponClaimInfo",
    }
    headers = request.headers
    assert headers["Authorization"] == f"Bearer {ACCESS_TOKEN}"
    assert headers["DeveloperToken"] == DEV_TOKEN
    assert headers["Content-Type"] == "application/json"
    assert headers["Accept"] == "application/json"
    assert headers["User-Agent"] == "couponctl/test"
    assert "CustomerId" not in headers
    assert "CustomerAccountId" not in headers


def test_customer_headers_are_sent_when_configured() -> None:
    script = Script(reply({"Coupons": []}))
    settings = MsAdsSettings(customer_id="111", customer_account_id="222", read_retry=FAST_READS)
    read(script, settings=settings)
    assert script.requests[0].headers["CustomerId"] == "111"
    assert script.requests[0].headers["CustomerAccountId"] == "222"


def test_no_coupon_means_the_class_does_not_exist() -> None:
    live = read(Script(reply({"Coupons": []})))
    assert live.exists is False
    assert live.issued == {}
    assert live.available == 0
    assert live.face_value is None
    assert live.api_calls == 1


@pytest.mark.parametrize(
    ("total", "pages"),
    [(0, [0]), (99, [0]), (100, [0, 1, 2]), (250, [0, 1, 2]), (700, [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10])],
)
def test_paging_stops_at_the_first_short_page(total: int, pages: list[int]) -> None:
    """Windows of 1, 2, 4, 4 … pages: a short page ends it; pages of the same window after it are dropped."""
    server = SearchPages([coupon(f"C{i:05d}") for i in range(total)])
    live = read(server)
    assert server.indexes() == pages
    assert live.coupons_read == total
    assert live.available == total
    assert live.api_calls == len(pages)
    assert all(json.loads(r.content)["PageInfo"]["Size"] == 100 for r in server.requests)


def test_search_window_one_fetches_page_by_page() -> None:
    server = SearchPages([coupon(f"C{i:05d}") for i in range(300)])
    read(server, settings=MsAdsSettings(search_window=1, read_retry=FAST_READS))
    assert [json.loads(r.content)["PageInfo"]["Index"] for r in server.requests] == [0, 1, 2, 3]


def test_a_coupon_seen_on_two_pages_counts_once() -> None:
    first = [coupon(f"C{i:03d}") for i in range(100)]
    second = [coupon("C099"), coupon("C100")]
    script = Script(reply({"Coupons": first}), reply({"Coupons": second}), reply({"Coupons": []}))
    live = read(script, settings=MsAdsSettings(search_window=1, read_retry=FAST_READS))
    assert live.available == 101


def test_targets_statuses_and_inventory() -> None:
    coupons = [
        coupon("A1"),
        coupon("A2"),
        coupon("D1", email="Owner@Example.com"),
        coupon("C1", claimed_by="180535609"),
        coupon("R1", claimed_by=180535610, redeemed_by="180535610"),
        coupon("X1", email="x@example.com", claimed_by=7, redeemed_by=8),
        coupon("D2", email="owner@example.com"),
    ]
    live = read(Script(reply({"Coupons": coupons})))
    assert live.exists is True
    assert live.available == 2
    assert live.coupons_read == 7
    owner = Target.email("owner@example.com")
    assert [(c.code, c.status) for c in live.issued[owner]] == [("D1", "dispatched"), ("D2", "dispatched")]
    assert live.issued[owner][0].issued_at == "2027-02-01T10:00:00"
    (claimed,) = live.issued[Target.account(180535609)]
    assert (claimed.code, claimed.status, claimed.issued_at) == ("C1", "claimed", "2027-02-02T00:00:00")
    assert claimed.amount == Decimal(100) and claimed.currency == "USD"
    assert [c.status for c in live.issued[Target.account(180535610)]] == ["redeemed"]
    # One coupon, three holders: the email it went to, the account that claimed it, the one that redeemed it.
    for target in (Target.email("x@example.com"), Target.account(7), Target.account(8)):
        assert [c.code for c in live.issued[target]] == ["X1"]
    assert len(live.issued) == 6


def test_redeemed_without_redemption_info_is_neither_held_nor_available() -> None:
    hidden = coupon("H1")
    hidden["IsRedeemed"] = True
    live = read(Script(reply({"Coupons": [hidden, coupon("A1")]})))
    assert live.issued == {}
    assert live.available == 1


def test_face_value_is_the_most_common() -> None:
    coupons = [
        coupon("A", amount=50.0),
        coupon("B", amount=100.0),
        coupon("C", amount=100.0),
        coupon("D", amount=25.5, currency="EUR"),
    ]
    live = read(Script(reply({"Coupons": coupons})))
    assert live.face_value == FaceValue(Decimal(100), "USD", "Acquisition")
    assert str(live.face_value.amount) == "100"


def test_coupons_of_another_class_are_ignored() -> None:
    live = read(Script(reply({"Coupons": [coupon("A"), coupon("B", class_name="OTHER", email="o@example.com")]})))
    assert live.issued == {}
    assert live.available == 1
    assert live.coupons_read == 2


@pytest.mark.parametrize(
    "failure",
    [
        fault("AdApiFaultDetail", 0, 500),
        fault("AdApiFaultDetail", 117, 429, Retry_After="3"),
        httpx.ReadTimeout("timed out"),
        httpx.ConnectError("refused"),
        httpx.RemoteProtocolError("dropped"),
    ],
    ids=["500", "429", "read-timeout", "connect-error", "remote-protocol-error"],
)
def test_search_retries_transient_failures(failure: httpx.Response | Exception) -> None:
    sleeps = Sleeps()
    script = Script(failure, failure, reply({"Coupons": [coupon("A")]}))
    live = read(script, sleeps=sleeps)
    assert live.available == 1
    assert len(script.requests) == 3
    assert len(sleeps.waits) == 2


def test_search_throttle_waits_retry_after() -> None:
    sleeps = Sleeps()
    read(Script(fault("AdApiFaultDetail", 117, 429, Retry_After="7"), reply({"Coupons": []})), sleeps=sleeps)
    assert sleeps.waits == [7.0]


def test_search_gives_up_after_bounded_attempts() -> None:
    script = Script(fault("AdApiFaultDetail", 0, 500))
    with pytest.raises(OutcomeUnknownError) as caught:
        read(script)
    assert len(script.requests) == FAST_READS.attempts
    assert caught.value.tracking_id == "TRK-1"
    assert caught.value.status == 500


@pytest.mark.parametrize(
    ("failure", "error"),
    [
        (fault("ApiFault", 3030, 400), ApiFaultError),
        (fault("ApiFault", 1001, 403), ApiFaultError),
        (fault("AdApiFaultDetail", 105, 401), AuthError),
    ],
)
def test_search_does_not_retry_rejections(failure: httpx.Response, error: type[ProviderError]) -> None:
    script = Script(failure, reply({"Coupons": []}))
    with pytest.raises(error):
        read(script)
    assert len(script.requests) == 1


def test_search_throttle_longer_than_the_limit_is_raised() -> None:
    script = Script(fault("AdApiFaultDetail", 117, 429, Retry_After="3600"), reply({"Coupons": []}))
    with pytest.raises(ThrottledError) as caught:
        read(script)
    assert caught.value.retry_after == 3600
    assert len(script.requests) == 1


def test_search_ids_as_numbers_or_strings() -> None:
    live = read(Script(reply({"Coupons": [coupon("A", claimed_by=5), coupon("B", claimed_by="6")]})))
    assert set(live.issued) == {Target.account(5), Target.account(6)}


def test_a_dispatched_coupon_past_its_end_date_is_expired_but_still_held() -> None:
    def coupon(end: str | None, redeemed: bool = False) -> WireCoupon:
        return parse_coupon(
            {
                "CouponCode": "C1",
                "ClassName": "K",
                "SendToEmail": "a@example.com",
                "SendToDate": "2026-01-01T00:00:00",
                "IsRedeemed": redeemed,
                "EndDate": end,
            }
        )

    today = date(2027, 7, 1)
    assert coupon_status(coupon("2027-06-30T00:00:00"), today) == "expired"
    assert coupon_status(coupon("2027-07-01T00:00:00"), today) == "dispatched"
    assert coupon_status(coupon(None), today) == "dispatched"
    assert coupon_status(coupon("2027-06-30T00:00:00", redeemed=True), today) == "redeemed"


def test_scopes_read_together_share_the_window_and_waste_no_call() -> None:
    """Three 650-coupon classes (7 pages each) read at once with a window of 3: one page at a time per class while
    all three are open, so 21 calls, the minimum (alone, each would fetch 0 | 1-2 | 3-5 | 6-8: 2 wasted)."""
    classes = {f"K{n}": [coupon(f"K{n}-{i:04d}", class_name=f"K{n}") for i in range(650)] for n in range(3)}
    requests: list[dict[str, object]] = []

    async def serve(request: httpx.Request) -> httpx.Response:
        body = json.loads(request.content)
        requests.append(body)
        await asyncio.sleep(0)  # let the other walks run, as a network would
        name = next(p["Value"] for p in body["Predicates"] if p["Field"] == "CouponClassName")
        start = body["PageInfo"]["Index"] * body["PageInfo"]["Size"]
        return reply({"Coupons": classes[name][start : start + body["PageInfo"]["Size"]]})

    provider = make_provider(serve, settings=MsAdsSettings(search_window=3, read_retry=FAST_READS))
    specs = [replace(SPEC, scope=Scope(SPEC.scope.provider, SPEC.scope.owner, name)) for name in classes]

    async def read_all() -> list[ScopeLive]:
        try:
            return list(await asyncio.gather(*(provider.read_scope(spec) for spec in specs)))
        finally:
            await provider.aclose()

    lives = asyncio.run(read_all())
    assert [live.coupons_read for live in lives] == [650, 650, 650]
    assert len(requests) == 21

    alone = make_provider(serve, settings=MsAdsSettings(search_window=3, read_retry=FAST_READS))
    requests.clear()
    asyncio.run(alone.read_scope(specs[0]))
    assert len(requests) == 9  # a walk on its own uses the whole window, and may overshoot


def test_a_coupon_is_dated_by_send_to_date_or_claim_date_and_paid_only_to_whom_it_was_issued() -> None:
    dispatched = coupon("D1", email="ana@example.com")
    dispatched["SendToDate"] = "2027-02-01T10:00:00.1234567Z"  # more digits than Python reads: cut, never rounded up
    redeemed_elsewhere = coupon("X1", email="bo@example.com", redeemed_by=8)
    claimed = coupon("C1", claimed_by=7)
    naive = coupon("N1", email="cy@example.com")
    naive["SendToDate"] = "2027-02-03"  # a bare date: its midnight, UTC
    unreadable = coupon("U1", email="di@example.com")
    unreadable["SendToDate"] = "first of February"
    redeemed_only = coupon("R1", redeemed_by=9)  # a code redeemed with no dispatch or claim behind it
    live = read(Script(reply({"Coupons": [dispatched, redeemed_elsewhere, claimed, naive, unreadable, redeemed_only]})))

    def only(target: Target) -> IssuedCoupon:
        (held,) = live.issued[target]
        return held

    assert only(Target.email("ana@example.com")).issue_date == datetime(2027, 2, 1, 10, 0, 0, 123456, tzinfo=UTC)
    assert only(Target.account(7)).issue_date == datetime(2027, 2, 2, tzinfo=UTC)  # ClaimInfo.ClaimDate
    assert only(Target.email("cy@example.com")).issue_date == datetime(2027, 2, 3, tzinfo=UTC)
    assert only(Target.email("di@example.com")).issue_date is None
    # a redemption date dates a redemption: the redeemed-only coupon holds no issue date, but its redeemer got it
    assert only(Target.account(9)).issue_date is None and only(Target.account(9)).received
    # account 8 redeemed a coupon emailed to bo: it holds it, but was not paid it
    assert only(Target.email("bo@example.com")).received and not only(Target.account(8)).received
    assert only(Target.account(7)).received
