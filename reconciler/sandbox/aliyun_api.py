"""The ResellerTrade 2019-12-27 coupon operations, RPC style (notes sections 1 to 3): SendCoupon, GetCouponPage and
DiscardCouponList (so that tests can void a coupon), on ``/`` with the Action in ``x-acs-action`` (V3) or the
``Action`` parameter (V1), GET or POST, parameters in the query or a form body.

Parameter names are taken as the SDK sends them (``UserAmountModelList.1.Amount``) or as the doc writes them
(``userAmountModelList.1.amount``); lists may also come as one JSON array (``Uids=[1,2]``). Every answer is the
envelope the SDK parses: ``{Code, Message, RequestId, Success, Data, Count, TotalCount, ContextMap}``; business
refusals are HTTP 200 with ``Success: false``; requests the gateway refuses are 4xx with ``{RequestId, HostId,
Code, Message, Recommend}``. docs/sandbox.md lists which behaviours are inferred.
"""

from __future__ import annotations

import functools
import json
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from decimal import Decimal, InvalidOperation
from urllib.parse import parse_qsl, urlencode

from reconciler.sandbox.aliyun_auth import GatewayError, RpcRequest, authenticate
from reconciler.sandbox.aliyun_store import AliyunCoupon, PageQuery, SendRefused
from reconciler.sandbox.faults import Effects, Throttle
from reconciler.sandbox.store import Store
from reconciler.sandbox.wire import JsonObject, Reply

VERSION = "2019-12-27"
MAX_SEND_ENTRIES = 1000
MAX_PAGE_SIZE = 100
CHINA = timezone(timedelta(hours=8), "CST")  # times are written as Beijing time, "2022-03-03 12:12:00"
SECRET_PARAMS = frozenset({"Signature", "SecurityToken"})


@dataclass(frozen=True, slots=True)
class Result:
    """What an operation answers on success: ``Data`` and the counts beside it."""

    data: object
    count: int | None = None
    total: int | None = None


class Refusal(Exception):
    """A business refusal: HTTP 200, ``Success: false``, nothing changed."""

    def __init__(self, code: str, message: str, data: object = None) -> None:
        self.code = code
        self.message = message
        self.data = data
        super().__init__(f"{code}: {message}")


# Business codes: ResellerTrade publishes none, so these are the Agency product's codes for the same refusals
# (IssueCouponForCustomer: ERROR_3086, 3088, 3089, 3090, 3102; notes 2.3).
NO_RELATION = "ERROR_3086"
TEMPLATE_EXPIRED = "ERROR_3088"
LIMIT_EXCEEDED = "ERROR_3089"
NO_AUTHORITY = "ERROR_3090"
NOT_YOUR_TEMPLATE = "ERROR_3102"
AMOUNT_TOO_HIGH = "InvalidAmount"
COUPON_NOT_FOUND = "CouponNotFound"

Run = Callable[[Store, Mapping[str, str], Effects], Result]


@dataclass(frozen=True, slots=True)
class Action:
    """An RPC action: its name, its fault endpoint name, and what it does."""

    name: str
    endpoint: str
    run: Run


def handle(store: Store, action: Action, request: RpcRequest, tracking_id: str, effects: Effects) -> Reply:
    """Check the version and the signature, then run the action; refusals become their answers."""
    params = parameters(request)
    request_id = params.get("RequestId") or tracking_id
    try:
        _check_version(request)
        authenticate(store.aliyun, request, store.now())
        result = action.run(store, params, effects)
    except GatewayError as error:
        return gateway_reply(error, tracking_id)
    except Refusal as refusal:
        return _reply(200, _envelope(False, refusal.code, refusal.message, request_id, Result(refusal.data)))
    return _reply(200, _envelope(True, "success", "success", request_id, result))


def action_name(request: RpcRequest) -> str | None:
    """The action a request names: the ``x-acs-action`` header (V3) or the ``Action`` parameter (V1)."""
    return request.header("x-acs-action") or request.params().get("Action")


