"""The plan as a pull-request comment: summary table first, one collapsible block per scope.

Emails are masked unless asked otherwise, with a short keyed digest beside each mask so that reviewers can tell
addresses apart (``o***@example.com (id 3fa2)``, see :mod:`reconciler.plan.masking`), and held coupons are listed
by status, not by code (a code can be redeemed): the full detail lives in the JSON plan. The comment is kept under
``max_chars`` by shortening the per-scope lists, with a pointer to the full plan. Stable: the same plan and key,
the same text.
"""

from __future__ import annotations

import html
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import TypeVar

from reconciler.plan.masking import EMAIL, UNKEYED, EmailMasker, addresses_in, mask_email
from reconciler.plan.model import HeldItem, Plan, ScopePlan
from reconciler.plan.serialize import format_timestamp, summarize
from reconciler.render.freezes import freeze_text
from reconciler.render.governance import Shown
from reconciler.render.governance_markdown import GovernanceMarkdown, governance_addresses
from reconciler.render.markdown_text import code_span, html_text, longest_backtick_run, neutral, unlinked
from reconciler.render.terminal import visible
from reconciler.render.words import (
    UNLISTED_WARNING,
    delivery_matters,
    delivery_text,
    exposure_text,
    format_face_value,
    held_coupons_text,
    inventory_text,
    item_text,
    plural,
    scope_exposure_text,
    selection_text,
    verdict,
)
from reconciler.state.desired import Target, TargetKind

T = TypeVar("T")

MARKER = "<!-- couponctl:plan -->"
__all__ = ["EMAIL", "MARKER", "mask_email", "render_markdown"]


def render_markdown(
    plan: Plan,
    *,
    mask_emails: bool = True,
    mask_key: bytes = UNKEYED,
    max_chars: int = 65_000,
    full_plan_hint: str | None = None,
) -> str:
    """The comment text, at most ``max_chars`` characters. ``mask_key`` keys the digests beside masked emails
    (:func:`reconciler.plan.masking.mask_key` gives the project's).

    When the whole plan does not fit, every list in every scope is cut to the same, largest length that
    fits; if even empty lists do not fit, trailing scopes are left out. Both say where the full plan is.
    """
    masker = EmailMasker(mask_key, _addresses(plan)) if mask_emails else None
    style = _Style(masker, full_plan_hint or "the JSON plan (`couponctl plan --out FILE`)")
    full = _compose(plan, style, item_limit=None, scope_limit=None)
    if len(full) <= max_chars:
        return full
    longest = max([*(_longest_list(s) for s in plan.scopes), _longest_governance_list(plan)])
    limit = _largest(longest, lambda n: len(_compose(plan, style, n, None)) <= max_chars)
    if limit is not None:
        return _compose(plan, style, limit, None)
    scopes = _largest(len(plan.scopes), lambda n: len(_compose(plan, style, 0, n)) <= max_chars)
    text = _compose(plan, style, 0, scopes or 0)
    return text if len(text) <= max_chars else text[: max_chars - 1] + "…"


def _addresses(plan: Plan) -> Iterator[str]:
    """Every address the comment may show: email targets, and addresses in messages, notes, violations and
    governance (finding targets and messages, overrides' reasons and actors)."""
    yield from addresses_in(plan.violations)
    if plan.governance is not None:
        yield from governance_addresses(plan.governance)
    for scope_plan in plan.scopes:
        yield from addresses_in(p.message for p in scope_plan.problems)
        timed = (t.item for t in (*scope_plan.scheduled, *scope_plan.closed))
        for items in (scope_plan.to_issue, scope_plan.in_doubt, tuple(timed)):
            yield from (i.target.value for i in items if i.target.kind is TargetKind.EMAIL)
        for held in (*scope_plan.mismatched, *scope_plan.unmanaged, *scope_plan.removed):
            if held.target.kind is TargetKind.EMAIL:
                yield held.target.value
            yield from addresses_in((held.note,))


@dataclass(frozen=True, slots=True)
class _Style:
    masker: EmailMasker | None
    full_plan: str

    def target(self, target: Target) -> str:
        if self.masker is not None and target.kind is TargetKind.EMAIL:
            return f"{target.kind.value}:{self.masker(target.value)}"
        return str(target)

    def text(self, text: str) -> str:
        """Free text (messages, notes) with emails masked; raw, for code blocks."""
        return self.masker.text(text) if self.masker is not None else text

    def prose(self, text: str) -> str:
        """Free text for Markdown paragraphs: masked, on one line, HTML-safe, Markdown-escaped, no @mention, no
        autolink (see :func:`reconciler.render.markdown_text.neutral`)."""
        return neutral(self.text(text))


