"""Microsoft Advertising Customer Billing v13 REST: request bodies, response and fault parsing. No I/O.

Shapes follow /work/shared/api/msads-customer-billing.md: longs are sent as JSON strings and read from strings
or numbers; DistributeCoupons AccountIds are int32 JSON numbers; faults are ``Type``-tagged ApplicationFault
bodies (the ``{"ApplicationFault": {...}}`` wrapper is tolerated).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from functools import lru_cache
from typing import Any, NamedTuple

import msgspec

from reconciler.errors import (
    ApiFaultError,
    AuthError,
    MalformedResponse,
    OutcomeUnknownError,
    ProviderError,
    ThrottledError,
)

SEARCH = "SearchCoupons"
DISTRIBUTE = "DistributeCoupons"
DISPATCH = "DispatchCoupons"
COUPON_INFO = "GetCouponInfo"

PATHS: Mapping[str, str] = {
    SEARCH: "/CustomerBilling/v13/Coupons/Search",
    DISTRIBUTE: "/CustomerBilling/v13/Coupons/Distribute",
    DISPATCH: "/CustomerBilling/v13/Coupons/Dispatch",
    COUPON_INFO: "/CustomerBilling/v13/CouponInfo/Query",
}

PAGE_SIZE = 100
MAX_DISPATCH_EMAILS = 1000

AUTH_CODES = frozenset({105, 109, 116, 3101})
TOKEN_EXPIRED = 109
CALL_RATE_EXCEEDED = 117

JsonObject = dict[str, object]


# --- requests -------------------------------------------------------------------------------------------


def search_request(owner: str, coupon_class: str, page_index: int, page_size: int = PAGE_SIZE) -> JsonObject:
    """SearchCoupons for one owner customer and class, oldest start date first, with claim info."""
    return {
        "Predicates": [
            {"Field": "CustomerId", "Operator": "Equals", "Value": str(owner)},
            {"Field": "CouponClassName", "Operator": "Equals", "Value": coupon_class},
        ],
        "Ordering": [{"Field": "CouponStartDate", "Order": "Ascending"}],
        "PageInfo": {"Index": page_index, "Size": page_size},
        "ReturnAdditionalFields": "CouponClaimInfo",
    }


def dispatch_request(owner: str, coupon_class: str, emails: Sequence[str]) -> JsonObject:
    return {"SendToEmails": list(emails), "CustomerId": str(owner), "CouponClassName": coupon_class}


def distribute_request(
    account_ids: Sequence[int], coupon_class: str, feature_id: int | None, send_notification: bool
) -> JsonObject:
    return {
        "AccountIds": [int(a) for a in account_ids],
        "ClassName": coupon_class,
        "FeatureId": feature_id,
        "SendNotification": bool(send_notification),
    }


def coupon_info_request(customer_id: str) -> JsonObject:
    """GetCouponInfo (getcouponinfo.md): the customer id, a long, as a JSON string."""
    return {"CustomerId": str(customer_id)}


# --- responses ------------------------------------------------------------------------------------------


class WireCoupon(NamedTuple):
    """The fields of a Coupon that the diff needs (a NamedTuple: built for every coupon read, cheaply)."""

    code: str | None
    class_name: str | None
    coupon_type: str | None
    amount: Decimal | None
    currency: str | None
    send_to_email: str | None
    send_to_date: str | None
    is_redeemed: bool
    claim_account: int | None
    claim_date: str | None
    redemption_account: int | None
    redemption_date: str | None
    end_date: str | None = None


def parse_long(value: object) -> int | None:
    """A 64-bit id sent as a JSON string or number; None when absent."""
    if value is None or value == "":
        return None
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise MalformedResponse(f"expected an id, got {type(value).__name__}")
    try:
        return int(value)
    except ValueError:
        raise MalformedResponse(f"expected an id, got {value!r}") from None


MAX_AMOUNT = Decimal(10) ** 15
"""No amount a vendor reports for a coupon is this large: a larger one is a malformed answer."""


def _decimal(value: object) -> Decimal | None:
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, int | float | str):
        return _exact_decimal(value)  # a class's coupons share their amounts: convert each value once
    raise MalformedResponse(f"expected a number, got {value!r}")


@lru_cache(maxsize=4096)
def _exact_decimal(value: int | float | str) -> Decimal:
    try:
        number = Decimal(str(value))
    except InvalidOperation:
        raise MalformedResponse(f"expected a number, got {value!r}") from None
    if not number.is_finite() or abs(number) >= MAX_AMOUNT:  # NaN, 1e400, 1.2e29: no coupon is worth that
        raise MalformedResponse(f"expected an amount, got {value!r}")
    return number.quantize(Decimal(1)) if number == number.to_integral_value() else number


def _text(value: object) -> str | None:
    return value if isinstance(value, str) and value else None


def _object(value: object) -> JsonObject:
    return value if isinstance(value, dict) else {}


def _list(value: object, what: str) -> list[object]:
    if value is None:
        return []
    if not isinstance(value, list):
        raise MalformedResponse(f"{what} is not a list")
    return value


def _response_object(body: object, operation: str) -> JsonObject:
    if not isinstance(body, dict):
        raise MalformedResponse(f"{operation} response is not an object")
    return body


def _bool(value: object) -> bool:
    return value is True or (isinstance(value, str) and value.lower() == "true")


def parse_coupon(raw: object) -> WireCoupon:
    if not isinstance(raw, dict):
        raise MalformedResponse("a coupon is not an object")
    claim = _object(raw.get("ClaimInfo"))
    redemption = _object(raw.get("RedemptionInfo"))
    return WireCoupon(
        code=_text(raw.get("CouponCode")),
        class_name=_text(raw.get("ClassName")),
        coupon_type=_text(raw.get("CouponType")),
        amount=_decimal(raw.get("Amount")),
        currency=_text(raw.get("CurrencyCode")),
        send_to_email=_text(raw.get("SendToEmail")),
        send_to_date=_text(raw.get("SendToDate")),
        is_redeemed=_bool(raw.get("IsRedeemed")) or bool(redemption),
        claim_account=parse_long(claim.get("AccountId")),
        claim_date=_text(claim.get("ClaimDate")),
        redemption_account=parse_long(redemption.get("AccountId")),
        redemption_date=_text(redemption.get("RedemptionDate")),
        end_date=_text(raw.get("EndDate")),
    )


def parse_search_response(body: object) -> list[WireCoupon]:
    return [parse_coupon(raw) for raw in _list(_response_object(body, SEARCH).get("Coupons"), "Coupons")]


class _Coupon(msgspec.Struct, gc=False):
    """The Coupon fields the plan reads, in the types a well-formed answer has; msgspec skips the others in C."""

    CouponCode: str | None = None
    ClassName: str | None = None
    CouponType: str | None = None
    Amount: int | float | str | None = None
    CurrencyCode: str | None = None
    SendToEmail: str | None = None
    SendToDate: str | None = None
    IsRedeemed: bool | None = None
    ClaimInfo: dict[str, Any] | None = None
    RedemptionInfo: dict[str, Any] | None = None
    EndDate: str | None = None


class _SearchAnswer(msgspec.Struct, gc=False):
    Coupons: list[_Coupon] | None = None


_SEARCH_DECODER = msgspec.json.Decoder(_SearchAnswer)


def decode_search_response(content: bytes) -> list[WireCoupon] | None:
    """The coupons of a SearchCoupons answer read straight from its bytes, as :func:`parse_search_response` reads
    them from its JSON; None when the answer is not in the well-formed shape this fast path reads (any other type
    for a field, a lone surrogate, invalid JSON): the caller then reads it the general way, which says why."""
    try:
        answer = _SEARCH_DECODER.decode(content)
        return [_wire_coupon(c) for c in answer.Coupons or ()]
    except (msgspec.MsgspecError, MalformedResponse):
        return None


def _wire_coupon(raw: _Coupon) -> WireCoupon:
    amount = raw.Amount
    claim = raw.ClaimInfo
    redemption = raw.RedemptionInfo
    if not claim and not redemption:  # most coupons: neither claimed nor redeemed
        return WireCoupon(
            raw.CouponCode or None,
            raw.ClassName or None,
            raw.CouponType or None,
            None if amount is None else _exact_decimal(amount),
            raw.CurrencyCode or None,
            raw.SendToEmail or None,
            raw.SendToDate or None,
            raw.IsRedeemed is True,
            None,
            None,
            None,
            None,
            raw.EndDate or None,
        )
    claim = claim or {}
    redemption = redemption or {}
    return WireCoupon(
        raw.CouponCode or None,
        raw.ClassName or None,
        raw.CouponType or None,
        None if amount is None else _exact_decimal(amount),
        raw.CurrencyCode or None,
        raw.SendToEmail or None,
        raw.SendToDate or None,
        raw.IsRedeemed is True or bool(redemption),
        parse_long(claim.get("AccountId")),
        _text(claim.get("ClaimDate")),
        parse_long(redemption.get("AccountId")),
        _text(redemption.get("RedemptionDate")),
        raw.EndDate or None,
    )


@dataclass(frozen=True, slots=True)
class CouponInfo:
    """The fields of a CouponInfoData (couponinfodata.md) that tell who holds a coupon and since when:
    ``status`` is an unsignedByte whose values are not documented."""

    account_id: int
    coupon_id: int | None
    claim_date: str | None
    status: int | None
    feature_id: int | None
    redemption_date: str | None
    value: Decimal | None
    currency: str | None


def _int(value: object) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise MalformedResponse(f"expected an integer, got {value!r}")
    return value


def parse_coupon_info_response(body: object) -> list[CouponInfo]:
    """GetCouponInfo's ``CouponInfoData`` list; an entry without an AccountId is malformed."""
    found = []
    for raw in _list(_response_object(body, COUPON_INFO).get("CouponInfoData"), "CouponInfoData"):
        if not isinstance(raw, dict):
            raise MalformedResponse("a CouponInfoData is not an object")
        account = _int(raw.get("AccountId"))
        if account is None:
            raise MalformedResponse("a CouponInfoData has no AccountId")
        found.append(
            CouponInfo(
                account_id=account,
                coupon_id=_int(raw.get("CouponId")),
                claim_date=_text(raw.get("ClaimDate")),
                status=_int(raw.get("Status")),
                feature_id=_int(raw.get("FeatureId")),
                redemption_date=_text(raw.get("RedemptionDate")),
                value=_decimal(raw.get("CouponValue")),
                currency=_text(raw.get("CurrencyCode")),
            )
        )
    return found


