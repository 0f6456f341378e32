"""The coupon operations of Customer Billing v13 REST: request checks, semantics and JSON (notes 1.2, 2, 3).

SearchCoupons reads; DispatchCoupons (emails) and DistributeCoupons (account ids) issue; RedeemCoupon lets a
test play a customer redeeming. Issuing is not idempotent: every email or account id in a call takes another
coupon, as the service is understood to behave (docs/sandbox.md lists what is inferred).
"""

from __future__ import annotations

import functools
import json
import math
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime

from reconciler.sandbox import wire
from reconciler.sandbox.auth import Principal, authenticate
from reconciler.sandbox.faults import Effects, Throttle
from reconciler.sandbox.records import CouponQuery, CouponRecord
from reconciler.sandbox.store import Store
from reconciler.sandbox.wire import JsonObject, Reply

MAX_PREDICATES = 4
MAX_PAGE_SIZE = 100
MAX_DISPATCH_EMAILS = 1000
DAY_S = 86400.0
DEFAULT_REDEMPTION_LIFETIME_S = 365 * DAY_S  # when the coupon has neither ActiveDuration nor ExpirationDate

# notes 2.1.1: the only predicates SearchCoupons supports
SUPPORTED_PREDICATES = {
    "CustomerId": "Equals",
    "CouponClassName": "Equals",
    "IsRedeemed": "Equals",
    "StartDate": "GreaterThanEquals",
}
ORDER_FIELDS = {"CouponClassName": "class_name", "CouponStartDate": "start_date"}
ADDITIONAL_FIELDS = {"None", "TaxCertificate", "AccountMode", "CouponClaimInfo", "ParentCustomerNumber"}
EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s.]+")

Run = Callable[[Store, Principal, JsonObject, Effects], JsonObject]


@dataclass(frozen=True, slots=True)
class Operation:
    """An operation: its fault endpoint name, its REST path, and what it does."""

    endpoint: str
    path: str
    run: Run


def handle(
    store: Store, operation: Operation, headers: Mapping[str, str], raw: bytes, tracking_id: str, effects: Effects
) -> Reply:
    """Authenticate, parse the JSON body and run the operation; a refusal becomes its fault reply."""
    try:
        principal = authenticate(store, headers)
        return Reply(200, operation.run(store, principal, _json_body(raw), effects))
    except wire.Fault as fault:
        return Reply.of_fault(fault, tracking_id)


def _json_body(raw: bytes) -> JsonObject:
    if not raw.strip():
        raise wire.NULL_REQUEST.fault()
    try:
        body = json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        raise wire.INPUT_VALIDATION.fault("The request body is not valid JSON.") from None
    if not isinstance(body, dict):
        raise wire.INPUT_VALIDATION.fault("The request body is not a JSON object.")
    return body


def _invalid(details: str) -> wire.Fault:
    return wire.INVALID_INPUT.fault(details)


def _text(body: JsonObject, name: str) -> str:
    value = body.get(name)
    if not isinstance(value, str) or not value.strip():
        raise _invalid(f"{name} must be a non-empty string.")
    return value.strip()


def _list(body: JsonObject, name: str, limit: int | None = None) -> list[object]:
    value = body.get(name)
    if value is None or value == []:
        raise wire.LIST_EMPTY.fault(f"{name} is null or empty.")
    if not isinstance(value, list):
        raise _invalid(f"{name} must be an array.")
    if limit is not None and len(value) > limit:
        raise wire.BATCH_LIMIT.fault(f"{name} has {len(value)} items; at most {limit} are allowed.")
    return value


def _no_access(customer_id: int) -> wire.Fault:
    return wire.NOT_AUTHORIZED.fault(f"The caller has no access to customer {customer_id}.")


def _check_access(store: Store, principal: Principal, customer_id: int) -> None:
    if not principal.reaches(customer_id) or not store.customer_exists(customer_id):
        raise _no_access(customer_id)


