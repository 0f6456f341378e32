"""What reading a SearchCoupons page costs was cut without changing what it yields: answers read straight from
their bytes (msgspec) give exactly what the general reader gives; URLs and headers built once; the live state's
shortcuts (available coupons, class names, face value)."""

from __future__ import annotations

import asyncio
import json
from decimal import Decimal
from typing import Any

import httpx
import pytest

from reconciler.errors import MalformedResponse
from reconciler.providers.http import HttpSettings, build_client
from reconciler.providers.msads import wire
from reconciler.providers.msads.provider import face_value, live_from_coupons
from reconciler.state.live import FaceValue
from tests.support.msads_fakes import SPEC, coupon, make_provider
from tests.support.provider_calls import read_scope_once

WELL_FORMED: list[dict[str, Any]] = [
    {
        "CouponCode": "A1",
        "ClassName": "Spring",
        "CouponType": "Retention",
        "Amount": 50.0,
        "CurrencyCode": "USD",
        "SpendThreshold": 0.0,
        "PercentOff": None,
        "StartDate": "2027-01-01T00:00:00Z",
        "EndDate": "2027-12-31T00:00:00Z",
        "SendToEmail": None,
        "SendToDate": None,
        "IsRedeemed": False,
        "RedemptionInfo": None,
    },
    {
        "CouponCode": "A2",
        "ClassName": "Spring",
        "Amount": 12.5,
        "CurrencyCode": "EUR",
        "SendToEmail": "a@x.test",
        "SendToDate": "2027-02-01T10:00:00.1234567Z",
        "IsRedeemed": False,
        "ClaimInfo": None,
    },
    {
        "CouponCode": "A3",
        "Amount": "7",
        "ClaimInfo": {"AccountId": "123456789012", "ClaimDate": "2027-03-01"},
        "RedemptionInfo": {"AccountId": 42, "RedemptionDate": "2027-04-01T00:00:00Z", "Other": [1]},
    },
    {
        "CouponCode": "",
        "ClassName": "",
        "Amount": 3,
        "IsRedeemed": True,
        "ClaimInfo": {"AccountId": None},
        "RedemptionInfo": {},
        "Unknown": {"nested": [1, 2, {"x": None}]},
    },
    {"CouponCode": "A5", "Amount": None, "ClaimInfo": {}, "RedemptionInfo": {"AccountId": ""}},
    {},
]


def page(coupons: list[Any] | None, **more: Any) -> bytes:
    return json.dumps({"Coupons": coupons, **more}).encode()


def general(content: bytes) -> list[wire.WireCoupon]:
    return wire.parse_search_response(json.loads(content))


def test_well_formed_answers_are_read_by_the_fast_path_exactly_as_by_the_general_one() -> None:
    for content in (page(WELL_FORMED), page(WELL_FORMED * 20, PageInfo={"Index": 0}), page([]), page(None), b"{}"):
        fast = wire.decode_search_response(content)
        assert fast is not None
        assert fast == general(content)
    assert wire.decode_search_response(page(WELL_FORMED))[2].claim_account == 123456789012  # type: ignore[index]


ODD: list[Any] = [
    {"CouponCode": 123},  # not a string: read as absent
    {"CouponCode": "B", "IsRedeemed": "TRUE"},  # a string boolean
    {"CouponCode": "B", "Amount": True},
    {"CouponCode": "B", "Amount": [1]},
    {"CouponCode": "B", "ClaimInfo": ["x"]},
    {"CouponCode": "B", "ClaimInfo": {"AccountId": "not an id"}},
    {"CouponCode": "B", "ClaimInfo": {"AccountId": True}},
    {"CouponCode": "B", "RedemptionInfo": {"AccountId": 1.5}},
    {"CouponCode": "B", "Amount": "1e400"},
    {"CouponCode": "B", "Amount": 10**20},
    {"CouponCode": "B", "EndDate": 20271231},
    "not a coupon",
]


@pytest.mark.parametrize("odd", ODD)
def test_any_other_shape_is_left_to_the_general_reader(odd: Any) -> None:
    content = page([WELL_FORMED[0], odd])
    assert wire.decode_search_response(content) is None
    try:
        expected: object = general(content)
    except MalformedResponse as exc:
        expected = type(exc)
    assert expected is MalformedResponse or isinstance(expected, list)


