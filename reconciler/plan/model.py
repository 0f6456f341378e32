"""The plan: data, not behaviour. Rendered as text, Markdown and JSON, saved, checksummed."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from enum import StrEnum

from reconciler.governance.freezes import Span
from reconciler.governance.model import Governance
from reconciler.state.desired import Scope, Target
from reconciler.state.live import FaceValue, IssuedCoupon

PLAN_FORMAT_VERSION = 1


class Severity(StrEnum):
    ERROR = "error"
    WARNING = "warning"


@dataclass(frozen=True, slots=True)
class PlanProblem:
    """An error blocks apply (inventory shortfall, expect mismatch, unknown class); a warning informs."""

    severity: Severity
    code: str
    message: str


@dataclass(frozen=True, slots=True)
class PlanItem:
    """One coupon to issue: a target, the manifest that declares it, and its amount (aliyun) if any."""

    target: Target
    manifest: str
    amount: Decimal | None = None


@dataclass(frozen=True, slots=True)
class TimedItem:
    """An item outside its issue window: ``at`` is when it becomes due (scheduled) or when its window closed
    (closed)."""

    item: PlanItem
    at: datetime


@dataclass(frozen=True, slots=True)
class HeldItem:
    """A target that holds coupons but is not an action: unmanaged, removed or mismatched."""

    target: Target
    coupons: tuple[IssuedCoupon, ...]
    note: str = ""


@dataclass(frozen=True)
class ScopePlan:
    """The plan for one scope.

    ``to_issue`` is sorted by target. ``satisfied`` counts declared targets that already hold a coupon.
    ``unmanaged`` are holders no manifest names and couponctl never issued; ``removed`` are holders that
    couponctl issued to but no manifest names any more (nothing can be revoked: never an action).
    ``exposure`` is the money ``to_issue`` would spend, in ``face_value.currency``.
    ``in_doubt`` are declared targets whose last issuing call has an unknown outcome and that live state
    does not show: apply issues them only if a fresh read, after the lag window, proves they were not issued.
    ``mismatched`` are declared uids holding a coupon of another amount than declared: never issued again.
    ``currency`` is what ``exposure`` is in (the face value's, or the scope's when there is none).
    ``not_yet_visible`` counts satisfied targets the journal records as issued but the vendor does not show yet.
    ``scheduled`` are items whose manifest's window (``spec.schedule``) has not opened yet: not issued now;
    ``closed`` items whose window has closed: never issued. Neither counts in ``to_issue`` or ``exposure``.
    """

    scope: Scope
    provider_type: str
    manifests: tuple[str, ...]
    face_value: FaceValue | None
    available: int | None
    feature_id: int | None
    send_notification: bool
    to_issue: tuple[PlanItem, ...]
    satisfied: int
    unmanaged: tuple[HeldItem, ...]
    removed: tuple[HeldItem, ...]
    problems: tuple[PlanProblem, ...]
    exposure: Decimal | None
    in_doubt: tuple[PlanItem, ...] = ()
    not_yet_visible: int = 0
    mismatched: tuple[HeldItem, ...] = ()
    currency: str | None = None
    scheduled: tuple[TimedItem, ...] = ()
    closed: tuple[TimedItem, ...] = ()

    @property
    def errors(self) -> tuple[PlanProblem, ...]:
        return tuple(p for p in self.problems if p.severity is Severity.ERROR)

    @property
    def warnings(self) -> tuple[PlanProblem, ...]:
        return tuple(p for p in self.problems if p.severity is Severity.WARNING)


@dataclass(frozen=True, slots=True)
class PlanEndpoint:
    """Where a provider sends its credentials (``role``: its API or its token endpoint); ``listed`` when that is
    a documented vendor host over https, loopback or the in-process sandbox. Apply sends nowhere else."""

    provider: str
    role: str
    url: str
    listed: bool


@dataclass(frozen=True, slots=True)
class JournalStamp:
    """The journal a plan was made against: its identity, and how many runs it held."""

    id: str
    runs: int


@dataclass(frozen=True)
class Plan:
    """The whole plan, scopes sorted. ``checksum`` is computed over everything but itself and created_at.

    ``plan_id`` makes every saved plan single-use; ``expires_at`` bounds how long it may be applied;
    ``live_digest`` and ``policy_digest`` bind it to the live state read and the policy in force;
    ``violations`` are policy limits the plan exceeds (apply refuses unless explicitly allowed);
    ``selection`` is None for a plan of the whole project, else the manifest files (relative to the project
    root) it was limited to: apply reads exactly those again, like Terraform's ``-target``; ``journal`` is the
    identity of the journal the plan was made against and how many runs it held then; ``endpoints`` where each
    provider of the plan connects; ``governance`` what the rules, budgets and approval tiers found, and the
    overrides the plan carries (None: a plan made before governance existed, or read from one); ``freezes`` the
    freezes of couponctl.yaml in force when it was made, or beginning before its items would be issued (before it
    expires, or before its last scheduled item is due).
    """

    format_version: int
    tool_version: str
    created_at: datetime
    scopes: tuple[ScopePlan, ...]
    checksum: str = ""
    plan_id: str = ""
    expires_at: datetime | None = None
    live_digest: str = ""
    policy_digest: str = ""
    violations: tuple[str, ...] = ()
    selection: tuple[str, ...] | None = None
    journal: JournalStamp | None = None
    endpoints: tuple[PlanEndpoint, ...] | None = None
    governance: Governance | None = None
    freezes: tuple[Span, ...] = ()

    @property
    def partial(self) -> bool:
        """Limited to some manifests: scopes and targets the other manifests declare were not planned."""
        return self.selection is not None

    @property
    def item_count(self) -> int:
        return sum(len(s.to_issue) for s in self.scopes)

    @property
    def scheduled_count(self) -> int:
        return sum(len(s.scheduled) for s in self.scopes)

    @property
    def closed_count(self) -> int:
        return sum(len(s.closed) for s in self.scopes)

    @property
    def has_changes(self) -> bool:
        return self.item_count > 0

    @property
    def has_errors(self) -> bool:
        return any(s.errors for s in self.scopes)

    @property
    def in_doubt_count(self) -> int:
        return sum(len(s.in_doubt) for s in self.scopes)

    def exposure(self) -> dict[str, Decimal]:
        """Money the plan would spend, per currency, sorted by currency."""
        totals: dict[str, Decimal] = {}
        for scope_plan in self.scopes:
            currency = scope_plan.currency or (scope_plan.face_value.currency if scope_plan.face_value else None)
            if scope_plan.exposure is not None and currency is not None:
                totals[currency] = totals.get(currency, Decimal(0)) + scope_plan.exposure
        return dict(sorted(totals.items()))