# --- SearchCoupons ----------------------------------------------------------------------------------------


def search_coupons(store: Store, principal: Principal, body: JsonObject, effects: Effects) -> JsonObject:
    customers, query, claim_info = _search_query(body)
    query = replace(query, hidden=effects.hidden)
    for customer_id in customers:
        _check_access(store, principal, customer_id)
    if len(customers) > 1:  # CustomerId = a AND CustomerId = b: nothing can match
        return {"Coupons": []}
    return {"Coupons": [coupon_json(c, claim_info=claim_info) for c in store.search(query)]}


def _search_query(body: JsonObject) -> tuple[set[int], CouponQuery, bool]:
    predicates = body.get("Predicates")
    if predicates is not None and not isinstance(predicates, list):
        raise _invalid("Predicates must be an array.")
    predicates = predicates or []
    if len(predicates) > MAX_PREDICATES:
        raise wire.BATCH_LIMIT.fault(f"{len(predicates)} predicates; at most {MAX_PREDICATES} are allowed.")
    customers: set[int] = set()
    names: list[str] = []
    redeemed: list[bool] = []
    starts: list[date] = []
    for predicate in predicates:
        field, value = _predicate(predicate)
        if field == "CustomerId":
            customer_id = wire.parse_long(value)
            if customer_id is None or customer_id <= 0:
                raise wire.PREDICATE_INVALID.fault(f"CustomerId value {value!r} is not a customer id.")
            customers.add(customer_id)
        elif field == "CouponClassName":
            names.append(value)
        elif field == "IsRedeemed":
            if value.strip().lower() not in ("true", "false"):
                raise wire.PREDICATE_INVALID.fault(f"IsRedeemed value {value!r} is not true or false.")
            redeemed.append(value.strip().lower() == "true")
        else:
            starts.append(_day(value))
    if not customers:
        raise wire.PREDICATE_MISSING.fault("SearchCoupons needs a CustomerId Equals predicate.")
    order_by, descending = _ordering(body.get("Ordering"))
    index, size = _paging(body.get("PageInfo"))
    query = CouponQuery(
        customer_id=min(customers),
        class_names=tuple(names),
        redeemed=tuple(redeemed),
        start_on_or_after=tuple(starts),
        order_by=order_by,
        descending=descending,
        offset=index * size,
        limit=size,
    )
    return customers, query, "CouponClaimInfo" in _additional_fields(body.get("ReturnAdditionalFields"))


def _predicate(predicate: object) -> tuple[str, str]:
    if not isinstance(predicate, dict):
        raise wire.PREDICATE_INVALID.fault("A predicate must be an object with Field, Operator and Value.")
    field, operator, value = predicate.get("Field"), predicate.get("Operator"), predicate.get("Value")
    if field not in SUPPORTED_PREDICATES:
        raise wire.PREDICATE_INVALID.fault(f"Field {field!r} is not supported by SearchCoupons.")
    if operator != SUPPORTED_PREDICATES[str(field)]:
        raise wire.PREDICATE_INVALID.fault(f"Operator {operator!r} is not supported for {field}.")
    if not isinstance(value, str | int) or isinstance(value, bool) or str(value) == "":
        raise wire.PREDICATE_INVALID.fault(f"The {field} predicate needs a Value.")
    return str(field), str(value)


def _day(value: str) -> date:
    """A predicate dateTime in XML format; only year, month and day are used (UTC)."""
    try:
        moment = datetime.fromisoformat(value.strip())
    except ValueError:
        raise wire.INVALID_DATE.fault(f"StartDate value {value!r} is not a dateTime.") from None
    if moment.tzinfo is not None:
        moment = moment.astimezone(UTC)
    return moment.date()