@dataclass(frozen=True, slots=True)
class ItemError:
    """Why the vendor refused one item (or the whole operation)."""

    code: str | None
    message: str

    def __str__(self) -> str:
        return f"{self.code}: {self.message}" if self.code else self.message


def _item_error(raw: object) -> ItemError:
    entry = _object(raw)
    code = entry.get("Code")
    code = entry.get("ErrorCode") if code is None else code
    message = str(entry.get("Message") or entry.get("Details") or entry.get("Detail") or "refused")
    details = entry.get("Details")
    if isinstance(details, str) and details and details not in message:  # the vendor's specifics: which class
        message = f"{message} ({details})"
    return ItemError(None if code is None else str(code), message)


def parse_dispatch_response(body: object, count: int) -> dict[int, ItemError]:
    """Per-email errors by index into SendToEmails (BatchError.Index)."""
    errors: dict[int, ItemError] = {}
    for raw in _list(_response_object(body, DISPATCH).get("PartialErrors"), "PartialErrors"):
        index = _object(raw).get("Index")
        if isinstance(index, bool) or not isinstance(index, int) or not 0 <= index < count:
            raise MalformedResponse(f"BatchError Index {index!r} is outside SendToEmails")
        errors.setdefault(index, _item_error(raw))
    return errors


@dataclass(frozen=True, slots=True)
class DistributeResult:
    """``per_item`` errors by index into AccountIds; ``operation`` errors that concern the whole call."""

    per_item: dict[int, ItemError]
    operation: tuple[ItemError, ...]


