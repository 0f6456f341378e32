"""Drift: what changed at the vendor, in the declared scopes, that the manifests do not account for.

Drift is

- **unmanaged** coupons: held by targets that no manifest names and that couponctl never issued to (issued by
  hand, by another tool, by a script);
- **void** targets: declared targets whose every coupon is void (expired, abandoned) by the provider type's
  statuses (its descriptor's ``void_statuses``). The planner counts such a target as satisfied and never issues
  it again on its own: a person decides;
- targets **paid more than once**: any target (declared or not) that was issued more than one coupon of the
  scope's class, with the coupons' masked codes and dates. Coupons cannot be revoked: a person checks with the
  vendor, and finance with the ledger;
- targets **issued late**: calls the journal resolved as not issued whose coupons the vendor shows after all, not
  yet recorded as such (the next apply records them ISSUED_LATE in the journal and the ledger).

Reported, but not drift: holders *removed* from the manifests (couponctl issued to them; a reviewed change),
targets the journal records as issued that the vendor does not show yet (its reads lag), declared targets still
to issue (``plan`` shows them) and the plan's warnings. Errors (a class the vendor does not know, a face value
other than the one expected) mean the scope cannot be judged.

:func:`detect_drift` is pure: desired state + live state + journal views in, a :class:`Drift` out, the same
inputs always giving the same report. reconciler.app.drift does the reading; it never calls an issuing endpoint
and never writes the journal.
"""

from __future__ import annotations

from collections.abc import Mapping, Set
from dataclasses import dataclass, replace
from datetime import datetime
from enum import StrEnum

from reconciler import __version__
from reconciler.errors import ExitCode
from reconciler.plan.diff import (
    HELD_MORE_THAN_ONCE,
    ISSUED_LATE,
    NO_RECORD,
    diff_scope,
    held_more_than_once,
    issued_late,
    mask_code,
)
from reconciler.plan.model import HeldItem, PlanProblem, Severity
from reconciler.state.desired import DesiredItem, DesiredState, Scope, Target
from reconciler.state.live import IssuedCoupon, JournalView, LiveState

DRIFT_FORMAT_VERSION = 1

#: Plan errors that are about issuing (not about the live state matching the manifests): not drift errors.
_ISSUING_ONLY_PROBLEMS = frozenset({"inventory-shortfall"})
#: Plan warnings that drift reports as drift, in their own list (not again as warnings).
_DRIFT_WARNINGS = frozenset({HELD_MORE_THAN_ONCE, ISSUED_LATE})


class DriftKind(StrEnum):
    UNMANAGED = "unmanaged"
    VOID = "void"
    REMOVED = "removed"
    HELD_TWICE = "held-more-than-once"
    ISSUED_LATE = "issued-late"


@dataclass(frozen=True, slots=True)
class DriftItem:
    """One target and the coupons it holds (codes masked to their last four characters).

    ``manifest`` names the manifest that declares the target (void targets only).
    """

    kind: DriftKind
    target: Target
    coupons: tuple[IssuedCoupon, ...]
    manifest: str | None = None
    note: str = ""


@dataclass(frozen=True)
class ScopeDrift:
    """The drift of one declared scope.

    ``unmanaged``, ``void``, ``held_twice`` (targets paid more than once) and ``issued_late`` (calls resolved as
    not issued that the vendor shows issued) are drift; ``removed``, ``pending``
    (declared targets not issued yet, or in doubt) and ``not_visible`` (issued per the journal, not shown by the
    vendor yet) are information.
    """

    scope: Scope
    provider_type: str
    manifests: tuple[str, ...]
    unmanaged: tuple[DriftItem, ...] = ()
    void: tuple[DriftItem, ...] = ()
    removed: tuple[DriftItem, ...] = ()
    held_twice: tuple[DriftItem, ...] = ()
    issued_late: tuple[DriftItem, ...] = ()
    pending: int = 0
    not_visible: int = 0
    errors: tuple[PlanProblem, ...] = ()
    warnings: tuple[PlanProblem, ...] = ()

    @property
    def has_drift(self) -> bool:
        return bool(self.unmanaged or self.void or self.held_twice or self.issued_late)