def gateway_reply(error: GatewayError, tracking_id: str) -> Reply:
    return Reply(error.status, error.body(tracking_id), error.code, {"x-acs-request-id": tracking_id})


def unknown_action(tracking_id: str) -> Reply:
    message = "Specified api is not found, please check your url and method."
    return gateway_reply(GatewayError(404, "InvalidAction.NotFound", message), tracking_id)


def throttled(tracking_id: str, throttle: Throttle) -> Reply:
    """HTTP 400 Throttling.User with ``x-acs-retry-after`` in milliseconds (as the SDK's tests send it) when the
    window will admit a call again; the SDK raises ThrottlingException on that header."""
    reply = gateway_reply(
        GatewayError(400, "Throttling.User", "Request was denied due to user flow control."), tracking_id
    )
    if throttle.retry_after_s > 0:
        reply.headers["x-acs-retry-after"] = str(math.ceil(throttle.retry_after_s * 1000))
    return reply


def internal_error(tracking_id: str) -> Reply:
    message = "The request processing has failed due to some unknown error, exception or failure."
    return gateway_reply(GatewayError(500, "InternalError", message), tracking_id)


def redact(raw: bytes) -> str:
    """The body for the call log, with any Signature or SecurityToken value replaced."""
    text = raw.decode("utf-8", errors="replace")
    pairs = parse_qsl(text, keep_blank_values=True)
    if not any(name in SECRET_PARAMS for name, _ in pairs):
        return text
    return urlencode([(name, "<redacted>" if name in SECRET_PARAMS else value) for name, value in pairs])


def _reply(status: int, body: JsonObject) -> Reply:
    code = body.get("Code")
    request_id = str(body.get("RequestId"))
    return Reply(status, body, None if body.get("Success") else str(code), {"x-acs-request-id": request_id})


def _envelope(success: bool, code: str, message: str, request_id: str, result: Result) -> JsonObject:
    return {
        "Code": code,
        "Message": message,
        "RequestId": request_id,
        "Success": success,
        "Data": result.data,
        "Count": result.count,
        "TotalCount": result.total,
        "ContextMap": {},
    }


def _check_version(request: RpcRequest) -> None:
    version = request.header("x-acs-version") or request.params().get("Version")
    if not version:
        raise _missing("Version")
    if version != VERSION:
        raise GatewayError(400, "InvalidVersion", f"Specified parameter Version is not valid (this API is {VERSION}).")


# --- parameters -----------------------------------------------------------------------------------------


def parameters(request: RpcRequest) -> dict[str, str]:
    """Every parameter under the SDK's names: each dotted part starts with a capital (``userAmountModelList.1.uid``
    is ``UserAmountModelList.1.Uid``)."""
    return {".".join(p[:1].upper() + p[1:] for p in name.split(".")): value for name, value in request.params().items()}


def _missing(name: str) -> GatewayError:
    message = f"The input parameter {name} that is mandatory for processing this request is not supplied."
    return GatewayError(400, "MissingParameter", message)


def _invalid(name: str, why: str) -> GatewayError:
    return GatewayError(400, "InvalidParameter", f"The specified parameter {name} is not valid: {why}.")


def _digits(text: str) -> bool:
    """ASCII digits only: ``str.isdigit()`` also holds for "²", which ``int()`` cannot read."""
    return text.isascii() and text.isdigit()


def _long(value: object, name: str) -> int:
    text = str(value).strip()
    if isinstance(value, bool) or not _digits(text) or not 0 < int(text) < 2**63:
        raise _invalid(name, "expected a positive integer")
    return int(text)


def _required_texts(params: Mapping[str, str], *names: str) -> None:
    """Parameters the doc marks required (``Req: Yes``) that the SDK's model leaves optional."""
    for name in names:
        if not params.get(name, "").strip():
            raise _missing(name)


def _required_long(params: Mapping[str, str], name: str) -> int:
    value = params.get(name)
    if value is None or value == "":
        raise _missing(name)
    return _long(value, name)


def _long_or_zero(value: str, name: str) -> int:
    text = value.strip()
    if not _digits(text) or int(text) >= 2**63:
        raise _invalid(name, "expected a Long")
    return int(text)