def parse_distribute_response(body: object, count: int) -> DistributeResult:
    """PartialErrors is an array of arrays aligned with AccountIds (a flat list of ``count`` errors or nulls
    is read the same way). Any other shape cannot be aligned and is malformed."""
    obj = _response_object(body, DISTRIBUTE)
    operation = tuple(_item_error(e) for e in _list(obj.get("OperationErrors"), "OperationErrors"))
    partial = _list(obj.get("PartialErrors"), "PartialErrors")
    per_item: dict[int, ItemError] = {}
    if any(entry for entry in partial):
        if len(partial) != count:
            raise MalformedResponse(f"PartialErrors has {len(partial)} entries for {count} AccountIds")
        for index, entry in enumerate(partial):
            first = next((e for e in entry if e), None) if isinstance(entry, list) else entry  # any error refuses
            if first:
                per_item[index] = _item_error(first)
    return DistributeResult(per_item, operation)


# --- faults ---------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class FaultEntry:
    code: int | None
    error_code: str | None
    message: str


@dataclass(frozen=True, slots=True)
class Fault:
    """An ApplicationFault body: its Type, TrackingId, and every error it lists."""

    type: str | None
    tracking_id: str | None
    errors: tuple[FaultEntry, ...]

    def codes(self) -> set[int]:
        return {e.code for e in self.errors if e.code is not None}


