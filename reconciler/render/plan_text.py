"""The plan for people in a terminal: summary first, then each scope, then a one-line verdict.

Deterministic: the same plan always renders the same text. ANSI colour only when asked for.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import TypeVar

import click

from reconciler.governance.model import Effect, Finding
from reconciler.plan.model import Plan, PlanProblem, ScopePlan, Severity
from reconciler.plan.serialize import PlanSummary, format_timestamp, summarize
from reconciler.render.freezes import freeze_text
from reconciler.render.governance import (
    LOCAL_JOURNAL_NOTE,
    Shown,
    budget_text,
    environments_text,
    finding_text,
    override_text,
)
from reconciler.render.terminal import visible
from reconciler.render.words import (
    UNLISTED_WARNING,
    delivery_matters,
    delivery_text,
    endpoint_text,
    exposure_text,
    format_face_value,
    governance_refusal,
    held_coupons_text,
    inventory_text,
    item_text,
    not_yet_visible_text,
    plural,
    satisfied_text,
    scope_exposure_text,
    selection_text,
    verdict,
)

DEFAULT_ITEM_LIMIT = 50

T = TypeVar("T")


def render_text(plan: Plan, *, color: bool, item_limit: int = DEFAULT_ITEM_LIMIT) -> str:
    """The plan as text; each list in a scope shows at most ``item_limit`` entries, then "... and N more"."""
    paint = _Paint()
    summary = summarize(plan)
    lines = list(_summary_lines(plan, summary, paint))
    if plan.governance is not None:
        lines += _governance_lines(Shown(plan.governance), paint, item_limit)
    for scope_plan in plan.scopes:
        lines += ["", *_scope_lines(scope_plan, paint, item_limit)]
    lines += ["", paint(verdict(plan), fg=_verdict_colour(plan), bold=True)]
    return "\n".join(finish_line(line, color) for line in lines)


class Styled(str):
    """A line to colour once its data is made safe: :func:`finish_line` escapes it, then styles it."""

    fg: str | None = None
    bold: bool = False


def finish_line(line: str, color: bool) -> str:
    """The terminal's one escaping layer (reconciler.render.terminal.visible), then couponctl's own colour."""
    text = visible(str.__str__(line))
    if isinstance(line, Styled) and color and (line.fg is not None or line.bold):
        return click.style(text, fg=line.fg, bold=line.bold or None)
    return text


@dataclass(frozen=True, slots=True)
class _Paint:
    """Marks lines for colour; the colour itself is :func:`finish_line`'s, once the data is escaped."""

    def __call__(self, text: str, *, fg: str | None = None, bold: bool = False) -> str:
        """Mark ``text`` for colour; :func:`finish_line` escapes its data first, then applies it."""
        styled = Styled(text)
        styled.fg, styled.bold = fg, bold
        return styled


def _verdict_colour(plan: Plan) -> str:
    if plan.has_errors or governance_refusal(plan.governance) is not None:
        return "red"
    return "green" if plan.has_changes else "cyan"


def _summary_lines(plan: Plan, summary: PlanSummary, paint: _Paint) -> Iterator[str]:
    checksum = f", checksum {plan.checksum[:12]}" if plan.checksum else ""
    yield paint(
        f"couponctl plan, made {format_timestamp(plan.created_at)} by couponctl {plan.tool_version}{checksum}",
        bold=True,
    )
    if plan.selection is not None:
        yield paint(f"  partial:    {selection_text(plan.selection)}", fg="yellow", bold=True)
    for endpoint in plan.endpoints or ():
        if endpoint.listed:
            yield f"  connects:   {endpoint_text(endpoint)}"
        else:
            yield paint(f"  UNLISTED:   {endpoint_text(endpoint)}: {UNLISTED_WARNING}", fg="red", bold=True)
    busy = sum(1 for s in plan.scopes if s.to_issue)
    yield (
        f"  to issue:   {plural(summary.item_count, 'coupon')} in {busy:,} of {plural(summary.scope_count, 'scope')}"
    )
    yield f"  exposure:   {exposure_text(summary)}"
    yield f"  satisfied:  {satisfied_text(summary.satisfied)}"
    yield f"  unmanaged:  {plural(summary.unmanaged, 'holder')} outside the manifests (information, not an action)"
    yield f"  removed:    {plural(summary.removed, 'holder')} no longer declared (cannot revoke, not an action)"
    yield from _window_summary(plan, paint)
    if summary.in_doubt:
        yield paint(
            f"  in doubt:   {plural(summary.in_doubt, 'target')} whose earlier call has an unknown outcome: "
            "issued only if a fresh read proves nothing was issued",
            fg="yellow",
            bold=True,
        )
    problems = f"  problems:   {plural(summary.errors, 'error')}, {plural(summary.warnings, 'warning')}"
    yield paint(problems, fg="red", bold=True) if summary.errors else problems
    for violation in plan.violations:
        yield paint(f"  over limit: {violation}", fg="red", bold=True)


