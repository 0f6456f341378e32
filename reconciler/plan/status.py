"""Campaign status: what the coupons the manifests declare did at the vendor, per manifest and per label. Pure.

Every count is over **declared targets** (a target a manifest names in a scope), each counted once in its
furthest stage; only the coupons a target *received* count (an account that redeemed a coupon emailed to someone
else holds it, but was not issued it):

- ``declared``: the targets the manifest declares;
- ``issued``: declared targets holding at least one coupon of the class (whatever its status);
- ``claimed``: issued targets holding a coupon the vendor shows held by an account
  (:attr:`reconciler.state.live.IssuedCoupon.claimed`), redeemed ones included;
- ``redeemed``: issued targets holding a redeemed coupon;
- ``expired``: issued targets whose every coupon is void or expired, at least one expired, none redeemed;
- ``void``: issued targets whose every coupon is voided by the vendor (a void status other than expired, e.g.
  aliyun ABANDONED), none redeemed.

So declared >= issued >= claimed >= redeemed, and redeemed, expired and void never overlap.

Money, per currency, counts **coupons** (a target paid twice counts twice):

- ``issued_value``: the face value of the coupons declared targets received, voided ones excluded (what was
  committed);
- ``spend``: the face value of the redeemed ones (what customers used).

A coupon whose amount the vendor does not tell (and whose class has no face value, or one in another currency than
the coupon's) is counted in ``unpriced``.
Over time: coupons issued per UTC day (their issue date) and redeemed per UTC day (their redemption date); those
the vendor does not date are counted in ``undated_issued`` and ``undated_redeemed``.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import Decimal
from enum import StrEnum

from reconciler.state.desired import DesiredState, Target
from reconciler.state.live import IssuedCoupon, LiveState, ScopeLive

EXPIRED = "expired"


class Stage(StrEnum):
    """The furthest a declared target went."""

    DECLARED = "declared"
    ISSUED = "issued"
    CLAIMED = "claimed"
    REDEEMED = "redeemed"
    EXPIRED = "expired"
    VOID = "void"


COUNTS: tuple[str, ...] = ("declared", "issued", "claimed", "redeemed", "expired", "void")


@dataclass(frozen=True, slots=True)
class Tally:
    """The counts and money of one group of declared targets (see the module's definitions)."""

    declared: int = 0
    issued: int = 0
    claimed: int = 0
    redeemed: int = 0
    expired: int = 0
    void: int = 0
    issued_value: Mapping[str, Decimal] = field(default_factory=dict)
    spend: Mapping[str, Decimal] = field(default_factory=dict)
    unpriced: int = 0
    issued_by_day: Mapping[date, int] = field(default_factory=dict)
    redeemed_by_day: Mapping[date, int] = field(default_factory=dict)
    undated_issued: int = 0
    undated_redeemed: int = 0

    def count(self, name: str) -> int:
        """One of :data:`COUNTS` by name."""
        value = getattr(self, name)
        assert isinstance(value, int)
        return value


class GroupKind(StrEnum):
    MANIFEST = "manifest"
    LABEL = "label"
    TOTAL = "total"


@dataclass(frozen=True, slots=True)
class Group:
    """A manifest (``name`` its metadata.name), a label (``name`` is ``key=value``: every manifest carrying it), or
    the total of every manifest."""

    kind: GroupKind
    name: str
    tally: Tally
    manifests: tuple[str, ...] = ()


@dataclass(frozen=True)
class CampaignStatus:
    """The status report: one group per manifest, one per label, and the total."""

    checked_at: datetime
    manifests: tuple[Group, ...]
    labels: tuple[Group, ...]
    total: Group

    @property
    def groups(self) -> tuple[Group, ...]:
        return (*self.manifests, *self.labels, self.total)


@dataclass
class _Builder:
    counts: Counter[Stage] = field(default_factory=Counter)
    issued_value: dict[str, Decimal] = field(default_factory=dict)
    spend: dict[str, Decimal] = field(default_factory=dict)
    unpriced: int = 0
    issued_by_day: Counter[date] = field(default_factory=Counter)
    redeemed_by_day: Counter[date] = field(default_factory=Counter)
    undated_issued: int = 0
    undated_redeemed: int = 0

    def add(self, target: _TargetStatus) -> None:
        """Count one declared target."""
        self.counts[Stage.DECLARED] += 1
        self.counts.update(target.stages)
        _add_money(self.issued_value, target.issued_value)
        _add_money(self.spend, target.spend)
        self.unpriced += target.unpriced
        self.issued_by_day.update(target.issued_days)
        self.redeemed_by_day.update(target.redeemed_days)
        self.undated_issued += target.undated_issued
        self.undated_redeemed += target.undated_redeemed

    def absorb(self, other: _Builder) -> None:
        """Count every target ``other`` counted (a label over its manifests)."""
        self.counts.update(other.counts)
        _add_money(self.issued_value, other.issued_value)
        _add_money(self.spend, other.spend)
        self.unpriced += other.unpriced
        self.issued_by_day.update(other.issued_by_day)
        self.redeemed_by_day.update(other.redeemed_by_day)
        self.undated_issued += other.undated_issued
        self.undated_redeemed += other.undated_redeemed

    def tally(self) -> Tally:
        c = self.counts
        return Tally(
            declared=c[Stage.DECLARED],
            issued=c[Stage.ISSUED],
            claimed=c[Stage.CLAIMED],
            redeemed=c[Stage.REDEEMED],
            expired=c[Stage.EXPIRED],
            void=c[Stage.VOID],
            issued_value=dict(sorted(self.issued_value.items())),
            spend=dict(sorted(self.spend.items())),
            unpriced=self.unpriced,
            issued_by_day=dict(sorted(self.issued_by_day.items())),
            redeemed_by_day=dict(sorted(self.redeemed_by_day.items())),
            undated_issued=self.undated_issued,
            undated_redeemed=self.undated_redeemed,
        )


@dataclass(frozen=True, slots=True)
class _TargetStatus:
    stages: tuple[Stage, ...]
    issued_value: Mapping[str, Decimal]
    spend: Mapping[str, Decimal]
    unpriced: int
    issued_days: tuple[date, ...]
    redeemed_days: tuple[date, ...]
    undated_issued: int
    undated_redeemed: int


def target_stages(coupons: Iterable[IssuedCoupon], void_statuses: frozenset[str]) -> tuple[Stage, ...]:
    """The stages a declared target counts in, from the coupons it received (none: not issued)."""
    held = list(coupons)
    if not held:
        return ()
    stages = [Stage.ISSUED]
    if any(c.claimed or c.redeemed for c in held):
        stages.append(Stage.CLAIMED)
    if any(c.redeemed for c in held):
        stages.append(Stage.REDEEMED)
        return tuple(stages)
    dead = [c.status.casefold() for c in held if c.status.casefold() in void_statuses or c.status.casefold() == EXPIRED]
    if len(dead) == len(held):
        stages.append(Stage.EXPIRED if EXPIRED in dead else Stage.VOID)
    return tuple(stages)


def _target_status(coupons: tuple[IssuedCoupon, ...], live: ScopeLive, void_statuses: frozenset[str]) -> _TargetStatus:
    issued_value: dict[str, Decimal] = {}
    spend: dict[str, Decimal] = {}
    unpriced = 0
    for coupon in coupons:
        amount, currency = _price(coupon, live)
        if amount is None or currency is None:
            unpriced += 1
            continue
        voided = coupon.status.casefold() in void_statuses and coupon.status.casefold() != EXPIRED
        if not voided or coupon.redeemed:
            _add_money(issued_value, {currency: amount})
        if coupon.redeemed:
            _add_money(spend, {currency: amount})
    issued_days = [_day(c.issue_date) for c in coupons]
    redeemed_days = [_day(c.redemption_date) for c in coupons if c.redeemed]
    return _TargetStatus(
        stages=target_stages(coupons, void_statuses),
        issued_value=issued_value,
        spend=spend,
        unpriced=unpriced,
        issued_days=tuple(d for d in issued_days if d is not None),
        redeemed_days=tuple(d for d in redeemed_days if d is not None),
        undated_issued=issued_days.count(None),
        undated_redeemed=redeemed_days.count(None),
    )


def _price(coupon: IssuedCoupon, live: ScopeLive) -> tuple[Decimal | None, str | None]:
    """The coupon's own amount (in its currency, else the class's or the scope's), else the class's face value in
    the face value's currency; unknown when the coupon shows another currency than the face value's."""
    face = live.face_value
    if coupon.amount is not None:
        return coupon.amount, coupon.currency or (face.currency if face else None) or live.currency
    if face is None or (coupon.currency and coupon.currency.upper() != face.currency.upper()):
        return None, None
    return face.amount, face.currency


def _day(moment: datetime | None) -> date | None:
    """The UTC day of ``moment``; None when there is none, or it falls outside the calendar in UTC (0001-01-01
    in UTC+8, .NET's "no date")."""
    if moment is None:
        return None
    try:
        return moment.astimezone(UTC).date()
    except OverflowError:
        return None


def _received(live: ScopeLive | None, target: Target) -> tuple[IssuedCoupon, ...]:
    if live is None:
        return ()
    return tuple(c for c in live.issued.get(target, ()) if c.received)


def campaign_status(
    desired: DesiredState, live: LiveState, *, checked_at: datetime, void_statuses: Mapping[str, frozenset[str]]
) -> CampaignStatus:
    """The status of every declared target, grouped per manifest, per label (``key=value``) and in total.

    ``void_statuses`` maps a provider type to its statuses of a coupon that is no longer worth anything
    (:func:`reconciler.providers.registry.void_statuses`); ``expired`` among them counts as expired, the others
    as void. A scope the read did not return counts as nothing issued."""
    per_manifest: dict[str, _Builder] = {}
    total = _Builder()
    for scope in sorted(desired.items):
        scope_live = live.scopes.get(scope)
        spec = desired.scopes.get(scope)
        void = (
            frozenset(s.casefold() for s in void_statuses.get(spec.provider_type, frozenset())) if spec else frozenset()
        )
        for target, item in desired.items[scope].items():
            status = _status_of(scope_live, target, void)
            per_manifest.setdefault(item.manifest, _Builder()).add(status)
            total.add(status)
    manifest_names = sorted(set(per_manifest) | {m for spec in desired.scopes.values() for m in spec.manifests})
    manifests = tuple(
        Group(GroupKind.MANIFEST, name, per_manifest.get(name, _Builder()).tally(), (name,)) for name in manifest_names
    )
    by_label: dict[str, list[str]] = {}
    for name in manifest_names:
        for key, value in sorted(desired.labels.get(name, {}).items()):
            by_label.setdefault(f"{key}={value}", []).append(name)
    labels = tuple(
        Group(GroupKind.LABEL, label, _merge(per_manifest.get(m) for m in members), tuple(members))
        for label, members in sorted(by_label.items())
    )
    return CampaignStatus(
        checked_at=checked_at,
        manifests=manifests,
        labels=labels,
        total=Group(GroupKind.TOTAL, "total", total.tally(), tuple(manifest_names)),
    )


def _status_of(scope_live: ScopeLive | None, target: Target, void_statuses: frozenset[str]) -> _TargetStatus:
    coupons = _received(scope_live, target)
    if scope_live is None or not coupons:
        return _TargetStatus((), {}, {}, 0, (), (), 0, 0)
    return _target_status(coupons, scope_live, void_statuses)


def _merge(builders: Iterable[_Builder | None]) -> Tally:
    merged = _Builder()
    for builder in builders:
        if builder is not None:
            merged.absorb(builder)
    return merged.tally()


def _add_money(into: dict[str, Decimal], amounts: Mapping[str, Decimal]) -> None:
    for currency, amount in amounts.items():
        into[currency] = into.get(currency, Decimal(0)) + amount
