"""Words for a plan's governance, the same in the terminal and in a pull-request comment: budget lines, rule
findings and their subjects, overrides, and the note on a journal that is not shared (why apply would refuse is
the verdict's: reconciler.render.words.governance_refusal).

The renderers choose the markup (colour, code spans, masked emails); these functions take the shown forms of what
needs it (a target, a reason) and say the rest.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from decimal import Decimal

from reconciler.governance.model import BudgetStatus, Effect, Finding, Governance, Override
from reconciler.render.words import format_money

SHARED_JOURNAL_NOTE = "budgets are only truthful across runners with a shared journal"
LOCAL_JOURNAL_NOTE = f"{SHARED_JOURNAL_NOTE}: this plan read them from a journal only its runner sees"
COMMIT_SHOWN = 12


@dataclass(frozen=True, slots=True)
class Shown:
    """What a plan's governance shows, sorted out once: what blocks apply, what only informs, what raised the
    tier. Empty when there is nothing worth showing (no tier, finding, budget or override)."""

    governance: Governance

    @property
    def worth_showing(self) -> bool:
        g = self.governance
        return g.tier is not None or bool(g.findings or g.budgets or g.overrides)

    @property
    def denials(self) -> tuple[Finding, ...]:
        """Deny findings no override names: they block apply."""
        return self.governance.denials

    @property
    def informing(self) -> tuple[Finding, ...]:
        """Warn findings, and deny findings an override names, in the order they were found."""
        return tuple(
            f for f in self.governance.findings if f.effect is Effect.WARN or (f.effect is Effect.DENY and f.overridden)
        )

    @property
    def raised_by(self) -> tuple[Finding, ...]:
        """The tier findings: why the approval tier is what it is."""
        return tuple(f for f in self.governance.findings if f.effect is Effect.TIER)

    @property
    def local_journal(self) -> bool:
        """Budgets were read from a journal other runners do not see."""
        return bool(self.governance.budgets) and not self.governance.shared_journal

    def reason(self, name: str) -> str | None:
        """The reason of the (first) override naming ``name``, if the plan carries one."""
        return next((o.reason for o in self.governance.overrides if o.name == name), None)


def environments_text(environments: Sequence[str]) -> str:
    """`` (applied in coupons-finance or coupons-board)``; nothing when the plan does not say."""
    return f" (applied in {' or '.join(environments)})" if environments else ""


def amount_text(amount: Decimal, currency: str) -> str:
    """An amount without its currency, in :func:`reconciler.render.words.format_money`'s digits."""
    return format_money(amount, currency).removeprefix(f"{currency} ")


def budget_figures(budget: BudgetStatus) -> str:
    """``spent 8,000.00, in doubt 500.00, this plan 2,000.00, remaining -500.00 of 10,000.00``."""
    c = budget.currency
    return (
        f"spent {amount_text(budget.spent, c)}, in doubt {amount_text(budget.in_doubt, c)}, "
        f"this plan {amount_text(budget.adds, c)}, "
        f"remaining {amount_text(budget.remaining, c)} of {amount_text(budget.limit, c)}"
        + (f", {budget.unpriced:,} item(s) it cannot price" if budget.unpriced else "")
    )


def budget_marks(budget: BudgetStatus, reason: str | None) -> str:
    """`` BREACH``, `` BREACH (overridden: REASON)`` or nothing; ``reason`` as it is to be shown."""
    if not budget.breach:
        return " (overridden: " + (reason or "") + ")" if budget.overridden else ""
    return " BREACH" + (f" (overridden: {reason or ''})" if budget.overridden else "")


def budget_text(budget: BudgetStatus, reason: str | None) -> str:
    """One budget line: ``spring-usd, calendar month (UTC), USD: spent …, remaining … of … BREACH``."""
    head = f"{budget.name}, {budget.period}, {budget.currency}: {budget_figures(budget)}"
    return head + budget_marks(budget, reason)


def finding_text(finding: Finding, target: Callable[[Finding], str], reason: str | None = None) -> str:
    """``rule NAME on SCOPE TARGET: MESSAGE`` (the subject as far as the rule was evaluated over one), with
    ``(overridden: REASON)`` for an overridden finding; ``target`` shows the finding's target."""
    subject = ""
    if finding.scope is not None:
        subject = f" on {finding.scope}" + (f" {target(finding)}" if finding.target is not None else "")
    message = f": {finding.message}" if finding.message else ""
    overridden = f" (overridden: {reason or ''})" if finding.overridden else ""
    return f"rule {finding.rule}{subject}{message}{overridden}"


def override_text(override: Override) -> str:
    """``NAME: REASON (by ACTOR, at commit 0123456789ab)``, saying only what is known."""
    where = [f"by {override.actor}"] if override.actor else []
    if override.commit:
        where.append(f"at commit {override.commit[:COMMIT_SHOWN]}")
    return f"{override.name}: {override.reason}" + (f" ({', '.join(where)})" if where else "")