def _fault_entry(raw: object) -> FaultEntry:
    entry = _object(raw)
    code = entry.get("Code")
    number = code if isinstance(code, int) and not isinstance(code, bool) else None
    if isinstance(code, str) and code.isascii() and code.isdigit():  # "²" is a digit int() cannot read
        number = int(code)
    message = entry.get("Message") or entry.get("Details") or entry.get("Detail") or ""
    return FaultEntry(number, _text(entry.get("ErrorCode")), str(message))


def parse_fault(body: object) -> Fault:
    """Read AdApiFaultDetail (Errors), ApiFault (OperationErrors) and ApiBatchFault (+ BatchErrors)."""
    obj = _object(body)
    if "ApplicationFault" in obj:
        obj = _object(obj["ApplicationFault"])
    raw_errors: list[object] = []
    for key in ("Errors", "OperationErrors", "BatchErrors"):
        value = obj.get(key)
        if isinstance(value, list):
            raw_errors.extend(value)
    return Fault(_text(obj.get("Type")), _text(obj.get("TrackingId")), tuple(_fault_entry(e) for e in raw_errors))


def fault_error(
    fault: Fault,
    *,
    status: int,
    retry_after: float | None,
    tracking_id: str | None,
    provider: str,
    operation: str,
    clean: Callable[[str], str] = str,
) -> ProviderError:
    """The typed error for a non-2xx response.

    Throttling (429 or code 117) and auth (401 or 105/109/116/3101) and other 4xx prove nothing was processed;
    any 5xx, and any status the vendor does not document, may have been processed: a 5xx is in doubt whatever
    its body says (a throttle code in a 500 proves nothing about what the server did before it failed).
    """
    codes = fault.codes()
    first = fault.errors[0] if fault.errors else None
    code = None if first is None or first.code is None else str(first.code)
    text = "; ".join(clean(_describe(e)) for e in fault.errors) or f"HTTP {status} without a fault body"
    text = f"{fault.type}: {text}" if fault.type else text

    def error(kind: type[ProviderError], message: str, code: str | None) -> ProviderError:
        return kind(message, provider=provider, operation=operation, status=status, code=code, tracking_id=tracking_id)

    if status >= 500:
        return error(OutcomeUnknownError, f"server error, outcome unknown: {text}", code)
    if status == 429 or CALL_RATE_EXCEEDED in codes:
        return ThrottledError(
            f"throttled: {text}",
            retry_after=60.0 if retry_after is None else retry_after,
            code=str(CALL_RATE_EXCEEDED) if CALL_RATE_EXCEEDED in codes else code,
            provider=provider,
            operation=operation,
            status=status,
            tracking_id=tracking_id,
        )
    auth = sorted(codes & AUTH_CODES)
    if status == 401 or auth:
        return error(AuthError, f"authentication failed: {text}", str(auth[0]) if auth else code)
    if 400 <= status < 500:
        return error(ApiFaultError, f"rejected: {text}", code)
    return error(OutcomeUnknownError, f"unexpected HTTP status, outcome unknown: {text}", code)


def _describe(entry: FaultEntry) -> str:
    label = " ".join(str(p) for p in (entry.code, entry.error_code) if p is not None)
    return f"{label} {entry.message}".strip() if label else entry.message or "no message"