def _amount(value: object, name: str) -> float:
    try:
        number = Decimal(str(value).strip())
    except InvalidOperation:
        raise _invalid(name, "expected a number") from None
    if not number.is_finite() or number <= 0:
        raise _invalid(name, "expected a positive number")
    return float(number)


def _json_list(params: Mapping[str, str], name: str) -> list[object] | None:
    """``Name`` given whole, as a JSON array (or, for ids, comma-separated)."""
    value = params.get(name)
    if value is None:
        return None
    try:
        parsed = json.loads(value)
    except ValueError:
        parsed = [part.strip() for part in value.split(",") if part.strip()]
    if not isinstance(parsed, list):
        raise _invalid(name, "expected a list")
    return parsed


def _indexed(params: Mapping[str, str], name: str) -> list[dict[str, object]]:
    """``Name.N`` (a scalar, under key "") and ``Name.N.Field`` entries, in order of N."""
    entries: dict[int, dict[str, object]] = {}
    for key, value in params.items():
        head, _, rest = key.partition(".")
        if head != name or not rest:
            continue
        index, _, field = rest.partition(".")
        if not _digits(index):
            raise _invalid(key, "list entries are numbered from 1")
        entries.setdefault(int(index), {})[field] = value
    return [entries[i] for i in sorted(entries)]


def _longs(params: Mapping[str, str], name: str) -> list[int]:
    whole = _json_list(params, name)
    values = whole if whole is not None else [entry.get("") for entry in _indexed(params, name)]
    return [_long(v, name) for v in values]


def _user_amounts(params: Mapping[str, str]) -> list[tuple[int, float]]:
    name = "UserAmountModelList"
    whole = _json_list(params, name)
    raw: list[object] = whole if whole is not None else list(_indexed(params, name))
    if not raw:
        raise _missing(name)
    if len(raw) > MAX_SEND_ENTRIES:
        raise _invalid(name, f"at most {MAX_SEND_ENTRIES} users a call")
    entries = []
    for index, entry in enumerate(raw, start=1):
        if not isinstance(entry, dict):
            raise _invalid(f"{name}.{index}", "expected Amount and Uid")
        fields = {k[:1].upper() + k[1:]: v for k, v in entry.items()}
        uid = fields.get("Uid", fields.get("UserId"))
        if uid is None or fields.get("Amount") is None:
            raise _missing(f"{name}.{index}.{'Amount' if uid is not None else 'Uid'}")
        entries.append((_long(uid, f"{name}.{index}.Uid"), _amount(fields["Amount"], f"{name}.{index}.Amount")))
    return entries


# --- the actions ----------------------------------------------------------------------------------------


def _known_seller(store: Store, seller_id: int) -> None:
    if not store.aliyun.seller_exists(seller_id):
        raise Refusal(NO_AUTHORITY, f"No authority over seller {seller_id}.")


def send_coupon(store: Store, params: Mapping[str, str], effects: Effects) -> Result:
    """One coupon of the template per (uid, amount), all or none. ``RequestId`` and ``FromApp`` are required
    (seed 003); ``Bid`` and ``Operator``, which the SDK also sends, are optional: ``Bid`` must be a Long."""
    seller_id = _required_long(params, "SellerId")
    template_id = _required_long(params, "TemplateId")
    entries = _user_amounts(params)
    _required_texts(params, "RequestId", "FromApp")
    if params.get("Bid") is not None:
        _long_or_zero(params["Bid"], "Bid")
    _known_seller(store, seller_id)
    tables = store.aliyun
    template = tables.template(template_id)
    if template is None or template.seller_id != seller_id:
        raise Refusal(NOT_YOUR_TEMPLATE, f"Coupon template {template_id} was not created by seller {seller_id}.")
    now = store.now()
    if template.end_time is not None and template.end_time < now:
        raise Refusal(TEMPLATE_EXPIRED, f"Coupon template {template_id} has expired.")
    unrelated = tables.unrelated(seller_id, [uid for uid, _ in entries])
    if unrelated:
        named = ", ".join(str(uid) for uid in unrelated)
        raise Refusal(NO_RELATION, f"No distribution relationship between seller {seller_id} and uid {named}.")
    above = [uid for uid, amount in entries if amount > template.amount]
    if above:
        text = ", ".join(str(uid) for uid in above)
        raise Refusal(AMOUNT_TOO_HIGH, f"The amount for uid {text} is above the template's {template.amount:g}.")
    try:
        coupons = tables.send(template, entries, visible_at=now + effects.lag_s)
    except SendRefused as refused:
        raise Refusal(LIMIT_EXCEEDED, f"The issuance limit is exceeded: {refused}.") from None
    data = [{"Amount": c.amount, "Uid": c.uid, "UserId": c.uid, "YouhuiId": c.id} for c in coupons]
    return Result(data, len(data), len(data))


