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
MAX_FAC_ITEMS = 100  # CheckFeatureAdoptionCouponEligibility AccountIds, ClaimFeatureAdoptionCoupons pairs
MIN_PREDICATE_VALUE = 4  # predicate.md: a Value's length "must be four or greater"
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
        principal = replace(authenticate(store, headers), customer_header=headers.get("customerid"))
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
    customers, query, claim_info = _search_query(body, strict=store.strict_predicates())
    query = replace(query, hidden=effects.hidden)
    for customer_id in customers:
        _check_access(store, principal, customer_id)
    if len(customers) > 1:  # CustomerId = a AND CustomerId = b: nothing can match
        return {"Coupons": []}
    return {"Coupons": [coupon_json(c, claim_info=claim_info) for c in store.search(query)]}


def _search_query(body: JsonObject, *, strict: bool = False) -> tuple[set[int], CouponQuery, bool]:
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
            if strict and len(value) < MIN_PREDICATE_VALUE:  # predicate.md; CustomerId: an id, not a search string
                raise wire.PREDICATE_INVALID.fault(
                    f"The CouponClassName value {value!r} is shorter than {MIN_PREDICATE_VALUE} characters."
                )
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
    """Each account claims one available coupon of the class; PartialErrors is aligned with AccountIds.

    The body names no customer: the class is the one of the customer in the ``CustomerId`` header. A missing or
    malformed header, a class that customer does not own, or a FeatureId that does not fit the class is answered
    with ``OperationErrors`` and nothing is issued.
    """
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
    if body.get("SendNotification") is None:  # required, not nillable (distributecoupons.md, WSDL)
        raise wire.NULL_PARAMETER.fault("SendNotification is required.")
    notify = body["SendNotification"]
    if not isinstance(notify, bool):
        raise _invalid("SendNotification must be true or false.")
    header = principal.customer_header
    if header is None or not header.strip():
        return _operation_errors(wire.MISSING_HEADERS.code, wire.MISSING_HEADERS.message, "CustomerId header")
    customer_id = wire.parse_long(header)
    if customer_id is None or customer_id <= 0:
        return _refused(wire.INVALID_INPUT, f"The CustomerId header {header!r} is not a customer id.")
    _check_access(store, principal, customer_id)
    coupon_class = store.customer_class(customer_id, class_name)
    if coupon_class is None:
        return _refused(wire.ENTITY_NOT_EXISTENT, f"Customer {customer_id} has no coupon class {class_name!r}.")
    feature = store.class_feature(coupon_class.id)
    wanted = wire.parse_int32(feature_id)
    if feature is not None and wanted != feature:
        return _refused(wire.INVALID_INPUT, f"Coupons of class {class_name!r} are for feature {feature} only.")
    partial: list[list[JsonObject]] = [[] for _ in account_ids]
    eligible: list[tuple[int, int]] = []
    taking: set[int] = set()  # a feature adoption coupon is one per account and feature, within a call too
    for index, account_id in enumerate(account_ids):
        account = store.account(account_id)
        if account is None:
            partial[index] = [wire.INVALID_ACCOUNT.operation_error(f"Account {account_id} does not exist.")]
        elif account.bills_to != coupon_class.customer_id:
            details = f"Account {account_id} does not bill to customer {coupon_class.customer_id}."
            partial[index] = [wire.NOT_AUTHORIZED.operation_error(details)]
        elif feature is not None and (account_id in taking or store.feature_claimed(account_id, feature)):
            partial[index] = [wire.EXECUTION_ERROR.operation_error(_not_eligible(account_id, feature))]
        else:
            eligible.append((index, account_id))
            taking.add(account_id)
    served = store.distribute(
        coupon_class.id,
        eligible,
        feature_id=wanted,
        notify=notify,
        visible_at=store.now() + effects.lag_s,
    )
    for index, _ in eligible:
        if index not in served:
            partial[index] = [wire.EXECUTION_ERROR.operation_error(_exhausted(class_name))]
    return {"OperationErrors": [], "PartialErrors": partial}


