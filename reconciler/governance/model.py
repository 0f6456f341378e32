"""Governance as frozen values: what couponctl.yaml declares (rules, budgets, approval tiers) and what a plan
carries after they were checked (findings, budget statuses, overrides, the approval tier)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from decimal import MAX_PREC, Decimal, localcontext
from enum import StrEnum

from reconciler.governance.freezes import Freeze
from reconciler.state.desired import Position, Scope, Target

#: The names of the per-apply limits of ``policy:``: an override may name them, as it names a rule or a budget.
LIMIT_NAMES = ("maxItems", "maxAmount", "maxInventoryShare")


class Effect(StrEnum):
    """What a rule does when its condition holds: block apply, warn, or raise the plan's approval tier."""

    DENY = "deny"
    WARN = "warn"
    TIER = "tier"


class Level(StrEnum):
    """What a rule is evaluated over: each item to issue, each scope with items to issue, or the whole plan."""

    ITEM = "item"
    SCOPE = "scope"
    PLAN = "plan"


@dataclass(frozen=True, slots=True)
class Rule:
    """One rule: when the CEL expression ``when`` holds for an item, a scope or the plan (``level``), ``effect``.
    ``tier`` is the approval tier an ``Effect.TIER`` rule asks for; ``position`` is where ``when`` begins."""

    name: str
    level: Level
    when: str
    effect: Effect
    message: str
    position: Position
    tier: str | None = None


@dataclass(frozen=True, slots=True)
class Finding:
    """A rule that held, over ``scope`` and ``target`` where it was evaluated over one (an item: both; a scope:
    the scope; the plan: neither). A rule that could not be evaluated is a deny finding whose message says why
    (fail closed). ``overridden`` when the plan carries an override naming the rule."""

    rule: str
    effect: Effect
    message: str
    scope: Scope | None = None
    target: Target | None = None
    tier: str | None = None
    overridden: bool = False


class PeriodKind(StrEnum):
    LIFETIME = "lifetime"
    MONTH = "month"
    QUARTER = "quarter"
    DAYS = "days"


@dataclass(frozen=True, slots=True)
class Period:
    """A budget's period: the program's whole life, the calendar month or quarter in ``time_zone`` (IANA), or the
    last ``days`` days."""

    kind: PeriodKind
    days: int | None = None
    time_zone: str = "UTC"

    def __str__(self) -> str:
        if self.kind is PeriodKind.DAYS:
            return f"last {self.days} days"
        if self.kind is PeriodKind.LIFETIME:
            return "lifetime"
        return f"calendar {self.kind.value} ({self.time_zone})"


@dataclass(frozen=True, slots=True)
class Selector:
    """Which spending a budget counts: items of these providers (empty: any), in scopes matching one of these glob
    patterns over ``provider/owner/class`` (empty: any), declared by manifests carrying all these labels."""

    providers: tuple[str, ...] = ()
    scopes: tuple[str, ...] = ()
    labels: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Budget:
    """A cumulative money budget: at most ``amounts[currency]`` spent per ``period`` on what ``selector`` selects.
    ``notify_at`` (0..1): the share of the limit past which an apply notifies (reconciler.notify); it governs
    nothing, so the governance digest leaves it out."""

    name: str
    selector: Selector
    period: Period
    amounts: Mapping[str, Decimal]
    position: Position
    notify_at: Decimal | None = None


@dataclass(frozen=True, slots=True)
class BudgetStatus:
    """One budget in one currency, as a plan sees it: ``spent`` is what the journal records as issued in the
    period, ``in_doubt`` what is in doubt there (it counts as spent until resolved), ``adds`` what this plan would
    issue. ``period_start`` and ``period_end`` bound the period (None: open). ``unpriced`` counts the items this
    plan would issue that the budget selects but whose amount or currency is unknown: it cannot count them, so it
    cannot show the plan fits, and any makes a breach."""

    name: str
    currency: str
    limit: Decimal
    spent: Decimal
    in_doubt: Decimal
    adds: Decimal
    period: str
    period_start: datetime | None = None
    period_end: datetime | None = None
    overridden: bool = False
    unpriced: int = 0

    @property
    def remaining(self) -> Decimal:
        """What is left after this plan: negative when it breaches. Exact, however many digits the amounts have
        (the default context would round to 28 significant digits, and a limit a hair below what a plan adds
        would round to no breach)."""
        with localcontext(prec=MAX_PREC):
            return self.limit - self.spent - self.in_doubt - self.adds

    @property
    def breach(self) -> bool:
        """This plan adds money the budget has no room for, or items whose money it cannot count."""
        return (self.adds > 0 and self.remaining < 0) or self.unpriced > 0


@dataclass(frozen=True, slots=True)
class Tier:
    """An approval tier and the deployment environments (e.g. GitHub environments) entitled to apply it."""

    name: str
    environments: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Override:
    """A reviewed override: the rule, budget or limit it names, why, who planned it and at which commit."""

    name: str
    reason: str
    actor: str | None = None
    commit: str | None = None


@dataclass(frozen=True, slots=True)
class GitContext:
    """The git author, branch and commit a plan was made at, where known."""

    author: str | None = None
    branch: str | None = None
    commit: str | None = None


@dataclass(frozen=True)
class GovernanceConfig:
    """What couponctl.yaml (and its policy files) declare. ``tiers`` are ordered lowest first; a plan no tier
    rule raises has the first; ``override_tier`` is the least tier of a plan that carries an override; ``freezes``
    the windows during which apply refuses unless the plan carries an override naming the freeze."""

    rules: tuple[Rule, ...] = ()
    budgets: tuple[Budget, ...] = ()
    tiers: tuple[Tier, ...] = ()
    override_tier: str | None = None
    policy_files: tuple[str, ...] = ()
    freezes: tuple[Freeze, ...] = ()

    def tier(self, name: str) -> Tier | None:
        return next((t for t in self.tiers if t.name == name), None)


@dataclass(frozen=True)
class Governance:
    """What a plan carries after governance was checked. ``digest`` binds it to the rules, budgets, tiers and
    limits in force; ``shared_journal`` is False when the budgets were read from a journal only this runner sees
    (a local file), so that they are not truthful across runners; ``environments`` are the deployment
    environments that may apply a plan of ``tier`` (its own first, then the higher tiers'), for CI to route the
    apply to."""

    digest: str
    findings: tuple[Finding, ...] = ()
    budgets: tuple[BudgetStatus, ...] = ()
    overrides: tuple[Override, ...] = ()
    tier: str | None = None
    git: GitContext = field(default_factory=GitContext)
    shared_journal: bool = True
    environments: tuple[str, ...] = ()

    @property
    def denials(self) -> tuple[Finding, ...]:
        """Deny findings no override names: each blocks apply."""
        return tuple(f for f in self.findings if f.effect is Effect.DENY and not f.overridden)

    @property
    def warnings(self) -> tuple[Finding, ...]:
        return tuple(f for f in self.findings if f.effect is Effect.WARN)

    @property
    def breaches(self) -> tuple[BudgetStatus, ...]:
        """Budgets this plan would breach that no override names: each blocks apply."""
        return tuple(b for b in self.budgets if b.breach and not b.overridden)
