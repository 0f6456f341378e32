"""The sandbox seed file: YAML read with line numbers and checked into frozen values.

Every problem in the file is reported at once, each with its file, line, column and field
(:class:`~reconciler.errors.InputError`). The shape is documented in docs/sandbox.md.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import TypeVar

import yaml

from reconciler.errors import InputError, Problem
from reconciler.sandbox.aliyun_seed import AliyunSeed, parse_aliyun
from reconciler.sandbox.yaml_reader import NodeReader

INT32_MAX = 2**31 - 1
LONG_MAX = 2**63 - 1
MAX_COUPONS_PER_CLASS = 1_000_000
DEFAULT_TOKEN_LIFETIME_S = 3600
DEFAULT_REFRESH_LIFETIME_S = 90 * 86400  # "90 days for all other scenarios" (Microsoft identity platform)
COUPON_TYPES = ("Acquisition", "Retention")

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class ClassSeed:
    """A coupon class and how many coupons to mint from it. Dates are UTC calendar days."""

    name: str
    customer_id: int
    coupon_type: str
    amount: float
    currency: str
    coupons: int
    spend_threshold: float = 0.0
    percent_off: float | None = None
    active_duration: int | None = None
    start_date: date | None = None
    end_date: date | None = None
    expiration_date: date | None = None
    feature_id: int | None = None  # a feature adoption class: its coupons are for that feature only


@dataclass(frozen=True, slots=True)
class AccountSeed:
    """An advertiser account: ``customer_id`` manages it, ``bills_to`` is the customer it bills to."""

    id: int
    number: str
    customer_id: int
    bills_to: int
    history: bool = False  # an existing customer's account: it cannot redeem an Acquisition coupon


@dataclass(frozen=True, slots=True)
class CustomerSeed:
    id: int
    name: str | None
    accounts: tuple[AccountSeed, ...]
    classes: tuple[ClassSeed, ...]


@dataclass(frozen=True, slots=True)
class TokenSeed:
    """A static access token; ``customers`` is its reach (None: every customer)."""

    token: str
    customers: frozenset[int] | None = None
    expired: bool = False


@dataclass(frozen=True, slots=True)
class OAuthClientSeed:
    """An OAuth client allowed the refresh_token grant; tokens it gets reach ``customers`` (None: all)."""

    client_id: str
    refresh_token: str
    client_secret: str | None = None
    customers: frozenset[int] | None = None
    token_lifetime_s: int = DEFAULT_TOKEN_LIFETIME_S
    refresh_lifetime_s: int = DEFAULT_REFRESH_LIFETIME_S
    revoke_on_rotation: bool = False


@dataclass(frozen=True, slots=True)
class MsadsSeed:
    developer_token: str
    access_tokens: tuple[TokenSeed, ...]
    oauth_clients: tuple[OAuthClientSeed, ...]
    customers: tuple[CustomerSeed, ...]
    strict_predicates: bool = False  # predicate.md's four-character rule enforced on CouponClassName values


@dataclass(frozen=True, slots=True)
class Seed:
    """A checked seed file: its Microsoft Advertising and Alibaba Cloud sections (at least one of them)."""

    msads: MsadsSeed | None
    aliyun: AliyunSeed | None = None


def summary(loaded: Seed) -> str:
    """What a seed holds, in one line: its customers, accounts, classes and coupons; its sellers, users and
    templates."""
    parts = []
    if loaded.msads is not None:
        customers = loaded.msads.customers
        accounts = sum(len(c.accounts) for c in customers)
        classes = [k for c in customers for k in c.classes]
        coupons = sum(k.coupons for k in classes)
        parts.append(
            f"{len(customers)} customers, {accounts} accounts, {len(classes)} coupon classes, {coupons} coupons"
        )
    if loaded.aliyun is not None:
        sellers = loaded.aliyun.sellers
        users = sum(len(s.users) for s in sellers)
        templates = sum(len(s.templates) for s in sellers)
        parts.append(f"aliyun: {len(sellers)} sellers, {users} end users, {templates} coupon templates")
    return "; ".join(parts)


def default_account_number(account_id: int) -> str:
    """A stable account number for an account seeded without one (real ones look like ``F1234567``)."""
    return f"X{account_id % 10**7:07d}"


def load_seed(path: Path) -> Seed:
    """Read and check a seed file; raise InputError listing every problem."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise InputError([Problem(str(path), 0, 0, "", f"cannot read the seed file: {exc.strerror or exc}")]) from None
    return parse_seed(text, str(path))


def parse_seed(text: str, file: str) -> Seed:
    """Check seed YAML ``text`` (named ``file`` in problems)."""
    reader = NodeReader(file)
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line, column = (mark.line + 1, mark.column + 1) if mark is not None else (0, 0)
        raise InputError([Problem(file, line, column, "", f"not valid YAML: {exc}")]) from None
    seed = _seed(reader, root)
    if reader.problems or seed is None:
        if not reader.problems:
            reader.problem(root, "", "the seed file is empty")
        raise InputError(reader.problems)
    return seed