def _ordering(ordering: object) -> tuple[str | None, bool]:
    """Only the first OrderBy is honoured (extras are ignored, as documented)."""
    if ordering is None or ordering == []:
        return None, False
    if not isinstance(ordering, list) or not isinstance(ordering[0], dict):
        raise _invalid("Ordering must be an array of OrderBy objects.")
    field, order = ordering[0].get("Field"), ordering[0].get("Order", "Ascending")
    if field not in ORDER_FIELDS:
        raise _invalid(f"SearchCoupons can order by {' or '.join(ORDER_FIELDS)}, not {field!r}.")
    if order not in ("Ascending", "Descending"):
        raise _invalid(f"Order must be Ascending or Descending, not {order!r}.")
    return ORDER_FIELDS[str(field)], order == "Descending"


def _paging(page_info: object) -> tuple[int, int]:
    if not isinstance(page_info, dict):
        raise wire.PAGE_INFO_INVALID.fault("PageInfo is required.")
    index, size = wire.parse_int32(page_info.get("Index")), wire.parse_int32(page_info.get("Size"))
    if index is None or index < 0:
        raise wire.PAGE_INFO_INVALID.fault("PageInfo.Index must be a zero-based page number.")
    if size is None or not 1 <= size <= MAX_PAGE_SIZE:
        raise wire.PAGE_INFO_INVALID.fault(f"PageInfo.Size must be from 1 to {MAX_PAGE_SIZE}.")
    return index, size


def _additional_fields(value: object) -> set[str]:
    """A flags enum on the wire: one string, comma-separated (``"CouponClaimInfo"``)."""
    if value is None:
        return set()
    if not isinstance(value, str):
        raise _invalid("ReturnAdditionalFields must be a string of comma-separated names.")
    names = {name.strip() for name in value.split(",") if name.strip()}
    unknown = sorted(names - ADDITIONAL_FIELDS)
    if unknown:
        raise _invalid(f"ReturnAdditionalFields has unknown values: {', '.join(unknown)}.")
    return names


@functools.lru_cache(maxsize=65536)  # coupons issued by one call share their dates: each is formatted once
def _moment(seconds: float | None) -> str | None:
    return None if seconds is None else wire.format_datetime(wire.from_epoch(seconds))


@functools.lru_cache(maxsize=4096)  # a store holds few distinct days
def _day_moment(day: date | None) -> str | None:
    return wire.format_datetime(day)


def coupon_json(coupon: CouponRecord, *, claim_info: bool) -> JsonObject:
    """A Coupon: every property present (null when nil), in WSDL order; ClaimInfo only when asked for and set.

    RedemptionInfo is returned only when the redeeming account bills to the coupon's owner customer.
    """
    redemption = coupon.redemption
    body: JsonObject = {
        "CouponCode": coupon.code,
        "ClassName": coupon.class_name,
        "CouponType": coupon.coupon_type,
        "Amount": coupon.amount,
        "SpendThreshold": coupon.spend_threshold,
        "CurrencyCode": coupon.currency,
        "PercentOff": coupon.percent_off,
        "ActiveDuration": coupon.active_duration,
        "ExpirationDate": _day_moment(coupon.expiration_date),
        "StartDate": _day_moment(coupon.start_date),
        "EndDate": _day_moment(coupon.end_date),
        "SendToEmail": coupon.send_to_email,
        "SendToDate": _moment(coupon.send_to_date),
        "IsRedeemed": redemption is not None,
        "RedemptionInfo": None,
    }
    if redemption is not None and redemption.bills_to == coupon.owner_id:
        body["RedemptionInfo"] = {
            "AccountId": wire.format_long(redemption.account_id),
            "AccountNumber": redemption.account_number,
            "SpendToThreshold": coupon.spend_threshold,
            "Balance": redemption.balance,
            "CurrencyCode": coupon.currency,
            "RedemptionDate": _moment(redemption.date),
            "ExpirationDate": _moment(redemption.expiration),
            "ActivationDate": _moment(redemption.activation),
        }
    if claim_info and coupon.claim is not None:
        body["ClaimInfo"] = {
            "AccountId": wire.format_long(coupon.claim.account_id),
            "AccountNumber": coupon.claim.account_number,
            "ClaimDate": _moment(coupon.claim.date),
        }
    return body


