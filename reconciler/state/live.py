"""Live state: what a vendor says was already issued in each declared scope."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal

from reconciler.state.desired import Scope, Target


@dataclass(frozen=True, slots=True)
class FaceValue:
    """What one coupon of a class or template is worth."""

    amount: Decimal
    currency: str
    coupon_type: str | None = None


@dataclass(frozen=True, slots=True)
class IssuedCoupon:
    """A coupon held by one target.

    ``status`` is the vendor's word for its state (msads: dispatched / claimed / redeemed;
    aliyun: AVAILABLE / EXHAUSTED / ABANDONED / EXPIRED). ``amount`` is its face value when known.
    ``issued_at`` is the date the vendor shows with it, as it shows it.

    ``issue_date`` is when the coupon was issued as the vendor's own fields date it (timezone-aware), None when
    they do not date its issue; which fields do is the provider's knowledge (``reconciler.providers``).
    ``received`` is False when the target only redeemed a coupon issued to another (an emailed coupon redeemed by
    an account): the target holds it, but it was not paid to it. Neither is saved in a plan, nor compared.

    What happened to it after, for ``couponctl status`` (neither saved in a plan nor compared either):
    ``claimed`` is True when the vendor shows it held by an account (msads: ``ClaimInfo`` or a redemption; aliyun:
    always, SendCoupon puts it in the uid's account); ``redeemed`` when the vendor shows it used (msads:
    ``IsRedeemed`` or ``RedemptionInfo``; aliyun: Status ``EXHAUSTED`` or a ``UsedAmount`` above zero);
    ``redemption_date`` when the vendor dates that use (msads: ``RedemptionInfo.RedemptionDate``; aliyun does not).
    """

    code: str
    status: str
    amount: Decimal | None = None
    currency: str | None = None
    issued_at: str | None = None
    issue_date: datetime | None = field(default=None, compare=False)
    received: bool = field(default=True, compare=False)
    claimed: bool = field(default=False, compare=False)
    redeemed: bool = field(default=False, compare=False)
    redemption_date: datetime | None = field(default=None, compare=False)


@dataclass(frozen=True)
class ScopeLive:
    """The live state of one scope.

    ``exists`` is False when the vendor knows no coupon of the class or template for the owner.
    ``available`` is the inventory still issuable (None when the vendor does not tell).
    ``issued`` maps each target to the coupons it holds (more than one if it was paid twice).
    ``currency`` is what the scope's amounts are in when known without a face value (an aliyun template
    with no coupon yet: its amounts are CNY).
    ``advisories`` are what the vendor's rules say of issuing in this scope, as (code, message) pairs: the plan
    shows them as warnings when it issues in the scope (msads: an Acquisition class is for new customers only).
    """

    scope: Scope
    exists: bool
    face_value: FaceValue | None
    available: int | None
    issued: Mapping[Target, tuple[IssuedCoupon, ...]]
    coupons_read: int = 0
    api_calls: int = 0
    currency: str | None = None
    advisories: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class LiveState:
    """Live state per declared scope."""

    scopes: Mapping[Scope, ScopeLive] = field(default_factory=dict)


@dataclass(frozen=True)
class JournalView:
    """What couponctl's own journal says of one scope, for the planner.

    ``issued``: targets an issuing call succeeded for (or that a read later proved issued);
    ``in_doubt``: targets whose last call has an unknown outcome, not yet resolved;
    ``managed``: every target couponctl issued to or may have;
    ``read_lag_s``, ``missing``, ``missing_s``: the read lag apply's reads observed of the coupons couponctl issued
    in the scope (:class:`reconciler.apply.journal.ReadLag`);
    ``not_issued``: for each target with items resolved as not issued, how many, and how many of its items hold a
    coupon (so that a read showing more coupons than those tells that a resolved call was issued after all).
    """

    issued: frozenset[Target] = frozenset()
    in_doubt: frozenset[Target] = frozenset()
    managed: frozenset[Target] = frozenset()
    read_lag_s: float | None = None
    missing: int = 0
    missing_s: float | None = None
    not_issued: Mapping[Target, tuple[int, int]] = field(default_factory=dict)
