"""A plan's governance in the pull-request comment: the approval tier and what raised it, what makes apply refuse
(denials, budget breaches), the budgets as a table, the findings that only inform, the overrides the plan carries
for the reviewer to see, and the note on a journal that is not shared.

Names, scopes and targets are code spans (no mention, link or emphasis), email targets masked as the comment masks
item targets; messages and reasons are prose with their addresses masked (:mod:`reconciler.plan.masking`). Each
list shows at most the comment's item limit, then a pointer to the full plan.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Protocol, TypeVar

from reconciler.governance.model import BudgetStatus, Effect, Finding, Governance, Override
from reconciler.plan.masking import addresses_in
from reconciler.render.governance import COMMIT_SHOWN, LOCAL_JOURNAL_NOTE, Shown, amount_text
from reconciler.render.markdown_text import code_span
from reconciler.render.words import plural
from reconciler.state.desired import Target, TargetKind

T = TypeVar("T")

BUDGETS_HEAD = "**Budgets**: spent is what the journal records as issued in the period; in doubt counts as spent."
OVERRIDES_HEAD = (
    "**Overrides carried by this plan:** review them here; apply accepts no override the plan does not carry."
)


class MarkdownStyle(Protocol):
    """How the comment shows a target (masked), free text (masked) and prose (masked and made inert)."""

    @property
    def full_plan(self) -> str: ...

    def target(self, target: Target) -> str: ...

    def text(self, text: str) -> str: ...

    def prose(self, text: str) -> str: ...


def governance_addresses(governance: Governance) -> Iterator[str]:
    """Every address the governance blocks may show: email targets of findings, addresses in findings'
    messages and in overrides' reasons and actors."""
    for finding in governance.findings:
        if finding.target is not None and finding.target.kind is TargetKind.EMAIL:
            yield finding.target.value
    yield from addresses_in(f.message for f in governance.findings)
    yield from addresses_in(o.reason for o in governance.overrides)
    yield from addresses_in(o.actor for o in governance.overrides if o.actor)


@dataclass(frozen=True, slots=True)
class GovernanceMarkdown:
    """The governance blocks of one comment, each list cut to ``limit`` entries (None: all)."""

    style: MarkdownStyle
    limit: int | None

    def blocks(self, shown: Shown) -> Iterator[str]:
        if not shown.worth_showing:
            return
        governance = shown.governance
        if governance.tier is not None:
            yield self._tier(governance, shown.raised_by)
        if shown.denials or governance.breaches:
            yield self._refusals(shown.denials, governance.breaches)
        if governance.budgets:
            yield self._budgets(shown)
        if shown.informing:
            lines = self._listed(shown.informing, lambda f: self._finding(f, shown.reason(f.rule)))
            yield "\n".join(["> [!WARNING]", "> **Rule findings** that do not block apply:", *lines])
        if governance.overrides:
            yield self._overrides(governance.overrides)
        if shown.local_journal:
            yield f"> [!NOTE]\n> {self.style.prose(LOCAL_JOURNAL_NOTE[:1].upper() + LOCAL_JOURNAL_NOTE[1:])}."

    def _tier(self, governance: Governance, raised_by: Sequence[Finding]) -> str:
        line = f"**Approval tier:** {code_span(governance.tier or '')}"
        if governance.environments:
            line += " · applied in " + " or ".join(code_span(e) for e in governance.environments)
        if not raised_by:
            return line
        listed = self._listed(raised_by, self._finding, quoted=False)
        return "\n".join([line + ", raised by:", "", *listed])

    def _refusals(self, denials: Sequence[Finding], breaches: Sequence[BudgetStatus]) -> str:
        counts = [plural(len(denials), "denial")] if denials else []
        if breaches:
            counts.append(plural(len(breaches), "budget breach", "budget breaches"))
        lines = ["> [!CAUTION]", f"> **Apply refuses this plan:** {' and '.join(counts)} that no override names."]
        lines += self._listed(denials, self._finding)
        lines += [
            f"> - breaches {code_span(b.name)} ({code_span(b.currency)}): remaining "
            f"{amount_text(b.remaining, b.currency)} of {amount_text(b.limit, b.currency)}"
            for b in breaches
        ]
        return "\n".join(lines)

    def _budgets(self, shown: Shown) -> str:
        rows = [
            "| Budget | Period | Currency | Spent | In doubt | This plan | Remaining of limit | Status |",
            "| --- | --- | --- | ---: | ---: | ---: | ---: | --- |",
        ]
        for b in shown.governance.budgets:
            c = b.currency
            rows.append(
                f"| {code_span(b.name)} | {self.style.prose(b.period)} | {code_span(c)} "
                f"| {amount_text(b.spent, c)} | {amount_text(b.in_doubt, c)} | {amount_text(b.adds, c)} "
                f"| {amount_text(b.remaining, c)} of {amount_text(b.limit, c)} | {self._status(b, shown)} |"
            )
        return f"{BUDGETS_HEAD}\n\n" + "\n".join(rows)

    def _status(self, budget: BudgetStatus, shown: Shown) -> str:
        overridden = f"overridden: {self.style.prose(shown.reason(budget.name) or '')}" if budget.overridden else ""
        if budget.breach:
            return "**BREACH**" + (f" ({overridden})" if overridden else "")
        return overridden or "within"

    def _overrides(self, overrides: Sequence[Override]) -> str:
        lines = ["> [!IMPORTANT]", f"> {OVERRIDES_HEAD}"]
        for override in overrides:
            where = [f"by {code_span(self.style.text(override.actor))}"] if override.actor else []
            if override.commit:
                where.append(f"at commit {code_span(override.commit[:COMMIT_SHOWN])}")
            tail = f" ({', '.join(where)})" if where else ""
            lines.append(f"> - {code_span(override.name)}: {self.style.prose(override.reason)}{tail}")
        return "\n".join(lines)

    def _finding(self, finding: Finding, reason: str | None = None) -> str:
        """``denied by `rule` on `scope` `target`: message (overridden: reason)``."""
        verb = {Effect.DENY: "denied by", Effect.WARN: "warned by", Effect.TIER: "rule"}[finding.effect]
        subject = ""
        if finding.scope is not None:
            subject = f" on {code_span(str(finding.scope))}"
            if finding.target is not None:
                subject += f" {code_span(self.style.target(finding.target))}"
        message = f": {self.style.prose(finding.message)}" if finding.message else ""
        overridden = f" (overridden: {self.style.prose(reason or '')})" if finding.overridden else ""
        return f"{verb} {code_span(finding.rule)}{subject}{message}{overridden}"

    def _listed(self, items: Sequence[T], line: Callable[[T], str], *, quoted: bool = True) -> list[str]:
        """One list entry per item, at most ``limit``, then how many more and where they are."""
        prefix = "> - " if quoted else "- "
        shown: Iterable[T] = items if self.limit is None else items[: self.limit]
        lines = [prefix + line(item) for item in shown]
        hidden = len(items) - len(lines)
        if hidden:
            lines.append(f"{prefix}… and {hidden:,} more: see {self.style.full_plan}.")
        return lines