# --- DispatchCoupons --------------------------------------------------------------------------------------


def dispatch_coupons(store: Store, principal: Principal, body: JsonObject, effects: Effects) -> JsonObject:
    """Each email gets one available coupon of the class; per-email refusals are BatchErrors (by Index)."""
    emails = _list(body, "SendToEmails", MAX_DISPATCH_EMAILS)
    customer_id = wire.parse_long(body.get("CustomerId"))
    if customer_id is None or customer_id <= 0:
        raise _invalid("CustomerId must be a customer id.")
    class_name = _text(body, "CouponClassName")
    _check_access(store, principal, customer_id)
    coupon_class = store.coupon_class(class_name)
    if coupon_class is None or coupon_class.customer_id != customer_id:
        raise wire.ENTITY_NOT_EXISTENT.fault(f"Customer {customer_id} has no coupon class {class_name!r}.")
    errors: list[wire.BatchError] = []
    valid: list[tuple[int, str]] = []
    for index, email in enumerate(emails):
        if isinstance(email, str) and EMAIL.fullmatch(email.strip()):
            valid.append((index, email.strip()))
        else:
            errors.append(wire.INVALID_INPUT.batch_error(index, f"{email!r} is not a valid email address."))
    served = store.dispatch(coupon_class.id, valid, visible_at=store.now() + effects.lag_s)
    exhausted = _exhausted(class_name)
    errors += [wire.EXECUTION_ERROR.batch_error(index, exhausted) for index, _ in valid if index not in served]
    return {"PartialErrors": [e.to_json() for e in sorted(errors, key=lambda e: e.index)]}


def _exhausted(class_name: str) -> str:
    return f"No coupon of class {class_name} is available."


# --- DistributeCoupons ------------------------------------------------------------------------------------


def distribute_coupons(store: Store, principal: Principal, body: JsonObject, effects: Effects) -> JsonObject:
    """Each account claims one available coupon of the class; PartialErrors is aligned with AccountIds."""
    account_ids: list[int] = []
    for index, value in enumerate(_list(body, "AccountIds")):
        account_id = wire.parse_int32(value)
        if account_id is None:
            raise _invalid(f"AccountIds[{index}] = {value!r} is not a 32-bit integer.")
        account_ids.append(account_id)
    class_name = _text(body, "ClassName")
    feature_id = body.get("FeatureId")
    if feature_id is not None and wire.parse_int32(feature_id) is None:
        raise _invalid("FeatureId must be a 32-bit integer or null.")
    notify = body.get("SendNotification", False)
    if not isinstance(notify, bool):
        raise _invalid("SendNotification must be true or false.")
    coupon_class = store.coupon_class(class_name)
    if coupon_class is None:
        raise wire.ENTITY_NOT_EXISTENT.fault(f"There is no coupon class {class_name!r}.")
    if not principal.reaches(coupon_class.customer_id):
        raise _no_access(coupon_class.customer_id)
    partial: list[list[JsonObject]] = [[] for _ in account_ids]
    eligible: list[tuple[int, int]] = []
    for index, account_id in enumerate(account_ids):
        account = store.account(account_id)
        if account is None:
            partial[index] = [wire.INVALID_ACCOUNT.operation_error(f"Account {account_id} does not exist.")]
        elif account.bills_to != coupon_class.customer_id:
            details = f"Account {account_id} does not bill to customer {coupon_class.customer_id}."
            partial[index] = [wire.NOT_AUTHORIZED.operation_error(details)]
        else:
            eligible.append((index, account_id))
    served = store.distribute(
        coupon_class.id,
        eligible,
        feature_id=wire.parse_int32(feature_id),
        notify=notify,
        visible_at=store.now() + effects.lag_s,
    )
    for index, _ in eligible:
        if index not in served:
            partial[index] = [wire.EXECUTION_ERROR.operation_error(_exhausted(class_name))]
    return {"OperationErrors": [], "PartialErrors": partial}