def _operation_errors(code: int, message: str, details: str) -> JsonObject:
    """A DistributeCoupons answer that refuses the whole request in its body (distributecoupons.md)."""
    return {"OperationErrors": [wire.operation_error(code, message, details)], "PartialErrors": []}


def _refused(code: wire.OperationCode, details: str) -> JsonObject:
    return _operation_errors(code.code, code.message, details)


def _not_eligible(account_id: int, feature_id: int) -> str:
    return f"Account {account_id} already holds a feature adoption coupon of feature {feature_id}."


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
    if coupon.coupon_type == "Acquisition" and store.has_history(account_id):  # coupon.md: new customers only
        raise wire.EXECUTION_ERROR.fault(
            f"Only new customers can redeem an Acquisition coupon; account {account_id} has history."
        )
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


# --- GetCouponInfo ----------------------------------------------------------------------------------------

# CouponInfoData.Status and CouponType are unsignedBytes whose values are not documented: the sandbox's own.
INFO_STATUS_CLAIMED = 1
INFO_STATUS_REDEEMED = 2
INFO_COUPON_TYPES = {"Acquisition": 1, "Retention": 2}


def get_coupon_info(store: Store, principal: Principal, body: JsonObject, effects: Effects) -> JsonObject:
    """The coupons held (claimed or redeemed) by accounts the customer manages, one CouponInfoData each."""
    customer_id = wire.parse_long(body.get("CustomerId"))
    if customer_id is None or customer_id <= 0:
        raise _invalid("CustomerId must be a customer id.")
    _check_access(store, principal, customer_id)
    return {"CouponInfoData": [_info(c, f) for c, f in store.held_by_customer(customer_id)]}


def _info(coupon: CouponRecord, class_feature: int | None) -> JsonObject:
    """CouponInfoData: every property present (null when nil), in the order of the REST template."""
    claim, redemption = coupon.claim, coupon.redemption
    holder = redemption.account_id if redemption is not None else claim.account_id if claim is not None else 0
    return {
        "AccountId": holder,
        "ActiveDuration": coupon.active_duration,
        "Balance": redemption.balance if redemption is not None else None,
        "ClaimDate": _moment(claim.date) if claim is not None else None,
        "CouponId": coupon.id,
        "CouponType": INFO_COUPON_TYPES.get(coupon.coupon_type or ""),
        "CouponValue": coupon.amount,
        "CurrencyCode": coupon.currency,
        "EndDate": wire.format_datetime(coupon.end_date),
        "ExpirationDate": _moment(redemption.expiration)
        if redemption
        else wire.format_datetime(coupon.expiration_date),
        "FeatureId": claim.feature_id if claim is not None and claim.feature_id is not None else class_feature,
        "PercentOff": coupon.percent_off,
        "RedemptionDate": _moment(redemption.date) if redemption is not None else None,
        "SpendToThreshold": coupon.spend_threshold,
        "StartDate": wire.format_datetime(coupon.start_date),
        "Status": INFO_STATUS_REDEEMED if redemption is not None else INFO_STATUS_CLAIMED,
        "UpfrontSpending": None,
    }


# --- Feature adoption coupons -----------------------------------------------------------------------------


def check_fac_eligibility(store: Store, principal: Principal, body: JsonObject, effects: Effects) -> JsonObject:
    """The accounts that may claim a feature adoption coupon of FeatureId: known, reached, billing to the owner
    of a class of that feature, and holding none of its coupons yet."""
    if body.get("FeatureId") is None:
        raise wire.NULL_PARAMETER.fault("FeatureId is required.")
    feature_id = wire.parse_int32(body["FeatureId"])
    if feature_id is None:
        raise _invalid("FeatureId must be a 32-bit integer.")
    eligible: list[str | None] = []
    for index, value in enumerate(_list(body, "AccountIds", MAX_FAC_ITEMS)):
        account_id = wire.parse_long(value)
        if account_id is None:
            raise _invalid(f"AccountIds[{index}] = {value!r} is not an account id.")
        if _fac_eligible(store, principal, account_id, feature_id):
            eligible.append(wire.format_long(account_id))
    return {"EligibleAccountIds": eligible}