# --- the shape ------------------------------------------------------------------------------------------


@dataclass
class _Refs:
    """What can only be checked once the whole file is read: uniqueness and references between customers."""

    once: list[tuple[str, object, yaml.Node, str]] = field(default_factory=list)  # kind, value, where
    customers: list[tuple[int, yaml.Node, str]] = field(default_factory=list)  # referenced customer ids


def _seed(r: NodeReader, root: yaml.Node | None) -> Seed | None:
    if root is None:
        return None
    top = r.mapping(root, "", required=(), known=("msads", "aliyun"))
    if top is None:
        return None
    if not top:
        r.problem(root, "", "the seed file needs an msads or an aliyun section")
        return None
    msads = _msads(r, top["msads"]) if "msads" in top else None
    aliyun = parse_aliyun(r, top["aliyun"]) if "aliyun" in top else None
    if ("msads" in top and msads is None) or ("aliyun" in top and aliyun is None):
        return None
    return Seed(msads, aliyun)


def _msads(r: NodeReader, node: yaml.Node) -> MsadsSeed | None:
    m = r.mapping(
        node,
        "msads",
        required=("developerToken", "customers"),
        known=("developerToken", "accessTokens", "users", "oauthClients", "customers", "strictPredicates"),
    )
    if m is None:
        return None
    refs = _Refs()
    developer_token = r.opt(m, "developerToken", "msads.developerToken", r.secret)
    customers = r.items(m.get("customers"), "msads.customers", lambda r_, n, f: _customer(r_, n, f, refs))
    tokens = [TokenSeed(t) for t in r.items(m.get("accessTokens"), "msads.accessTokens", _token(refs))]
    tokens += r.items(m.get("users"), "msads.users", lambda r_, n, f: _user(r_, n, f, refs))
    clients = r.items(m.get("oauthClients"), "msads.oauthClients", lambda r_, n, f: _client(r_, n, f, refs))
    strict = r.opt(m, "strictPredicates", "msads.strictPredicates", r.boolean)
    _check(r, refs, {c.id for c in customers})
    if developer_token is None:
        return None
    return MsadsSeed(developer_token, tuple(tokens), tuple(clients), tuple(customers), bool(strict))


def _token(refs: _Refs) -> Callable[[NodeReader, yaml.Node, str], str | None]:
    def read(r: NodeReader, node: yaml.Node, field: str) -> str | None:
        token = r.secret(node, field)
        if token is not None:
            refs.once.append(("access token", token, node, field))
        return token

    return read


def _user(r: NodeReader, node: yaml.Node, field: str, refs: _Refs) -> TokenSeed | None:
    m = r.mapping(node, field, required=("accessToken",), known=("accessToken", "customers", "expired"))
    if m is None:
        return None
    token = r.opt(m, "accessToken", f"{field}.accessToken", lambda n, f: _token(refs)(r, n, f))
    expired = r.opt(m, "expired", f"{field}.expired", r.boolean)
    customers = _reach(r, m, field, refs)
    return None if token is None else TokenSeed(token, customers, bool(expired))


def _client(r: NodeReader, node: yaml.Node, field: str, refs: _Refs) -> OAuthClientSeed | None:
    m = r.mapping(
        node,
        field,
        required=("clientId", "refreshToken"),
        known=(
            "clientId",
            "clientSecret",
            "refreshToken",
            "customers",
            "tokenLifetimeSeconds",
            "refreshTokenLifetimeSeconds",
            "revokeOnRotation",
        ),
    )
    if m is None:
        return None
    client_id = r.opt(m, "clientId", f"{field}.clientId", r.secret)
    if client_id is not None:
        refs.once.append(("OAuth client", client_id, m["clientId"], f"{field}.clientId"))
    refresh = r.opt(m, "refreshToken", f"{field}.refreshToken", r.secret)
    secret = r.opt(m, "clientSecret", f"{field}.clientSecret", r.secret)
    lifetime = r.opt(m, "tokenLifetimeSeconds", f"{field}.tokenLifetimeSeconds", r.integer_in(1, 10**7))
    refresh_lifetime = r.opt(
        m, "refreshTokenLifetimeSeconds", f"{field}.refreshTokenLifetimeSeconds", r.integer_in(1, 10**9)
    )
    revoke = r.opt(m, "revokeOnRotation", f"{field}.revokeOnRotation", r.boolean)
    customers = _reach(r, m, field, refs)
    if client_id is None or refresh is None:
        return None
    return OAuthClientSeed(
        client_id,
        refresh,
        secret,
        customers,
        lifetime or DEFAULT_TOKEN_LIFETIME_S,
        refresh_lifetime or DEFAULT_REFRESH_LIFETIME_S,
        bool(revoke),
    )


def _reach(r: NodeReader, m: dict[str, yaml.Node], field: str, refs: _Refs) -> frozenset[int] | None:
    """The customers a token reaches: absent means every seeded customer."""
    if "customers" not in m:
        return None
    ids = r.integer_in(1, LONG_MAX)

    def read(r_: NodeReader, node: yaml.Node, where: str) -> int | None:
        customer = ids(node, where)
        if customer is not None:
            refs.customers.append((customer, node, where))
        return customer

    return frozenset(r.items(m["customers"], f"{field}.customers", read))