def _compose(plan: Plan, style: _Style, item_limit: int | None, scope_limit: int | None) -> str:
    scopes = plan.scopes if scope_limit is None else _first_scopes(plan, scope_limit)
    shortened = item_limit is not None and any(_longest_list(s) > item_limit for s in scopes)
    shortened = shortened or (item_limit is not None and _longest_governance_list(plan) > item_limit)
    blocks = [*_head(plan, style, shortened or len(scopes) < len(plan.scopes), item_limit)]
    blocks += ["\n".join(_scope_block(s, style, item_limit)) for s in scopes]
    if len(scopes) < len(plan.scopes):
        hidden = len(plan.scopes) - len(scopes)
        blocks.append(f"… and {plural(hidden, 'more scope')} not shown: see {style.full_plan}.")
    return "\n\n".join(blocks) + "\n"


def _first_scopes(plan: Plan, count: int) -> tuple[ScopePlan, ...]:
    """The ``count`` scopes to show when not all fit: those with errors first, shown in plan order."""
    ranked = sorted(range(len(plan.scopes)), key=lambda n: not plan.scopes[n].errors)
    return tuple(plan.scopes[n] for n in sorted(ranked[:count]))


def _head(plan: Plan, style: _Style, shortened: bool, limit: int | None) -> Iterator[str]:
    summary = summarize(plan)
    yield f"{MARKER}\n### couponctl plan\n\n**{neutral(verdict(plan))}**"  # a vendor's currency is in it
    if plan.selection is not None:
        words = " ".join(selection_text(plan.selection).split())  # one line, whatever a file name holds
        yield f"**Partial plan:** {style.prose(words)}"
    unlisted = [e for e in plan.endpoints or () if not e.listed]
    if unlisted:
        yield "\n".join(
            f"> [!WARNING]\n> **Unlisted endpoint:** {code_span(e.provider)} {e.role.split(':')[-1]} → "
            f"{code_span(e.url)}: {neutral(UNLISTED_WARNING)}"
            for e in unlisted
        )
    if plan.endpoints:
        where = " · ".join(
            f"{code_span(e.provider)} {e.role.split(':')[-1]} → {code_span(e.url)}" for e in plan.endpoints
        )
        yield f"Connects to: {where}"
    yield "\n".join(
        [
            "| Scopes | To issue | Exposure | Satisfied | Unmanaged | Removed | Errors | Warnings |",
            "| ---: | ---: | --- | ---: | ---: | ---: | ---: | ---: |",
            f"| {summary.scope_count:,} | {summary.item_count:,} | {neutral(exposure_text(summary))} "
            f"| {summary.satisfied:,} | {summary.unmanaged:,} | {summary.removed:,} "
            f"| {summary.errors:,} | {summary.warnings:,} |",
        ]
    )
    checksum = f" · checksum `{plan.checksum[:12]}`" if plan.checksum else ""
    yield (
        f"<sub>couponctl {html.escape(plan.tool_version)} · made {format_timestamp(plan.created_at)}{checksum}"
        " · nothing can be revoked: unmanaged and removed holders are information, not actions</sub>"
    )
    if plan.scheduled_count:
        first = min(t.at for s in plan.scopes for t in s.scheduled)
        yield (
            f"> [!NOTE]\n> {plan.scheduled_count:,} coupon(s) scheduled: not due yet, not issued now; the first is due "
            f"{format_timestamp(first)}. A scheduled apply issues them once due."
        )
    if plan.closed_count:
        yield f"> [!NOTE]\n> {plan.closed_count:,} coupon(s) closed: their issue window has ended; never issued."
    for span in plan.freezes:
        yield f"> [!CAUTION]\n> **Freeze** {style.prose(freeze_text(span, plan))}"
    if summary.in_doubt:
        yield (
            f"> [!WARNING]\n> {summary.in_doubt:,} target(s) in doubt: an earlier issuing call has an unknown outcome."
            " Apply issues them only if a fresh read proves nothing was issued."
        )
    if plan.violations:
        lines = "\n".join(f"> - {style.prose(v)}" for v in plan.violations)
        yield f"> [!CAUTION]\n> Over policy limits: apply refuses unless allowed with a recorded reason.\n{lines}"
    if plan.governance is not None:
        yield from GovernanceMarkdown(style, limit).blocks(Shown(plan.governance))
    if shortened:
        yield f"> [!NOTE]\n> This comment is shortened to fit. The full plan is in {style.full_plan}."


