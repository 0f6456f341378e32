"""GetCouponPage through MockTransport: the exact signed GET, paging by PageNo / PageSize / TotalCount, live state
(every status counts as issued, amounts kept), retries, and the wire helpers the read relies on."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime
from decimal import Decimal

import httpx
import pytest

from reconciler.errors import (
    ApiFaultError,
    AuthError,
    MalformedResponse,
    OutcomeUnknownError,
    ProviderError,
    ThrottledError,
)
from reconciler.providers.aliyun import wire
from reconciler.providers.aliyun.provider import AliyunSettings, live_from_coupons
from reconciler.signing.acs import EMPTY_SHA256
from reconciler.state.desired import Target
from reconciler.state.live import ScopeLive
from tests.support.aliyun_fakes import (
    FAST_READS,
    KEY_ID,
    SCOPE,
    SECRET,
    SELLER,
    SPEC,
    TEMPLATE,
    Pages,
    Script,
    Sleeps,
    coupon,
    envelope,
    gateway_error,
    make_provider,
    query,
    reply,
    v1_valid,
    v3_valid,
)
from tests.support.provider_calls import read_scope_once


def read(handler: Script | Pages, settings: AliyunSettings | None = None, sleeps: Sleeps | None = None) -> ScopeLive:
    provider = make_provider(handler, settings=settings, sleeps=sleeps)
    return read_scope_once(provider, SPEC)


def small(page_size: int = 2, window: int = 2, signature: str = "v3") -> AliyunSettings:
    return AliyunSettings(page_size=page_size, read_window=window, read_retry=FAST_READS, signature=signature)


def test_get_coupon_page_is_a_signed_get_with_query_parameters() -> None:
    pages = Pages([])
    live = read(pages)
    (request,) = pages.requests
    assert request.method == "GET" and request.content == b""
    assert query(request) == {
        "SellerId": SELLER,
        "TemplateId": TEMPLATE,
        "PageNo": "1",
        "PageSize": "50",
        "RequestId": "req-1",
        "FromApp": "couponctl",
    }
    assert request.headers["x-acs-action"] == "GetCouponPage"
    assert request.headers["x-acs-content-sha256"] == EMPTY_SHA256
    assert "content-type" not in request.headers and v3_valid(request)
    assert live == ScopeLive(SCOPE, True, None, None, {}, coupons_read=0, api_calls=1, currency="CNY")


def test_v1_signs_a_get_in_the_query() -> None:
    pages = Pages([])
    read(pages, settings=small(signature="v1"))
    request = pages.requests[0]
    assert query(request)["Action"] == "GetCouponPage" and v1_valid(request)


def test_uids_are_flattened_when_asked_for() -> None:
    params = wire.get_coupon_page_params(SELLER, TEMPLATE, 2, 50, request_id="r", from_app="a", uids=["7", "8"])
    assert params == {
        "SellerId": SELLER,
        "TemplateId": TEMPLATE,
        "Uids.1": "7",
        "Uids.2": "8",
        "PageNo": "2",
        "PageSize": "50",
        "RequestId": "r",
        "FromApp": "a",
    }
    assert "TemplateId" not in wire.get_coupon_page_params(SELLER, None, 1, 50, request_id="r", from_app="a")


def test_every_status_counts_as_issued_and_shows_with_its_amount() -> None:
    coupons = [
        coupon(1, 11, status="AVAILABLE"),
        coupon(2, 12, status="EXHAUSTED"),
        coupon(3, 13, status="ABANDONED", amount=50.0),
        coupon(4, 14, status="EXPIRED"),
        coupon(5, 11, status="AVAILABLE"),
    ]
    live = read(Pages(coupons))
    assert set(live.issued) == {Target.uid(u) for u in (11, 12, 13, 14)}
    assert [c.status for c in live.issued[Target.uid(13)]] == ["ABANDONED"]
    assert live.issued[Target.uid(13)][0].amount == Decimal(50)
    assert [c.code for c in live.issued[Target.uid(11)]] == ["1", "5"]  # paid twice: both shown
    held = live.issued[Target.uid(12)][0]
    assert (held.status, held.amount, held.currency, held.issued_at) == (
        "EXHAUSTED",
        Decimal(100),
        "CNY",
        "2026-06-01 20:00:00",
    )
    assert live.face_value is None and live.currency == "CNY"
    assert live.available is None and live.exists is True and live.coupons_read == 5


def test_no_face_value_is_guessed_from_the_amounts_issued() -> None:
    """Each uid's coupon has its own amount and no call reads a template: not even a majority makes a face value."""
    amounts = [150.0, 200.0, 200.0, 200.0]
    live = live_from_coupons(SCOPE, [wire.parse_coupon(coupon(i, 10 + i, amount=a)) for i, a in enumerate(amounts)])
    assert live.face_value is None
    assert sorted(c.amount or 0 for held in live.issued.values() for c in held) == [150, 200, 200, 200]


