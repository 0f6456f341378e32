"""The ``aliyun:`` section of the sandbox seed file: AccessKeys, sellers, their end users and coupon templates.

Read with the same NodeReader as the msads section, so every problem is reported at once with its line
(docs/sandbox.md shows the shape). A secret or a security token is never echoed in a problem.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from typing import TypeVar

import yaml

from reconciler.sandbox.yaml_reader import NodeReader

LONG_MAX = 2**63 - 1
MAX_VALID_DAYS = 36500
DEFAULT_VALID_DAYS = 365
COUPON_STATUSES = ("AVAILABLE", "EXHAUSTED", "ABANDONED", "EXPIRED")

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class AccessKeySeed:
    """An AccessKey the gateway accepts; with ``security_token`` it is an STS key and requests must carry it."""

    id: str
    secret: str
    security_token: str | None = None

    def __repr__(self) -> str:
        return f"AccessKeySeed(id={self.id!r}, secret=***)"


@dataclass(frozen=True, slots=True)
class CouponSeed:
    """A coupon already sent from a template (``amount`` None: the template's)."""

    uid: int
    amount: float | None = None
    status: str = "AVAILABLE"


@dataclass(frozen=True, slots=True)
class TemplateSeed:
    """A coupon template: the most one coupon may be worth, PerLimitNum (0: no limit), MaxRelease (None: no
    limit) and validity: ``start_date``..``end_date`` (ABSOLUTE) or ``valid_days`` from sending (RELATIVE)."""

    id: int
    seller_id: int
    amount: float
    currency: str = "CNY"
    per_limit: int = 1
    max_release: int | None = None
    valid_days: int | None = None
    start_date: date | None = None
    end_date: date | None = None
    coupons: tuple[CouponSeed, ...] = ()


@dataclass(frozen=True, slots=True)
class SellerSeed:
    """A reseller (SellerId) and the end-user uids related to it."""

    id: int
    users: tuple[int, ...]
    templates: tuple[TemplateSeed, ...]


@dataclass(frozen=True, slots=True)
class AliyunSeed:
    access_keys: tuple[AccessKeySeed, ...]
    sellers: tuple[SellerSeed, ...]


@dataclass
class _Once:
    """Values that must be unique in the section: kind, value, where (checked once the whole section is read)."""

    seen: list[tuple[str, object, yaml.Node, str]] = field(default_factory=list)

    def add(self, kind: str, value: object, node: yaml.Node, where: str) -> None:
        self.seen.append((kind, value, node, where))

    def check(self, r: NodeReader) -> None:
        found: set[tuple[str, object]] = set()
        for kind, value, node, where in self.seen:
            if (kind, value) in found:
                r.problem(node, where, f"{kind} {value} is seeded twice")
            found.add((kind, value))


def parse_aliyun(r: NodeReader, node: yaml.Node) -> AliyunSeed | None:
    """The section at ``node``; None when it cannot be used (its problems are in ``r``)."""
    m = r.mapping(node, "aliyun", required=("accessKeys", "sellers"), known=("accessKeys", "sellers"))
    if m is None:
        return None
    once = _Once()
    keys = r.items(m.get("accessKeys"), "aliyun.accessKeys", lambda r_, n, f: _access_key(r_, n, f, once))
    sellers = r.items(m.get("sellers"), "aliyun.sellers", lambda r_, n, f: _seller(r_, n, f, once))
    once.check(r)
    if "accessKeys" not in m or "sellers" not in m:
        return None
    return AliyunSeed(tuple(keys), tuple(sellers))


def _access_key(r: NodeReader, node: yaml.Node, field: str, once: _Once) -> AccessKeySeed | None:
    m = r.mapping(node, field, required=("id", "secret"), known=("id", "secret", "securityToken"))
    if m is None:
        return None
    key_id = r.opt(m, "id", f"{field}.id", r.secret)
    if key_id is not None:
        once.add("AccessKey", key_id, m["id"], f"{field}.id")
    secret = r.opt(m, "secret", f"{field}.secret", r.secret)
    token = r.opt(m, "securityToken", f"{field}.securityToken", r.secret)
    if key_id is None or secret is None:
        return None
    return AccessKeySeed(key_id, secret, token)


def _seller(r: NodeReader, node: yaml.Node, field: str, once: _Once) -> SellerSeed | None:
    m = r.mapping(node, field, required=("id",), known=("id", "users", "templates"))
    if m is None:
        return None
    ids = r.integer_in(1, LONG_MAX)
    seller_id = r.opt(m, "id", f"{field}.id", ids)
    if seller_id is not None:
        once.add("seller", seller_id, m["id"], f"{field}.id")
    seen: set[int] = set()

    def user(r_: NodeReader, n: yaml.Node, f: str) -> int | None:
        uid = ids(n, f)
        if uid is not None and uid in seen:
            r_.problem(n, f, f"uid {uid} is listed twice")
            return None
        if uid is not None:
            seen.add(uid)
        return uid

    users = r.items(m.get("users"), f"{field}.users", user)
    owner = seller_id or 0
    templates = r.items(
        m.get("templates"), f"{field}.templates", lambda r_, n, f: _template(r_, n, f, owner, seen, once)
    )
    if seller_id is None:
        return None
    return SellerSeed(seller_id, tuple(users), tuple(templates))


_TEMPLATE_KEYS = ("id", "amount", "currency", "perLimit", "maxRelease", "validDays", "startDate", "endDate", "coupons")


def _template(
    r: NodeReader, node: yaml.Node, field: str, seller_id: int, users: set[int], once: _Once
) -> TemplateSeed | None:
    m = r.mapping(node, field, required=("id", "amount"), known=_TEMPLATE_KEYS)
    if m is None:
        return None

    def get(key: str, check: Callable[[yaml.Node, str], T | None]) -> T | None:
        return r.opt(m, key, f"{field}.{key}", check)

    template_id = get("id", r.integer_in(1, LONG_MAX))
    if template_id is not None:
        # SendCoupon names the seller too, but GetCouponPage may name a template alone: unique in the sandbox.
        once.add("template", template_id, m["id"], f"{field}.id")
    amount = get("amount", r.number_at_least(0.01))
    currency = get("currency", r.pattern(r"[A-Z]{3}", "a three-letter ISO currency code such as CNY"))
    per_limit = get("perLimit", r.integer_in(0, 1_000_000))
    max_release = get("maxRelease", r.integer_in(0, 100_000_000))
    valid_days = get("validDays", r.integer_in(1, MAX_VALID_DAYS))
    start, end = get("startDate", r.date), get("endDate", r.date)
    if start and end and end < start:
        r.problem(m["endDate"], f"{field}.endDate", "endDate is before startDate")
    if valid_days is not None and (start or end):
        r.problem(m["validDays"], f"{field}.validDays", "give validDays or startDate/endDate, not both")
    coupons = r.items(m.get("coupons"), f"{field}.coupons", lambda r_, n, f: _coupon(r_, n, f, users))
    if template_id is None or amount is None:
        return None
    return TemplateSeed(
        id=template_id,
        seller_id=seller_id,
        amount=amount,
        currency=currency or "CNY",
        per_limit=1 if per_limit is None else per_limit,
        max_release=max_release,
        valid_days=valid_days if valid_days is not None or start or end else DEFAULT_VALID_DAYS,
        start_date=start,
        end_date=end,
        coupons=tuple(coupons),
    )


def _coupon(r: NodeReader, node: yaml.Node, field: str, users: set[int]) -> CouponSeed | None:
    m = r.mapping(node, field, required=("uid",), known=("uid", "amount", "status"))
    if m is None:
        return None
    uid = r.opt(m, "uid", f"{field}.uid", r.integer_in(1, LONG_MAX))
    if uid is not None and uid not in users:
        r.problem(m["uid"], f"{field}.uid", f"uid {uid} is not one of the seller's users")
    amount = r.opt(m, "amount", f"{field}.amount", r.number_at_least(0.01))
    status = r.opt(m, "status", f"{field}.status", r.choice(COUPON_STATUSES))
    if uid is None:
        return None
    return CouponSeed(uid, amount, status or "AVAILABLE")