@dataclass(frozen=True)
class Drift:
    """The drift report over every declared scope, sorted by scope."""

    checked_at: datetime
    tool_version: str
    scopes: tuple[ScopeDrift, ...]

    @property
    def has_drift(self) -> bool:
        return any(s.has_drift for s in self.scopes)

    @property
    def has_errors(self) -> bool:
        return any(s.errors for s in self.scopes)

    def count(self, kind: DriftKind) -> int:
        field = {
            DriftKind.UNMANAGED: "unmanaged",
            DriftKind.VOID: "void",
            DriftKind.REMOVED: "removed",
            DriftKind.HELD_TWICE: "held_twice",
            DriftKind.ISSUED_LATE: "issued_late",
        }[kind]
        return sum(len(getattr(s, field)) for s in self.scopes)

    @property
    def exit_code(self) -> int:
        """1 when a scope could not be judged, else 2 when there is drift, else 0."""
        if self.has_errors:
            return ExitCode.ERROR
        return ExitCode.CHANGES if self.has_drift else ExitCode.OK


def detect_drift(
    desired: DesiredState,
    live: LiveState,
    *,
    checked_at: datetime,
    journal: Mapping[Scope, JournalView] | None = None,
    void_statuses: Mapping[str, frozenset[str]],
) -> Drift:
    """Compare every declared scope's live state with the manifests and the journal; see the module doc.

    ``void_statuses`` maps a provider type to its void statuses (each vendor's descriptor says them).
    Holders are split into unmanaged and removed exactly as the planner splits them (a coupon already held by a
    declared target, e.g. an emailed coupon later redeemed by an account, does not make its other holders drift).
    """
    journal = journal or {}
    scopes = []
    for scope in sorted(desired.scopes):
        spec = desired.scopes[scope]
        declared = desired.items.get(scope, {})
        scope_live = live.scopes.get(scope)
        planned = diff_scope(spec, declared, scope_live, journal.get(scope, NO_RECORD))
        void = frozenset(s.casefold() for s in void_statuses.get(spec.provider_type, frozenset()))
        scopes.append(
            ScopeDrift(
                scope=scope,
                provider_type=spec.provider_type,
                manifests=spec.manifests,
                unmanaged=tuple(_held(DriftKind.UNMANAGED, h) for h in planned.unmanaged),
                void=_void_targets(declared, scope_live.issued if scope_live else {}, void),
                removed=tuple(_held(DriftKind.REMOVED, h) for h in planned.removed),
                held_twice=tuple(
                    _held(DriftKind.HELD_TWICE, h) for h in held_more_than_once(scope_live.issued if scope_live else {})
                ),
                issued_late=_late(scope_live.issued if scope_live else {}, journal.get(scope, NO_RECORD)),
                pending=len(planned.to_issue) + len(planned.in_doubt),
                not_visible=planned.not_yet_visible,
                errors=tuple(p for p in planned.errors if p.code not in _ISSUING_ONLY_PROBLEMS),
                warnings=tuple(
                    p for p in planned.problems if p.severity is Severity.WARNING and p.code not in _DRIFT_WARNINGS
                ),
            )
        )
    return Drift(checked_at=checked_at, tool_version=__version__, scopes=tuple(scopes))


def is_void(coupon: IssuedCoupon, void: Set[str]) -> bool:
    return coupon.status.casefold() in void


def _void_targets(
    declared: Mapping[Target, DesiredItem], issued: Mapping[Target, tuple[IssuedCoupon, ...]], void: Set[str]
) -> tuple[DriftItem, ...]:
    """Declared targets that hold coupons, every one of them void."""
    found = []
    for target in sorted(declared):
        held = issued.get(target, ())
        if held and all(is_void(c, void) for c in held):
            found.append(
                DriftItem(
                    DriftKind.VOID,
                    target,
                    _masked(held),
                    manifest=declared[target].manifest,
                    note="every coupon it holds is void; couponctl does not issue it again on its own",
                )
            )
    return tuple(found)


def _late(issued: Mapping[Target, tuple[IssuedCoupon, ...]], record: JournalView) -> tuple[DriftItem, ...]:
    """Targets whose calls resolved as not issued the vendor shows issued after all (not recorded yet)."""
    return tuple(
        DriftItem(
            DriftKind.ISSUED_LATE,
            late.target,
            _masked(tuple(c for c in issued.get(late.target, ()) if c.received)),
            note=late.message,
        )
        for late in issued_late(issued, record.not_issued)
    )


def _held(kind: DriftKind, held: HeldItem) -> DriftItem:
    return DriftItem(kind, held.target, _masked(held.coupons), note=held.note)


def _masked(coupons: tuple[IssuedCoupon, ...]) -> tuple[IssuedCoupon, ...]:
    """Codes cut to their last four characters (idempotent: a masked code stays as it is)."""
    return tuple(
        sorted(
            (c if c.code.startswith("****") else replace(c, code=mask_code(c.code)) for c in coupons),
            key=lambda c: (c.code, c.status),
        )
    )