def test_the_scope_currency_is_the_one_its_coupons_report_else_cny() -> None:
    usd = {**coupon(1, 11), "Currency": {"CurrencyCode": "USD"}}
    unreported = {**coupon(2, 12), "Currency": None}
    assert live_from_coupons(SCOPE, [wire.parse_coupon(c) for c in (usd, unreported)]).currency == "USD"
    assert live_from_coupons(SCOPE, []).currency == "CNY"
    assert live_from_coupons(SCOPE, [wire.parse_coupon(unreported)]).currency == "CNY"


def test_coupons_of_another_template_or_seller_are_left_out() -> None:
    coupons = [coupon(1, 11), coupon(2, 12, template="1"), coupon(3, 13, seller="9")]
    live = live_from_coupons(SCOPE, [wire.parse_coupon(c) for c in coupons])
    assert set(live.issued) == {Target.uid(11)}


def test_pages_follow_total_count_a_window_at_a_time() -> None:
    pages = Pages([coupon(i, 100 + i) for i in range(1, 10)])  # 9 coupons, pages of 2: 5 pages
    live = read(pages, settings=small())
    assert pages.page_numbers() == [1, 2, 3, 4, 5]
    assert len(live.issued) == 9 and live.api_calls == 5


def test_every_page_carries_from_app_and_its_own_random_request_id() -> None:
    """The GetCouponPage doc marks RequestId and FromApp required: each call sends both, the RequestId a fresh UUID
    (never derived from the AccessKey)."""
    pages = Pages([coupon(i, 100 + i) for i in range(1, 6)])  # pages of 2: 3 calls
    provider = make_provider(pages, settings=small(), deterministic=False)
    read_scope_once(provider, SPEC)
    sent = [query(r) for r in pages.requests]
    assert len(sent) == 3 and {p["FromApp"] for p in sent} == {"couponctl"}
    ids = [p["RequestId"] for p in sent]
    assert len(set(ids)) == 3 and all(str(uuid.UUID(i)) == i for i in ids)
    assert not any(KEY_ID in i or SECRET in i for i in ids)


def test_without_total_count_pages_are_read_until_a_short_one() -> None:
    pages = Pages([coupon(i, 100 + i) for i in range(1, 5)], total=False)  # 4 coupons: pages 1, 2 full, 3 empty
    live = read(pages, settings=small(window=1))
    assert pages.page_numbers() == [1, 2, 3] and len(live.issued) == 4


def test_a_total_count_on_a_page_boundary_needs_no_extra_call() -> None:
    pages = Pages([coupon(i, 100 + i) for i in range(1, 5)])
    read(pages, settings=small(window=4))
    assert pages.page_numbers() == [1, 2]


def test_reads_retry_throttling_5xx_and_transport_errors() -> None:
    script = Script(
        gateway_error("Throttling.User", 400),
        gateway_error("ServiceUnavailable", 503),
        httpx.ReadTimeout("slow"),
        reply(envelope([coupon(1, 11)])),
    )
    sleeps = Sleeps()
    live = read(script, sleeps=sleeps)
    assert set(live.issued) == {Target.uid(11)} and len(script.requests) == 4 and len(sleeps.waits) == 3
    assert len({r.headers["x-acs-signature-nonce"] for r in script.requests}) == 4
    assert {query(r)["RequestId"] for r in script.requests} == {"req-1"}  # one page read: its retries keep its id


@pytest.mark.parametrize(
    ("response", "kind"),
    [
        (gateway_error("SignatureDoesNotMatch", 400), AuthError),
        (gateway_error("InvalidAccessKeyId.NotFound", 404), AuthError),
        (gateway_error("MissingParameter", 400), ApiFaultError),
        (reply(envelope(None, success=False, code="ERROR_3090")), ApiFaultError),
    ],
)
def test_refusals_are_raised_once(response: httpx.Response, kind: type[ProviderError]) -> None:
    script = Script(response)
    with pytest.raises(kind):
        read(script)
    assert len(script.requests) == 1