def _scope_block(scope_plan: ScopePlan, style: _Style, limit: int | None) -> Iterator[str]:
    is_open = " open" if scope_plan.errors else ""
    yield f"<details{is_open}>"
    summary = f"<b>{html_text(str(scope_plan.scope))}</b> · {html_text(_scope_counts(scope_plan))}"
    yield f"<summary>{unlinked(summary)}</summary>"
    yield ""
    delivery = f" · {delivery_text(scope_plan)}" if delivery_matters(scope_plan) else ""
    yield (
        f"- Provider type {code_span(scope_plan.provider_type)} · face value "
        f"{neutral(format_face_value(scope_plan.face_value))} · inventory {neutral(inventory_text(scope_plan))}"
        f"{neutral(delivery)}"
    )
    yield f"- Manifests: {', '.join(code_span(m) for m in scope_plan.manifests) or '(none)'}"
    section = _Sections(style, limit)
    currency = scope_plan.currency
    for title, problems in (("Errors", scope_plan.errors), ("Warnings", scope_plan.warnings)):
        yield from section(title, "", problems, lambda p: f"- {code_span(p.code)}: {style.prose(p.message)}", None)
    yield from section(
        "To issue", "", scope_plan.to_issue, lambda i: f"+ {item_text(i, currency, style.target(i.target))}", "diff"
    )
    yield from section(
        "In doubt",
        "issued only if a fresh read proves the earlier call issued nothing",
        scope_plan.in_doubt,
        lambda i: f"? {item_text(i, currency, style.target(i.target))}",
        "text",
    )
    yield from section(
        "Scheduled",
        "not due yet: issued once their window opens",
        scope_plan.scheduled,
        lambda t: f"@ {item_text(t.item, currency, style.target(t.item.target))}: due {format_timestamp(t.at)}",
        "text",
    )
    yield from section(
        "Closed",
        "their issue window has ended: never issued",
        scope_plan.closed,
        lambda t: f"x {item_text(t.item, currency, style.target(t.item.target))}: closed {format_timestamp(t.at)}",
        "text",
    )
    yield from section(
        "Amount mismatches",
        "declared with another amount than held: never issued again",
        scope_plan.mismatched,
        lambda h: _held_line("≠", h, style),
        "text",
    )
    yield from section(
        "Unmanaged holders",
        "information, not an action",
        scope_plan.unmanaged,
        lambda h: _held_line("~", h, style),
        "text",
    )
    yield from section(
        "Removed from manifests",
        "cannot revoke, not an action",
        scope_plan.removed,
        lambda h: _held_line("!", h, style),
        "text",
    )
    yield "</details>"


def _held_line(mark: str, held: HeldItem, style: _Style) -> str:
    note = f" ({style.text(held.note)})" if held.note else ""
    return f"{mark} {style.target(held.target)} {held_coupons_text(held, codes=False)}{note}"


def _scope_counts(scope_plan: ScopePlan) -> str:
    parts = [
        f"{len(scope_plan.to_issue):,} to issue ({scope_exposure_text(scope_plan)})",
        f"{scope_plan.satisfied:,} satisfied",
    ]
    if scope_plan.scheduled:
        parts.append(f"{len(scope_plan.scheduled):,} scheduled")
    if scope_plan.closed:
        parts.append(f"{len(scope_plan.closed):,} closed")
    if scope_plan.in_doubt:
        parts.append(f"{len(scope_plan.in_doubt):,} in doubt")
    if scope_plan.mismatched:
        parts.append(f"{len(scope_plan.mismatched):,} mismatched")
    if scope_plan.unmanaged:
        parts.append(f"{len(scope_plan.unmanaged):,} unmanaged")
    if scope_plan.removed:
        parts.append(f"{len(scope_plan.removed):,} removed")
    if scope_plan.errors:
        parts.append(plural(len(scope_plan.errors), "error"))
    if scope_plan.warnings:
        parts.append(plural(len(scope_plan.warnings), "warning"))
    return " · ".join(parts)


@dataclass(frozen=True, slots=True)
class _Sections:
    """Renders one titled list of a scope: at most ``limit`` lines, then a pointer to the full plan."""

    style: _Style
    limit: int | None

    def __call__(
        self, title: str, note: str, items: Sequence[T], line: Callable[[T], str], fenced: str | None
    ) -> Iterator[str]:
        if not items:
            return
        shown = [line(item) for item in (items if self.limit is None else items[: self.limit])]
        if fenced is not None:  # one line per item, whatever its data holds: no forged "+ issue" line in a diff
            shown = [visible(text) for text in shown]
        yield from ("", f"**{title} ({len(items):,})**" + (f": {note}" if note else ""))
        if shown and fenced is None:
            yield from ("", *shown)
        elif shown:
            fence = "`" * max(3, longest_backtick_run("\n".join(shown)) + 1)
            yield from ("", f"{fence}{fenced}", *shown, fence)
        if len(shown) < len(items):
            yield from ("", f"… and {len(items) - len(shown):,} more: see {self.style.full_plan}.")


def _longest_governance_list(plan: Plan) -> int:
    if plan.governance is None:
        return 0
    shown = Shown(plan.governance)
    return max(len(shown.raised_by), len(shown.denials), len(shown.informing))


def _longest_list(scope_plan: ScopePlan) -> int:
    return max(
        len(scope_plan.to_issue),
        len(scope_plan.in_doubt),
        len(scope_plan.scheduled),
        len(scope_plan.closed),
        len(scope_plan.mismatched),
        len(scope_plan.unmanaged),
        len(scope_plan.removed),
        len(scope_plan.problems),
    )


def _largest(high: int, fits: Callable[[int], bool]) -> int | None:
    """The largest n in [0, high] with fits(n), assuming fits is monotone; None when not even 0 fits."""
    if not fits(0):
        return None
    low = 0
    while low < high:
        middle = (low + high + 1) // 2
        if fits(middle):
            low = middle
        else:
            high = middle - 1
    return low