def get_coupon_page(store: Store, params: Mapping[str, str], effects: Effects) -> Result:
    """One page of the seller's coupons (of a template, of some uids), by coupon id; TotalCount counts all."""
    seller_id = _required_long(params, "SellerId")
    page_no = _required_long(params, "PageNo")
    page_size = _required_long(params, "PageSize")
    _required_texts(params, "RequestId", "FromApp")
    if page_size > MAX_PAGE_SIZE:
        raise _invalid("PageSize", f"from 1 to {MAX_PAGE_SIZE}")
    template = params.get("TemplateId")
    uids = tuple(_longs(params, "Uids"))
    _known_seller(store, seller_id)
    query = PageQuery(
        seller_id=seller_id,
        template_id=None if not template else _long(template, "TemplateId"),
        uids=uids,
        offset=(page_no - 1) * page_size,
        limit=page_size,
        hidden=effects.hidden,
    )
    coupons, total = store.aliyun.page(query)
    data = [coupon_json(c) for c in coupons]
    return Result(data, len(data), total)


def discard_coupon_list(store: Store, params: Mapping[str, str], effects: Effects) -> Result:
    """Void coupons (status ABANDONED): all of them, or none when one does not exist."""
    ids = _longs(params, "CouponList")
    if not ids:
        raise _missing("CouponList")
    missing = store.aliyun.discard(ids, visible_at=store.now() + effects.lag_s)
    if missing:
        text = ", ".join(str(i) for i in missing)
        raise Refusal(COUPON_NOT_FOUND, f"There is no coupon {text}.", data=False)
    return Result(True, len(ids), len(ids))


@functools.lru_cache(maxsize=65536)  # coupons sent together or seeded together share their times
def _time(seconds: float) -> str:
    return datetime.fromtimestamp(seconds, CHINA).strftime("%Y-%m-%d %H:%M:%S")


def coupon_json(coupon: AliyunCoupon) -> JsonObject:
    """A GetCouponPage item with every field of the SDK's model (a voucher: no threshold, usable once)."""
    used = coupon.status == "EXHAUSTED"
    return {
        "Amount": coupon.amount,
        "CertainMoney": 0.0,
        "CouponId": coupon.id,
        "CouponType": "VOUCHER",
        "Currency": {"CurrencyCode": coupon.currency},
        "Description": f"Coupon of template {coupon.template_id}",
        "DiscountRate": None,
        "EndTime": _time(coupon.end_time),
        "FrozenAmount": 0.0,
        "FrozenCount": 0,
        "PromotionId": coupon.template_id,
        "SellerId": coupon.seller_id,
        "StartTime": _time(coupon.start_time),
        "Status": coupon.status,
        "TemplateId": coupon.template_id,
        "UniversalType": "UNIVERSAL",
        "UpperLimit": None,
        "UsageCount": 1,
        "UsedAmount": coupon.amount if used else 0.0,
        "UsedCount": 1 if used else 0,
        "UserId": coupon.uid,
    }


ACTIONS: Mapping[str, Action] = {
    a.name: a
    for a in (
        Action("SendCoupon", "send", send_coupon),
        Action("GetCouponPage", "getpage", get_coupon_page),
        Action("DiscardCouponList", "discard", discard_coupon_list),
    )
}