def _fac_eligible(store: Store, principal: Principal, account_id: int, feature_id: int) -> bool:
    account = store.account(account_id)
    if account is None or not principal.reaches(account.customer_id):
        return False
    return store.fac_owner_class(account.bills_to, feature_id) is not None and not store.feature_claimed(
        account_id, feature_id
    )


def claim_fac(store: Store, principal: Principal, body: JsonObject, effects: Effects) -> JsonObject:
    """Each (account, coupon code) pair claims that coupon of a feature adoption class for the account, if the
    account is eligible for its feature; PartialErrors is aligned with AccountCouponPairs."""
    pairs = _list(body, "AccountCouponPairs", MAX_FAC_ITEMS)
    claimed: list[JsonObject] = []
    partial: list[list[JsonObject]] = []
    for index, pair in enumerate(pairs):
        if not isinstance(pair, dict):
            raise _invalid(f"AccountCouponPairs[{index}] must be a Key/Value object.")
        account_id, code = wire.parse_long(pair.get("Key")), pair.get("Value")
        if account_id is None or not isinstance(code, str) or not code:
            raise _invalid(f"AccountCouponPairs[{index}] needs an account id Key and a coupon code Value.")
        error = _claim_one(store, principal, account_id, code, effects)
        partial.append([] if error is None else [error])
        if error is None:
            claimed.append({"Key": wire.format_long(account_id), "Value": _moment(store.now())})
    return {"ClaimedDateByAccountId": claimed, "OperationErrors": [], "PartialErrors": partial}


def _claim_one(store: Store, principal: Principal, account_id: int, code: str, effects: Effects) -> JsonObject | None:
    account = store.account(account_id)
    if account is None:
        return wire.INVALID_ACCOUNT.operation_error(f"Account {account_id} does not exist.")
    if not principal.reaches(account.customer_id):
        return wire.NOT_AUTHORIZED.operation_error(f"The caller has no access to account {account_id}.")
    coupon = store.coupon_by_code(code)
    if coupon is None:
        return wire.ENTITY_NOT_EXISTENT.operation_error("There is no coupon with this code.")
    owner_class = store.coupon_class(coupon.class_name)
    feature = None if owner_class is None else store.class_feature(owner_class.id)
    if feature is None:
        return wire.INVALID_INPUT.operation_error("The coupon is not a feature adoption coupon.")
    if account.bills_to != coupon.owner_id:
        return wire.NOT_AUTHORIZED.operation_error(f"Account {account_id} does not bill to the coupon's owner.")
    if store.feature_claimed(account_id, feature):
        return wire.EXECUTION_ERROR.operation_error(_not_eligible(account_id, feature))
    if not store.claim(coupon.id, account_id, feature_id=feature, visible_at=store.now() + effects.lag_s):
        return wire.EXECUTION_ERROR.operation_error("The coupon is not available.")
    return None


OPERATIONS = (
    Operation("search", "/CustomerBilling/v13/Coupons/Search", search_coupons),
    Operation("distribute", "/CustomerBilling/v13/Coupons/Distribute", distribute_coupons),
    Operation("dispatch", "/CustomerBilling/v13/Coupons/Dispatch", dispatch_coupons),
    Operation("redeem", "/CustomerBilling/v13/Coupon/Redeem", redeem_coupon),
    Operation("couponinfo", "/CustomerBilling/v13/CouponInfo/Query", get_coupon_info),
    Operation("faccheck", "/CustomerBilling/v13/FeatureAdoptionCouponEligibility/Check", check_fac_eligibility),
    Operation("facclaim", "/CustomerBilling/v13/FeatureAdoptionCoupons/Claim", claim_fac),
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
