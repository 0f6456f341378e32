"""Alibaba Cloud ResellerTrade 2019-12-27 (RPC): request parameters, response and error parsing. No I/O.

Shapes follow /work/shared/api/aliyun-resellertrade.md and the official SDK (``alibabacloud-resellertrade20191227``):
SendCoupon is a POST with a form body, GetCouponPage a GET with query parameters; lists are flattened to 1-based
indexed keys (``UserAmountModelList.1.Amount``, ``Uids.1``); answers are ``{Code, Message, RequestId, Success,
Data, Count, TotalCount, ContextMap}``; gateway errors are ``{RequestId, HostId, Code, Message, Recommend}`` with a
4xx or 5xx status.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

from reconciler.errors import (
    ApiFaultError,
    AuthError,
    MalformedResponse,
    OutcomeUnknownError,
    ProviderError,
    ThrottledError,
)
from reconciler.signing.acs import flatten

VERSION = "2019-12-27"
SEND = "SendCoupon"
GET_PAGE = "GetCouponPage"
DISCARD = "DiscardCouponList"
METHODS: Mapping[str, str] = {SEND: "POST", GET_PAGE: "GET", DISCARD: "POST"}

# GetCouponPage documents no largest PageSize; 50 is the most a sibling coupon listing (Agency ListCouponUsage)
# allows, so it is a safe page.
PAGE_SIZE = 50
DEFAULT_CURRENCY = "CNY"  # ResellerTrade amounts are in CNY (CreateCouponTemplate CouponAmount, CertainMoney)
STATUSES = ("AVAILABLE", "EXHAUSTED", "ABANDONED", "EXPIRED")

# Gateway codes that prove the caller was not let in (nothing was processed).
AUTH_CODE_PREFIXES = (
    "InvalidAccessKeyId",
    "SignatureDoesNotMatch",
    "IncompleteSignature",
    "InvalidTimeStamp",
    "SignatureNonceUsed",
    "InvalidSecurityToken",
    "Forbidden",
    "NoPermission",
)
THROTTLING = "Throttling"


# --- requests -------------------------------------------------------------------------------------------


def send_coupon_params(
    seller_id: str,
    template_id: str,
    entries: Sequence[tuple[str, Decimal]],
    *,
    request_id: str,
    from_app: str,
    bid: int | None = None,
    operator: str | None = None,
) -> dict[str, str]:
    """SendCoupon's form body: one ``UserAmountModelList.N.{Amount,Uid}`` pair per (uid, amount), in order;
    ``Bid`` (a Long) and ``Operator`` (a string) only when given, as the SDK's SendCouponRequest sends them."""
    return flatten(
        {
            "SellerId": seller_id,
            "TemplateId": template_id,
            "UserAmountModelList": [{"Amount": amount, "Uid": uid} for uid, amount in entries],
            "RequestId": request_id,
            "FromApp": from_app,
            "Bid": bid,
            "Operator": operator,
        }
    )


def get_coupon_page_params(
    seller_id: str,
    template_id: str | None,
    page_no: int,
    page_size: int,
    *,
    request_id: str,
    from_app: str,
    uids: Sequence[str] = (),
) -> dict[str, str]:
    """GetCouponPage's query: the seller's coupons (of one template, of some uids), page ``page_no`` (1-based)."""
    return flatten(
        {
            "SellerId": seller_id,
            "TemplateId": template_id,
            "Uids": list(uids) or None,
            "PageNo": page_no,
            "PageSize": page_size,
            "RequestId": request_id,
            "FromApp": from_app,
        }
    )


# --- answers --------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Envelope:
    """The answer every ResellerTrade operation gives (HTTP 2xx)."""

    success: bool | None
    code: str | None
    message: str | None
    request_id: str | None
    data: object
    total_count: int | None

    def describe(self) -> str:
        return ": ".join(p for p in (self.code, self.message) if p) or "no Code or Message"


def _text(value: object) -> str | None:
    if isinstance(value, bool) or value is None:
        return None
    text = str(value).strip()
    return text or None


def _id(value: object) -> str | None:
    """A 64-bit id sent as a JSON number or string, as digits."""
    if value is None or value == "":
        return None
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise MalformedResponse(f"expected an id, got {type(value).__name__}")
    text = str(value).strip()
    if not (text.isascii() and text.isdigit()):  # "²" is a digit int() cannot read
        raise MalformedResponse(f"expected an id, got {value!r}")
    return str(int(text))


MAX_AMOUNT = Decimal(10) ** 15
"""No amount a vendor reports for a coupon is this large: a larger one is a malformed answer."""


def _decimal(value: object) -> Decimal | None:
    if value is None or isinstance(value, bool) or value == "":
        return None
    try:
        number = Decimal(str(value))
    except InvalidOperation:
        raise MalformedResponse(f"expected a number, got {value!r}") from None
    if not number.is_finite() or abs(number) >= MAX_AMOUNT:  # NaN, 1e400, 1.2e29: no coupon is worth that
        raise MalformedResponse(f"expected an amount, got {value!r}")
    return number.quantize(Decimal(1)) if number == number.to_integral_value() else number.normalize()


def _int(value: object) -> int | None:
    if isinstance(value, bool) or not isinstance(value, int | str):
        return None
    try:
        return int(value)
    except ValueError:
        return None


def _success(value: object) -> bool | None:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.lower() in ("true", "false"):
        return value.lower() == "true"
    return None


