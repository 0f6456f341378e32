"""Pure wire parsing: coupons, per-item errors, and ApplicationFault bodies into typed errors."""

from __future__ import annotations

from decimal import Decimal

import pytest

from reconciler.errors import (
    ApiFaultError,
    AuthError,
    MalformedResponse,
    OutcomeUnknownError,
    ProviderError,
    ThrottledError,
)
from reconciler.providers.msads import wire
from tests.support.msads_fakes import coupon

AD_API_FAULT = {
    "TrackingId": "b-1",
    "Type": "AdApiFaultDetail",
    "Errors": [{"Code": 105, "Detail": None, "ErrorCode": "InvalidCredentials", "Message": "Authentication failed."}],
}
API_FAULT = {
    "TrackingId": "b-2",
    "Type": "ApiFault",
    "OperationErrors": [{"Code": 3030, "Details": None, "Message": "The Predicate passed in the search is invalid."}],
}
API_BATCH_FAULT = {
    "TrackingId": "b-3",
    "Type": "ApiBatchFault",
    "OperationErrors": [],
    "BatchErrors": [{"Code": 3024, "Details": None, "Index": 0, "Message": "batch size exceeds the limit"}],
}


@pytest.mark.parametrize(
    ("body", "fault_type", "codes", "tracking"),
    [
        (AD_API_FAULT, "AdApiFaultDetail", {105}, "b-1"),
        (API_FAULT, "ApiFault", {3030}, "b-2"),
        (API_BATCH_FAULT, "ApiBatchFault", {3024}, "b-3"),
        ({"ApplicationFault": API_FAULT}, "ApiFault", {3030}, "b-2"),
        ({"ApplicationFault": {**AD_API_FAULT, "Type": "ApiFaultDetail"}}, "ApiFaultDetail", {105}, "b-1"),
        (None, None, set(), None),
        ("<html>", None, set(), None),
    ],
    ids=["AdApiFaultDetail", "ApiFault", "ApiBatchFault", "wrapped", "wrapped-doc-variant", "empty", "not-json"],
)
def test_parse_fault(body: object, fault_type: str | None, codes: set[int], tracking: str | None) -> None:
    fault = wire.parse_fault(body)
    assert fault.type == fault_type
    assert fault.codes() == codes
    assert fault.tracking_id == tracking


def classify(body: object, status: int, retry_after: float | None = None) -> ProviderError:
    return wire.fault_error(
        wire.parse_fault(body),
        status=status,
        retry_after=retry_after,
        tracking_id="hdr-1",
        provider="p",
        operation="DispatchCoupons",
    )


def error_body(code: int, fault_type: str = "AdApiFaultDetail") -> dict[str, object]:
    key = "Errors" if fault_type == "AdApiFaultDetail" else "OperationErrors"
    return {"Type": fault_type, key: [{"Code": code, "Message": "m"}]}


@pytest.mark.parametrize(
    ("body", "status", "kind", "code"),
    [
        (AD_API_FAULT, 401, AuthError, "105"),
        (error_body(109), 401, AuthError, "109"),
        (error_body(116), 400, AuthError, "116"),
        (error_body(3101), 401, AuthError, "3101"),
        (None, 401, AuthError, None),
        (error_body(117), 429, ThrottledError, "117"),
        (error_body(117, "ApiFault"), 400, ThrottledError, "117"),
        (None, 429, ThrottledError, None),
        (API_FAULT, 400, ApiFaultError, "3030"),
        (API_BATCH_FAULT, 400, ApiFaultError, "3024"),
        (error_body(1001, "ApiFault"), 403, ApiFaultError, "1001"),
        (error_body(106), 403, ApiFaultError, "106"),
        (None, 404, ApiFaultError, None),
        (error_body(0), 500, OutcomeUnknownError, "0"),
        (error_body(105), 500, OutcomeUnknownError, "105"),
        (None, 503, OutcomeUnknownError, None),
        (None, 302, OutcomeUnknownError, None),
    ],
)
def test_fault_error_classification(body: object, status: int, kind: type[ProviderError], code: str | None) -> None:
    error = classify(body, status)
    assert type(error) is kind
    assert error.code == code
    assert error.status == status
    assert error.tracking_id == "hdr-1"
    assert error.operation == "DispatchCoupons"


def test_throttle_retry_after_defaults_to_60_seconds() -> None:
    error = classify(error_body(117), 429)
    assert isinstance(error, ThrottledError)
    assert error.retry_after == 60.0
    again = classify(error_body(117), 429, retry_after=5.0)
    assert isinstance(again, ThrottledError)
    assert again.retry_after == 5.0


def test_fault_message_carries_type_codes_and_messages() -> None:
    text = str(classify(AD_API_FAULT, 401))
    assert "AdApiFaultDetail" in text
    assert "105 InvalidCredentials Authentication failed." in text
    assert "HTTP 401" in text and "TrackingId hdr-1" in text


def test_request_builders() -> None:
    assert wire.dispatch_request("42", "C", ["a@x.com"]) == {
        "SendToEmails": ["a@x.com"],
        "CustomerId": "42",
        "CouponClassName": "C",
    }
    assert wire.distribute_request([1, 2], "C", None, False) == {
        "AccountIds": [1, 2],
        "ClassName": "C",
        "FeatureId": None,
        "SendNotification": False,
    }
    assert wire.search_request("42", "C", 3)["PageInfo"] == {"Index": 3, "Size": 100}


@pytest.mark.parametrize(
    ("value", "expected"), [("9223372036854775807", 2**63 - 1), (180535609, 180535609), (None, None)]
)
def test_parse_long(value: object, expected: int | None) -> None:
    assert wire.parse_long(value) == expected


@pytest.mark.parametrize("value", ["12a", 1.5, True, {}])
def test_parse_long_rejects_non_ids(value: object) -> None:
    with pytest.raises(MalformedResponse):
        wire.parse_long(value)


def test_parse_coupon() -> None:
    parsed = wire.parse_coupon(coupon("ABC", email="A@x.com", claimed_by="77", redeemed_by=78, amount=25.5))
    assert parsed.code == "ABC"
    assert parsed.amount == Decimal("25.5")
    assert (parsed.claim_account, parsed.redemption_account) == (77, 78)
    assert parsed.is_redeemed is True
    assert parsed.send_to_email == "A@x.com"


def test_parse_coupon_tolerates_missing_optional_objects() -> None:
    parsed = wire.parse_coupon({"CouponCode": "X", "Amount": 100, "IsRedeemed": "false"})
    assert parsed.amount == Decimal(100)
    assert parsed.claim_account is None and parsed.redemption_account is None
    assert parsed.is_redeemed is False


def test_distribute_flat_partial_errors_aligned_by_position() -> None:
    result = wire.parse_distribute_response({"PartialErrors": [None, {"Code": 5, "Message": "no"}]}, 2)
    assert result.per_item == {1: wire.ItemError("5", "no")}


def test_dispatch_duplicate_indexes_keep_the_first_error() -> None:
    body = {"PartialErrors": [{"Code": 1, "Index": 0, "Message": "a"}, {"Code": 2, "Index": 0, "Message": "b"}]}
    assert wire.parse_dispatch_response(body, 1) == {0: wire.ItemError("1", "a")}