@pytest.mark.parametrize(
    "content",
    [b'{"Coupons": [{"CouponCode": "\\ud800"}]}', b"[]", b'{"Coupons": {}}', b"not json", b'{"Coupons": [NaN]}'],
)
def test_lone_surrogates_and_other_answers_are_left_to_the_general_reader(content: bytes) -> None:
    assert wire.decode_search_response(content) is None


def read_codes(content: bytes) -> list[str]:
    """The codes a provider reads from a SearchCoupons answer of ``content`` (one short page)."""

    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, content=content, headers={"Content-Type": "application/json"})

    provider = make_provider(handler)

    async def run() -> list[str]:
        try:
            live = await provider.read_scope(SPEC)
        finally:
            await provider.aclose()
        return sorted(held.code for holdings in live.issued.values() for held in holdings)

    return asyncio.run(run())


def test_the_provider_reads_a_lone_surrogate_answer_the_general_way() -> None:
    """A lone surrogate (which no text file or terminal can hold) becomes U+FFFD, whichever reader reads the page."""
    fine = coupon("OK1", email="a@x.test")
    assert read_codes(page([fine])) == ["OK1"]
    odd = coupon("X\ud800", email="b@x.test")
    content = json.dumps({"Coupons": [fine, odd]}, ensure_ascii=True).encode()
    assert b"\\ud800" in content
    assert read_codes(content) == ["OK1", "X\ufffd"]


def test_requests_go_under_the_base_urls_path() -> None:
    """The operation URLs are built once from the base URL, as httpx merges them: a path prefix is kept."""
    seen: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(str(request.url))
        return httpx.Response(200, json={"Coupons": []})

    settings = HttpSettings(requests_per_second=0)
    client = build_client(
        base_url="https://vendor.test/gateway/v2",
        user_agent="t",
        settings=settings,
        transport=httpx.MockTransport(handler),
    )
    provider = make_provider(handler, client=client)
    read_scope_once(provider, SPEC)
    assert seen == ["https://vendor.test/gateway/v2/CustomerBilling/v13/Coupons/Search"]


def wire_coupon(code: str, **fields: Any) -> wire.WireCoupon:
    base: dict[str, Any] = dict.fromkeys(wire.WireCoupon._fields)
    base.update(code=code, class_name=SPEC.scope.coupon_class, amount=Decimal(5), currency="USD", is_redeemed=False)
    base.update(fields)
    return wire.WireCoupon(**base)


@pytest.mark.parametrize(
    "marker",
    [
        {"is_redeemed": True},
        {"claim_account": 7},
        {"claim_date": "2027-01-01"},
        {"send_to_email": "a@x.test"},
        {"send_to_date": "2027-01-01"},
    ],
)
def test_a_coupon_with_any_mark_of_an_issue_is_not_available(marker: dict[str, Any]) -> None:
    live = live_from_coupons(SPEC.scope, [wire_coupon("FREE"), wire_coupon("MARKED", **marker)])
    assert live.available == 1


def test_a_class_name_in_another_case_is_the_same_class_and_another_name_is_not() -> None:
    coupons = [
        wire_coupon("A"),
        wire_coupon("B", class_name=SPEC.scope.coupon_class.swapcase()),
        wire_coupon("C", class_name=None),
        wire_coupon("D", class_name="another"),
    ]
    assert live_from_coupons(SPEC.scope, coupons).available == 3


def test_the_face_value_is_the_most_common_and_the_first_seen_wins_a_tie() -> None:
    euro = {"amount": Decimal(9), "currency": "EUR"}
    coupons = [wire_coupon("N", amount=None), wire_coupon("E1", **euro), wire_coupon("U1"), wire_coupon("E2", **euro)]
    assert face_value(coupons) == FaceValue(Decimal(9), "EUR", None)
    tie = [wire_coupon("U1"), wire_coupon("E1", **euro), wire_coupon("E2", currency=""), wire_coupon("U2", amount=None)]
    assert face_value(tie) == FaceValue(Decimal(5), "USD", None)
    assert face_value([wire_coupon("N", amount=None), wire_coupon("C", currency=None)]) is None