def test_read_owner_groups_the_sellers_coupons_by_template() -> None:
    pages = Pages([coupon(1, 11), coupon(2, 12, template="100"), coupon(3, 13, template="100")])
    provider = make_provider(pages)

    async def run() -> list[ScopeLive]:
        try:
            return await provider.read_owner(SELLER)
        finally:
            await provider.aclose()

    lives = asyncio.run(run())
    assert [live.scope.coupon_class for live in lives] == ["100", TEMPLATE]
    assert [len(live.issued) for live in lives] == [2, 1] and lives[0].api_calls == 1
    assert "TemplateId" not in query(pages.requests[0])


# --- wire -------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("code", "status", "kind"),
    [
        ("Throttling", 400, ThrottledError),
        ("Throttling.User", 400, ThrottledError),
        ("Throttling.Api", 403, ThrottledError),
        (None, 429, ThrottledError),
        ("InternalError", 500, OutcomeUnknownError),
        ("SignatureNonceUsed", 400, AuthError),
        ("InvalidTimeStamp.Expired", 400, AuthError),
        ("IncompleteSignature", 400, AuthError),
        ("InvalidSecurityToken.Expired", 400, AuthError),
        ("Anything", 401, AuthError),
        ("InvalidParameter", 400, ApiFaultError),
        (None, 404, ApiFaultError),
        (None, 302, OutcomeUnknownError),
    ],
)
def test_error_classification(code: str | None, status: int, kind: type[ProviderError]) -> None:
    body = wire.parse_error({"Code": code})
    assert type(wire.error_for(body, status=status, retry_after=None, provider="p", operation="o")) is kind


def test_throttles_without_a_hint_use_the_backoff() -> None:
    error = wire.error_for(wire.parse_error(None), status=429, retry_after=None, provider="p", operation="o")
    assert isinstance(error, ThrottledError) and error.retry_after == 0.0
    assert wire.retry_after_ms("1500") == 1.5 and wire.retry_after_ms("0") is None
    assert wire.retry_after_ms("soon") is None and wire.retry_after_ms(None) is None


def test_error_bodies_are_read_in_either_casing() -> None:
    body = wire.parse_error({"requestId": "r", "code": "c", "message": "m", "HostId": "h", "Recommend": "u"})
    assert body == wire.ErrorBody("r", "h", "c", "m", "u")


def test_send_coupon_params_flatten_in_order() -> None:
    params = wire.send_coupon_params(
        "1", "2", [("7", Decimal("100")), ("8", Decimal("0.5"))], request_id="r", from_app="a"
    )
    assert list(params) == [
        "SellerId",
        "TemplateId",
        "UserAmountModelList.1.Amount",
        "UserAmountModelList.1.Uid",
        "UserAmountModelList.2.Amount",
        "UserAmountModelList.2.Uid",
        "RequestId",
        "FromApp",
    ]
    assert params["UserAmountModelList.2.Amount"] == "0.5"


def test_start_time_dates_an_issue_only_when_the_template_s_coupons_start_at_different_times() -> None:
    relative = [coupon(1, 11), coupon(2, 12)]
    relative[1]["StartTime"] = "2026-06-02 08:30:00"  # valid from its sending: RELATIVE validity
    live = live_from_coupons(SCOPE, [wire.parse_coupon(c) for c in relative])
    (first,) = live.issued[Target.uid(11)]
    (second,) = live.issued[Target.uid(12)]
    assert first.issue_date == datetime(2026, 6, 1, 12, 0, tzinfo=UTC)  # Beijing time, UTC+8
    assert second.issue_date == datetime(2026, 6, 2, 0, 30, tzinfo=UTC)
    assert first.issued_at == "2026-06-01 20:00:00"  # what the vendor shows, as it shows it
    # every coupon starting at the same time: ABSOLUTE validity, the template's start, not an issue date
    absolute = live_from_coupons(SCOPE, [wire.parse_coupon(c) for c in (coupon(1, 11), coupon(2, 12))])
    assert all(c.issue_date is None for held in absolute.issued.values() for c in held)
    lone = live_from_coupons(SCOPE, [wire.parse_coupon(coupon(1, 11))])
    assert lone.issued[Target.uid(11)][0].issue_date is None


@pytest.mark.parametrize("value", ["²", "1²"])
def test_an_id_of_non_ascii_digits_is_a_malformed_answer_not_a_crash(value: str) -> None:
    """``str.isdigit()`` holds for "²", which ``int()`` cannot read: a coupon or uid id made of it is a malformed
    answer (a read error, or an issue whose answer cannot be read), never a ValueError."""
    with pytest.raises(MalformedResponse):
        wire.parse_coupon({"CouponId": value})
    envelope = wire.Envelope(True, "200", None, "r", [{"Uid": value}], None)
    with pytest.raises(MalformedResponse):
        wire.sent_uids(envelope)
