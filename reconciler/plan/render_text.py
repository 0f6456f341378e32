"""The plan for people in a terminal: summary first, then each scope, then a one-line verdict.

Deterministic: the same plan always renders the same text. ANSI colour only when asked for.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import TypeVar

import click

from reconciler.live import FaceValue
from reconciler.plan.model import HeldItem, Plan, PlanEndpoint, PlanItem, PlanProblem, ScopePlan, Severity
from reconciler.plan.serialize import PlanSummary, format_timestamp, summarize
from reconciler.terminal import visible

DEFAULT_ITEM_LIMIT = 50

T = TypeVar("T")


def render_text(plan: Plan, *, color: bool, item_limit: int = DEFAULT_ITEM_LIMIT) -> str:
    """The plan as text; each list in a scope shows at most ``item_limit`` entries, then "... and N more"."""
    paint = _Paint()
    summary = summarize(plan)
    lines = list(_summary_lines(plan, summary, paint))
    for scope_plan in plan.scopes:
        lines += ["", *_scope_lines(scope_plan, paint, item_limit)]
    lines += ["", paint(verdict(plan), fg=_verdict_colour(plan), bold=True)]
    return "\n".join(finish_line(line, color) for line in lines)


class Styled(str):
    """A line to colour once its data is made safe: :func:`finish_line` escapes it, then styles it."""

    fg: str | None = None
    bold: bool = False


def finish_line(line: str, color: bool) -> str:
    """The terminal's one escaping layer (reconciler.terminal.visible), then couponctl's own colour."""
    text = visible(str.__str__(line))
    if isinstance(line, Styled) and color and (line.fg is not None or line.bold):
        return click.style(text, fg=line.fg, bold=line.bold or None)
    return text


# --- words shared with the other renderers ---------------------------------------------------------------


def format_money(amount: Decimal, currency: str) -> str:
    """``USD 1,200.00``: two decimals at least, more when the amount has them (nothing is rounded away)."""
    exponent = amount.as_tuple().exponent
    places = max(2, -exponent) if isinstance(exponent, int) else 2
    return f"{currency} {amount:,.{places}f}"


def format_face_value(face: FaceValue | None) -> str:
    if face is None:
        return "unknown"
    kind = f" ({face.coupon_type})" if face.coupon_type else ""
    return f"{format_money(face.amount, face.currency)}{kind}"


def exposure_text(summary: PlanSummary) -> str:
    """Money per currency (amounts of zero left out), and how many scopes spend an unknown amount."""
    parts = [format_money(amount, currency) for currency, amount in summary.exposure.items() if amount]
    if summary.unpriced_scopes:
        parts.append(f"unknown for {plural(summary.unpriced_scopes, 'scope')}")
    return ", ".join(parts) or "none"


def verdict(plan: Plan) -> str:
    if plan.has_errors:
        return "Plan has errors: apply refused."
    if plan.violations:
        return f"Plan exceeds {plural(len(plan.violations), 'policy limit')}: apply refused unless allowed."
    if not plan.has_changes:
        return "No changes. Live state matches the manifests."
    return f"Plan: {plan.item_count:,} to issue ({exposure_text(summarize(plan))}). Nothing will be revoked."


MAX_SELECTION_SHOWN = 5
UNLISTED_WARNING = (
    "not a documented vendor host nor loopback; credentials go there because the provider says "
    "allowUnlistedEndpoint: true. Check it is meant"
)


def endpoint_text(endpoint: PlanEndpoint) -> str:
    """``msads-prod api -> https://clientcenter.api.bingads.microsoft.com``."""
    return f"{endpoint.provider} {endpoint.role.split(':')[-1]} -> {endpoint.url}"


def selection_text(selection: Sequence[str]) -> str:
    """What a partial plan covers, in words shared by every renderer."""
    shown = ", ".join(selection[:MAX_SELECTION_SHOWN])
    more = f" and {len(selection) - MAX_SELECTION_SHOWN:,} more" if len(selection) > MAX_SELECTION_SHOWN else ""
    return (
        f"limited to {plural(len(selection), 'manifest file')} ({shown}{more}); what other manifests declare was "
        "not planned and is not applied"
    )


def plural(count: int, noun: str, plural_noun: str | None = None) -> str:
    return f"{count:,} {noun if count == 1 else plural_noun or noun + 's'}"


def satisfied_text(count: int) -> str:
    return f"{plural(count, 'target')} already {'holds' if count == 1 else 'hold'} a coupon"


def held_coupons_text(held: HeldItem, *, codes: bool) -> str:
    """``holds 2 coupons: C1 claimed, C2 redeemed`` (statuses only when ``codes`` is False)."""
    shown = ", ".join(f"{c.code} {c.status}" if codes else c.status for c in held.coupons)
    return f"holds {plural(len(held.coupons), 'coupon')}: {shown}"


def not_yet_visible_text(scope_plan: ScopePlan) -> str:
    count = scope_plan.not_yet_visible
    return f" ({count:,} issued per the journal, not yet visible at the vendor)" if count else ""


def inventory_text(scope_plan: ScopePlan) -> str:
    needed = len(scope_plan.to_issue)
    if scope_plan.available is None:
        return f"not reported by the vendor; {needed:,} needed"
    short = needed - scope_plan.available
    tail = f" (short by {short:,})" if short > 0 else ""
    return f"{scope_plan.available:,} available, {needed:,} needed{tail}"


def delivery_matters(scope_plan: ScopePlan) -> bool:
    """Delivery settings are worth a line only when they differ from the default (no feature, no email)."""
    return scope_plan.feature_id is not None or scope_plan.send_notification


def delivery_text(scope_plan: ScopePlan) -> str:
    feature = f"feature id {scope_plan.feature_id}, " if scope_plan.feature_id is not None else ""
    return f"{feature}notification emails {'on' if scope_plan.send_notification else 'off'}"


def amount_text(item: PlanItem, currency: str | None) -> str:
    """The amount to send (aliyun) with the scope's currency when known; empty when the class fixes it (msads)."""
    if item.amount is None:
        return ""
    return format_money(item.amount, currency) if currency else str(item.amount)


def item_text(item: PlanItem, currency: str | None, target: str | None = None) -> str:
    """``account:180535609  [manifest]`` or ``uid:1918000000883  CNY 100.00  [manifest]``."""
    amount = amount_text(item, currency)
    return f"{target or item.target}{'  ' + amount if amount else ''}  [{item.manifest}]"


def scope_exposure_text(scope_plan: ScopePlan) -> str:
    if scope_plan.exposure is None or scope_plan.currency is None:
        return "unknown (no face value)" if scope_plan.to_issue else "none"
    return format_money(scope_plan.exposure, scope_plan.currency)


# --- the text renderer ---------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Paint:
    """Marks lines for colour; the colour itself is :func:`finish_line`'s, once the data is escaped."""

    def __call__(self, text: str, *, fg: str | None = None, bold: bool = False) -> str:
        """Mark ``text`` for colour; :func:`finish_line` escapes its data first, then applies it."""
        styled = Styled(text)
        styled.fg, styled.bold = fg, bold
        return styled


def _verdict_colour(plan: Plan) -> str:
    if plan.has_errors:
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