def parse_envelope(body: object) -> Envelope:
    if not isinstance(body, dict):
        raise MalformedResponse("the response is not a JSON object")
    return Envelope(
        success=_success(body.get("Success")),
        code=_text(body.get("Code")),
        message=_text(body.get("Message")),
        request_id=_text(body.get("RequestId")),
        data=body.get("Data"),
        total_count=_int(body.get("TotalCount")),
    )


@dataclass(frozen=True, slots=True)
class WireCoupon:
    """The fields of a GetCouponPage item that the diff needs."""

    coupon_id: str
    user_id: str | None
    template_id: str | None
    seller_id: str | None
    status: str
    amount: Decimal | None
    currency: str | None
    start_time: str | None
    used_amount: Decimal | None = None


def parse_coupon(raw: object) -> WireCoupon:
    if not isinstance(raw, dict):
        raise MalformedResponse("a coupon is not an object")
    coupon_id = _id(raw.get("CouponId"))
    if coupon_id is None:
        raise MalformedResponse("a coupon has no CouponId")
    currency = raw.get("Currency")
    code = currency.get("CurrencyCode") if isinstance(currency, dict) else currency
    return WireCoupon(
        coupon_id=coupon_id,
        user_id=_id(raw.get("UserId")),
        template_id=_id(raw.get("TemplateId")),
        seller_id=_id(raw.get("SellerId")),
        status=_text(raw.get("Status")) or "UNKNOWN",
        amount=_decimal(raw.get("Amount")),
        currency=_text(code),
        start_time=_text(raw.get("StartTime")),
        used_amount=_decimal(raw.get("UsedAmount")),
    )


@dataclass(frozen=True, slots=True)
class CouponPage:
    coupons: list[WireCoupon]
    total_count: int | None


def parse_coupon_page(envelope: Envelope) -> CouponPage:
    """The coupons of a successful GetCouponPage answer (``Data`` null or absent: none)."""
    data = envelope.data
    if data is None:
        return CouponPage([], envelope.total_count)
    if not isinstance(data, list):
        raise MalformedResponse("Data is not a list")
    return CouponPage([parse_coupon(raw) for raw in data], envelope.total_count)


def sent_uids(envelope: Envelope) -> set[str]:
    """The uids a SendCoupon answer lists under ``Data`` (by ``Uid``, or ``UserId``): those it issued a coupon to."""
    data = envelope.data
    if data is None:
        return set()
    if not isinstance(data, list):
        raise MalformedResponse("Data is not a list")
    uids: set[str] = set()
    for raw in data:
        if not isinstance(raw, dict):
            raise MalformedResponse("a Data entry is not an object")
        uid = _id(raw.get("Uid")) or _id(raw.get("UserId"))
        if uid is not None:
            uids.add(uid)
    return uids


# --- errors ---------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ErrorBody:
    """A gateway error: ``{RequestId, HostId, Code, Message, Recommend}`` (the SDK reads either casing)."""

    request_id: str | None
    host_id: str | None
    code: str | None
    message: str | None
    recommend: str | None


def parse_error(body: object) -> ErrorBody:
    obj = body if isinstance(body, dict) else {}

    def field(name: str) -> str | None:
        return _text(obj.get(name)) or _text(obj.get(name[0].lower() + name[1:]))

    return ErrorBody(field("RequestId"), field("HostId"), field("Code"), field("Message"), field("Recommend"))


def retry_after_ms(value: str | None) -> float | None:
    """``x-acs-retry-after`` as seconds: a positive integer of milliseconds (as the SDK's tests send it)."""
    if value is None:
        return None
    try:
        milliseconds = int(value.strip())
    except ValueError:
        return None
    return milliseconds / 1000 if milliseconds > 0 else None


def error_for(
    error: ErrorBody,
    *,
    status: int,
    retry_after: float | None,
    provider: str,
    operation: str,
    clean: Callable[[str], str] = str,
) -> ProviderError:
    """The typed error for a non-2xx answer.

    ``Throttling*`` (HTTP 400 as observed, or any 429) and the other 4xx prove nothing was processed; any 5xx,
    and any status the gateway is not known to send, may have been processed: a 5xx is in doubt whatever its
    body says, a ``Throttling`` code included.
    """
    code = error.code
    text = clean(": ".join(p for p in (code, error.message) if p) or f"HTTP {status} without an error body")

    def make(kind: type[ProviderError], message: str) -> ProviderError:
        return kind(
            message, provider=provider, operation=operation, status=status, code=code, tracking_id=error.request_id
        )

    if status >= 500:
        return make(OutcomeUnknownError, f"server error, outcome unknown: {text}")
    if status == 429 or (code or "").startswith(THROTTLING):
        # No documented wait comes with a throttle: without x-acs-retry-after, the retry policy's backoff is used.
        return ThrottledError(
            f"throttled: {text}",
            retry_after=0.0 if retry_after is None else retry_after,
            provider=provider,
            operation=operation,
            status=status,
            code=code,
            tracking_id=error.request_id,
        )
    if 400 <= status < 500 and (status in (401, 403) or (code or "").startswith(AUTH_CODE_PREFIXES)):
        return make(AuthError, f"authentication failed: {text}")
    if 400 <= status < 500:
        return make(ApiFaultError, f"rejected: {text}")
    return make(OutcomeUnknownError, f"unexpected HTTP status, outcome unknown: {text}")