def _customer(r: NodeReader, node: yaml.Node, field: str, refs: _Refs) -> CustomerSeed | None:
    m = r.mapping(node, field, required=("id",), known=("id", "name", "accounts", "classes"))
    if m is None:
        return None
    customer_id = r.opt(m, "id", f"{field}.id", r.integer_in(1, LONG_MAX))
    if customer_id is not None:
        refs.once.append(("customer", customer_id, m["id"], f"{field}.id"))
    name = r.opt(m, "name", f"{field}.name", r.string)
    owner = customer_id or 0
    accounts = r.items(m.get("accounts"), f"{field}.accounts", lambda r_, n, f: _account(r_, n, f, owner, refs))
    classes = r.items(m.get("classes"), f"{field}.classes", lambda r_, n, f: _class(r_, n, f, owner, refs))
    if customer_id is None:
        return None
    return CustomerSeed(customer_id, name, tuple(accounts), tuple(classes))


def _account(r: NodeReader, node: yaml.Node, field: str, customer_id: int, refs: _Refs) -> AccountSeed | None:
    ids = r.integer_in(1, INT32_MAX)  # DistributeCoupons takes account ids as 32-bit ints
    if isinstance(node, yaml.ScalarNode):
        account_id, number, bills_to, history = ids(node, field), None, None, None
    else:
        m = r.mapping(node, field, required=("id",), known=("id", "number", "billsTo", "history"))
        if m is None:
            return None
        account_id = r.opt(m, "id", f"{field}.id", ids)
        number = r.opt(m, "number", f"{field}.number", r.string)
        bills_to = r.opt(m, "billsTo", f"{field}.billsTo", r.integer_in(1, LONG_MAX))
        history = r.opt(m, "history", f"{field}.history", r.boolean)
        if bills_to is not None:
            refs.customers.append((bills_to, m["billsTo"], f"{field}.billsTo"))
    if account_id is None:
        return None
    refs.once.append(("account", account_id, node, field))
    number = number or default_account_number(account_id)
    return AccountSeed(account_id, number, customer_id, bills_to or customer_id, bool(history))


_CLASS_KEYS = (
    "name",
    "type",
    "amount",
    "currency",
    "coupons",
    "spendThreshold",
    "percentOff",
    "activeDuration",
    "startDate",
    "endDate",
    "expirationDate",
    "featureId",
)


def _class(r: NodeReader, node: yaml.Node, field: str, customer_id: int, refs: _Refs) -> ClassSeed | None:
    m = r.mapping(node, field, required=("name", "type", "amount", "currency", "coupons"), known=_CLASS_KEYS)
    if m is None:
        return None

    def get(key: str, check: Callable[[yaml.Node, str], T | None]) -> T | None:
        return r.opt(m, key, f"{field}.{key}", check)

    name = get("name", r.string)
    if name is not None:
        # DistributeCoupons names a class without its customer: class names are unique in the sandbox.
        refs.once.append(("coupon class", name, m["name"], f"{field}.name"))
    coupon_type = get("type", r.choice(COUPON_TYPES))
    amount = get("amount", r.number_at_least(0))
    currency = get("currency", r.pattern(r"[A-Z]{3}", "a three-letter ISO currency code such as USD"))
    coupons = get("coupons", r.integer_in(0, MAX_COUPONS_PER_CLASS))
    start, end = get("startDate", r.date), get("endDate", r.date)
    if start and end and end < start:
        r.problem(m["endDate"], f"{field}.endDate", "endDate is before startDate")
    spend = get("spendThreshold", r.number_at_least(0))
    percent = get("percentOff", r.number_at_least(0))
    duration = get("activeDuration", r.integer_in(1, 36500))
    expiration = get("expirationDate", r.date)
    feature = get("featureId", r.integer_in(0, INT32_MAX))
    if name is None or coupon_type is None or amount is None or currency is None or coupons is None:
        return None
    return ClassSeed(
        name=name,
        customer_id=customer_id,
        coupon_type=coupon_type,
        amount=amount,
        currency=currency,
        coupons=coupons,
        spend_threshold=spend or 0.0,
        percent_off=percent,
        active_duration=duration,
        start_date=start,
        end_date=end,
        expiration_date=expiration,
        feature_id=feature,
    )


def _check(r: NodeReader, refs: _Refs, customer_ids: set[int]) -> None:
    seen: set[tuple[str, object]] = set()
    for kind, value, node, where in refs.once:
        if (kind, value) in seen:
            named = "this access token" if kind == "access token" else f"{kind} {value}"  # never echo a token
            r.problem(node, where, f"{named} is seeded twice")
        seen.add((kind, value))
    for customer, node, where in refs.customers:
        if customer not in customer_ids:
            r.problem(node, where, f"customer {customer} is not seeded")
