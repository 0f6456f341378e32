"""The values the sandbox store reads and writes: accounts, classes, coupons as seen at a moment, queries,
access tokens and logged calls."""

from __future__ import annotations

import enum
import hashlib
from dataclasses import dataclass
from datetime import date


class RefreshUse(enum.Enum):
    """What redeeming a refresh token did: rotated it, or why not."""

    ROTATED = "rotated"
    UNKNOWN = "unknown"  # never issued to this client
    EXPIRED = "expired"  # past the client's refresh lifetime
    REVOKED = "revoked"  # already rotated, and the client revokes rotated tokens


@dataclass(frozen=True, slots=True)
class Account:
    id: int
    number: str
    customer_id: int
    bills_to: int


@dataclass(frozen=True, slots=True)
class CouponClass:
    id: int
    name: str
    customer_id: int


# Claim, Redemption and CouponRecord are not frozen: Search builds one per coupon of every page, and a frozen
# dataclass's __init__ costs about five times a plain one's. Nothing changes them once built.


@dataclass(slots=True)
class Claim:
    account_id: int
    account_number: str | None
    date: float
    feature_id: int | None


@dataclass(slots=True)
class Redemption:
    account_id: int
    account_number: str | None
    bills_to: int | None
    date: float
    expiration: float
    activation: float | None
    balance: float


@dataclass(slots=True)
class CouponRecord:
    """A coupon with every field of the Coupon object, as seen at some moment."""

    id: int
    code: str
    class_name: str
    owner_id: int
    coupon_type: str | None
    amount: float
    spend_threshold: float
    currency: str | None
    percent_off: float | None
    active_duration: int | None
    expiration_date: date | None
    start_date: date | None
    end_date: date | None
    send_to_email: str | None
    send_to_date: float | None
    claim: Claim | None
    redemption: Redemption | None


@dataclass(frozen=True, slots=True)
class Hidden:
    """The coupons a read does not show (the ``hide-share`` fault): those whose draw, a hash of ``salt`` and the
    coupon's key (msads: its code; aliyun: its CouponId), falls below ``share``. The same coupon is hidden from every
    read, for good."""

    share: float
    salt: str

    def hides(self, key: object) -> bool:
        return draw(f"{self.salt}{key}") < self.share


#: The SQL function over :func:`draw` that the stores register, to filter reads for a :class:`Hidden` rule.
DRAW_FUNCTION = "fault_draw"


def hidden_condition(key: str) -> str:
    """A WHERE condition true for the coupons a :class:`Hidden` rule shows, ``key`` the SQL expression of the
    coupon's key (parameters: :func:`hidden_parameters`)."""
    return f"{DRAW_FUNCTION}(? || {key}) >= ?"


def hidden_parameters(hidden: Hidden) -> tuple[str, float]:
    return (hidden.salt, hidden.share)


def draw(text: str) -> float:
    """A number in [0, 1) that depends only on ``text`` (the first 8 bytes of its SHA-256)."""
    return int.from_bytes(hashlib.sha256(text.encode()).digest()[:8], "big") / 2**64


@dataclass(frozen=True, slots=True)
class CouponQuery:
    """SearchCoupons after validation: every non-empty condition must hold (AND)."""

    customer_id: int
    class_names: tuple[str, ...] = ()
    redeemed: tuple[bool, ...] = ()
    start_on_or_after: tuple[date, ...] = ()
    order_by: str | None = None  # "class_name" or "start_date"; ties and the default follow minting order
    descending: bool = False
    offset: int = 0
    limit: int = 100
    hidden: Hidden | None = None


@dataclass(frozen=True, slots=True)
class AccessToken:
    """An accepted access token: the customers it reaches (None: all) and when it expires (None: never)."""

    customers: frozenset[int] | None
    expires_at: float | None


@dataclass(frozen=True, slots=True)
class CallRecord:
    """One logged call. ``headers`` never holds a credential value; ``body`` is redacted by the endpoint."""

    at: float
    endpoint: str
    path: str
    status: int
    outcome: str
    code: int | str | None
    tracking_id: str
    headers: dict[str, str]
    body: str