def _governance_lines(shown: Shown, paint: _Paint, limit: int) -> Iterator[str]:
    """The approval tier and what raised it, the budgets, the rule findings, the overrides carried and the note
    on a journal that is not shared; nothing when the governance found nothing worth showing."""
    if not shown.worth_showing:
        return
    governance = shown.governance
    if governance.tier is not None:
        yield paint(f"  approval:   tier {governance.tier}{environments_text(governance.environments)}", bold=True)
        yield from _limited(shown.raised_by, limit, "tier findings", lambda f: f"    raised by {_finding(f)}")
    for budget in governance.budgets:
        line = f"  budget:     {budget_text(budget, shown.reason(budget.name))}"
        yield paint(line, fg="red", bold=True) if budget.breach and not budget.overridden else line
    yield from _limited(
        shown.denials, limit, "denials", lambda f: paint(f"  denied:     {_finding(f)}", fg="red", bold=True)
    )
    yield from _limited(
        shown.informing,
        limit,
        "rule findings",
        lambda f: paint(f"  {_effect_label(f)}{_finding(f, shown.reason(f.rule))}", fg="yellow"),
    )
    for override in governance.overrides:
        yield paint(f"  override:   {override_text(override)}", fg="magenta")
    if shown.local_journal:
        yield paint(f"  note:       {LOCAL_JOURNAL_NOTE}", fg="yellow")


def _effect_label(finding: Finding) -> str:
    return "denied:     " if finding.effect is Effect.DENY else "warned:     "


def _finding(finding: Finding, reason: str | None = None) -> str:
    return finding_text(finding, lambda f: str(f.target), reason)


def _window_summary(plan: Plan, paint: _Paint) -> Iterator[str]:
    """Items outside their issue window: scheduled (with the first due date) and closed; the freezes that apply."""
    if plan.scheduled_count:
        first = min(t.at for s in plan.scopes for t in s.scheduled)
        yield paint(
            f"  scheduled:  {plural(plan.scheduled_count, 'coupon')} not due yet (not issued now), first due "
            f"{format_timestamp(first)}",
            fg="cyan",
        )
    if plan.closed_count:
        yield f"  closed:     {plural(plan.closed_count, 'coupon')} whose issue window has closed (never issued)"
    for span in plan.freezes:
        yield paint(f"  freeze:     {freeze_text(span, plan)}", fg="red" if span.holds(plan.created_at) else "yellow")


def _scope_lines(scope_plan: ScopePlan, paint: _Paint, limit: int) -> Iterator[str]:
    yield paint(f"{scope_plan.scope} ({scope_plan.provider_type})", bold=True)
    yield f"  face value: {format_face_value(scope_plan.face_value)}"
    yield f"  manifests:  {', '.join(scope_plan.manifests) or '(none)'}"
    if delivery_matters(scope_plan):
        yield f"  delivery:   {delivery_text(scope_plan)}"
    currency = scope_plan.currency
    yield from _limited(
        scope_plan.to_issue, limit, "to issue", lambda i: paint(f"  + issue {item_text(i, currency)}", fg="green")
    )
    yield from _limited(
        scope_plan.in_doubt,
        limit,
        "in doubt",
        lambda i: paint(f"  ? in doubt {item_text(i, currency)} (issued only if proved not issued)", fg="yellow"),
    )
    yield from _limited(
        scope_plan.scheduled,
        limit,
        "scheduled",
        lambda t: paint(f"  @ scheduled {item_text(t.item, currency)}: due {format_timestamp(t.at)}", fg="cyan"),
    )
    yield from _limited(
        scope_plan.closed,
        limit,
        "closed",
        lambda t: f"  x closed {item_text(t.item, currency)}: window closed {format_timestamp(t.at)}, never issued",
    )
    yield f"  satisfied:  {satisfied_text(scope_plan.satisfied)}{not_yet_visible_text(scope_plan)}"
    yield from _limited(
        scope_plan.mismatched,
        limit,
        "mismatched",
        lambda h: paint(f"  ≠ mismatch: {h.target} {held_coupons_text(h, codes=True)} ({h.note})", fg="yellow"),
    )
    yield from _limited(
        scope_plan.unmanaged,
        limit,
        "unmanaged",
        lambda h: paint(
            f"  ~ unmanaged: {h.target} {held_coupons_text(h, codes=True)} (information, not an action)",
            fg="yellow",
        ),
    )
    yield from _limited(
        scope_plan.removed,
        limit,
        "removed",
        lambda h: paint(
            f"  ! removed from manifests: {h.target} {held_coupons_text(h, codes=True)} — cannot revoke, not an action",
            fg="magenta",
        ),
    )
    yield f"  inventory:  {inventory_text(scope_plan)}"
    problems = (*scope_plan.errors, *scope_plan.warnings)
    yield from _limited(problems, limit, "problems", lambda p: _problem_line(p, paint))
    yield f"  exposure:   {scope_exposure_text(scope_plan)}"


def _problem_line(problem: PlanProblem, paint: _Paint) -> str:
    if problem.severity is Severity.ERROR:
        return paint(f"  error ({problem.code}): {problem.message}", fg="red", bold=True)
    return paint(f"  warning ({problem.code}): {problem.message}", fg="yellow")


def _limited(items: Sequence[T], limit: int, what: str, line: Callable[[T], str]) -> Iterator[str]:
    """At most ``limit`` lines, formatted lazily, then "... and N more"."""
    yield from (line(item) for item in items[:limit])
    if len(items) > limit:
        yield f"  ... and {len(items) - limit:,} more {what}"