# --- RedeemCoupon -----------------------------------------------------------------------------------------


def redeem_coupon(store: Store, principal: Principal, body: JsonObject, effects: Effects) -> JsonObject:
    """Redeem a coupon to an account the caller reaches, within the coupon's StartDate..EndDate."""
    account_id = wire.parse_long(body.get("AccountId"))
    if account_id is None:
        raise _invalid("AccountId must be an account id.")
    code = _text(body, "CouponCode")
    account = store.account(account_id)
    if account is None:
        raise wire.INVALID_ACCOUNT.fault(f"Account {account_id} does not exist.")
    if not principal.reaches(account.customer_id):
        raise _no_access(account.customer_id)
    coupon = store.coupon_by_code(code)
    if coupon is None:
        raise wire.ENTITY_NOT_EXISTENT.fault("There is no coupon with this code.")
    now = store.now()
    _check_redeemable(coupon, account_id, wire.from_epoch(now).date())
    if coupon.active_duration is not None:
        expiration = now + coupon.active_duration * DAY_S
    elif coupon.expiration_date is not None:
        day = coupon.expiration_date
        expiration = datetime(day.year, day.month, day.day, tzinfo=UTC).timestamp()
    else:
        expiration = now + DEFAULT_REDEMPTION_LIFETIME_S
    redeemed = store.redeem(
        coupon.id,
        account_id,
        expiration=expiration,
        activation=now if coupon.spend_threshold == 0 else None,
        balance=coupon.amount,
        visible_at=now + effects.lag_s,
    )
    if not redeemed:
        raise wire.EXECUTION_ERROR.fault("The coupon has already been redeemed.")
    return {"RedemptionDate": _moment(now)}


def _check_redeemable(coupon: CouponRecord, account_id: int, today: date) -> None:
    if coupon.redemption is not None:
        raise wire.EXECUTION_ERROR.fault("The coupon has already been redeemed.")
    if coupon.claim is not None and coupon.claim.account_id != account_id:
        raise wire.EXECUTION_ERROR.fault("The coupon was distributed to another account.")
    if coupon.start_date is not None and today < coupon.start_date:
        raise wire.EXECUTION_ERROR.fault(f"The coupon cannot be redeemed before {coupon.start_date}.")
    if coupon.end_date is not None and today > coupon.end_date:
        raise wire.EXECUTION_ERROR.fault(f"The coupon cannot be redeemed after {coupon.end_date}.")


OPERATIONS = (
    Operation("search", "/CustomerBilling/v13/Coupons/Search", search_coupons),
    Operation("distribute", "/CustomerBilling/v13/Coupons/Distribute", distribute_coupons),
    Operation("dispatch", "/CustomerBilling/v13/Coupons/Dispatch", dispatch_coupons),
    Operation("redeem", "/CustomerBilling/v13/Coupon/Redeem", redeem_coupon),
)


def throttled(tracking_id: str, throttle: Throttle) -> Reply:
    """429 with code 117; like the service (as documented), no Retry-After: callers wait out the 60 s window.
    A window a fault spec shortened (``throttle-rpm=CALLS/SECONDS``) is announced as ``Retry-After`` (whole seconds
    until it admits a call), since no client could know it."""
    reply = Reply.of_fault(wire.CALL_RATE_EXCEEDED.fault(), tracking_id)
    if throttle.shortened:
        reply.headers["Retry-After"] = str(math.ceil(throttle.retry_after_s))
    return reply


def internal_error(tracking_id: str) -> Reply:
    return Reply.of_fault(wire.INTERNAL_ERROR.fault(), tracking_id)
