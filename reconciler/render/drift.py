"""The drift report as text (terminals, CI logs), JSON (machines) and Markdown (an issue or a job summary).

All three are stable: the same report, the same output. Coupon codes are masked to their last four characters
everywhere (a code can be redeemed by whoever reads it); the Markdown also masks emails, with a short keyed digest
beside each mask so that different addresses never look the same (``o***@example.com (id 3fa2)``, see
:mod:`reconciler.plan.masking`), unless asked otherwise, and stays under ``max_chars`` by shortening the lists,
with a pointer to the JSON.
"""

from __future__ import annotations

import html
import json
from collections.abc import Callable, Iterator, Sequence
from typing import Any

from reconciler.plan.diff import coupon_date
from reconciler.plan.drift import DRIFT_FORMAT_VERSION, Drift, DriftItem, DriftKind, ScopeDrift
from reconciler.plan.masking import UNKEYED, EmailMasker, addresses_in
from reconciler.plan.model import PlanProblem
from reconciler.plan.serialize import decimal_text, format_timestamp
from reconciler.render.markdown_text import html_text, longest_backtick_run, neutral, unlinked
from reconciler.render.terminal import visible
from reconciler.render.words import plural
from reconciler.state.desired import Target, TargetKind
from reconciler.state.live import IssuedCoupon

DRIFT_KIND = "CouponDrift"
MARKER = "<!-- couponctl:drift -->"
DEFAULT_ITEM_LIMIT = 50
FULL_REPORT = "the JSON report (`couponctl drift --format json`)"

_MARKS = {
    DriftKind.UNMANAGED: "~",
    DriftKind.VOID: "x",
    DriftKind.REMOVED: "!",
    DriftKind.HELD_TWICE: "=",
    DriftKind.ISSUED_LATE: "+",
}
_TITLES = {
    DriftKind.UNMANAGED: ("Unmanaged holders", "issued outside the manifests"),
    DriftKind.VOID: ("Void targets", "declared, but every coupon they hold is void (expired, abandoned)"),
    DriftKind.HELD_TWICE: (
        "Paid more than once",
        "issued more than one coupon of the class; coupons cannot be revoked: check with the vendor and the ledger",
    ),
    DriftKind.ISSUED_LATE: (
        "Issued late",
        "calls the journal resolved as not issued, issued after all; the next apply records them (journal, ledger)",
    ),
    DriftKind.REMOVED: ("Removed from manifests", "couponctl issued to them; information, not drift"),
}


# --- words -----------------------------------------------------------------------------------------------


def verdict(drift: Drift) -> str:
    if drift.has_errors:
        return "Drift check has errors: some scopes could not be judged."
    if not drift.has_drift:
        return "No drift. The vendor shows nothing the manifests do not account for."
    parts = []
    if drift.count(DriftKind.UNMANAGED):
        parts.append(plural(drift.count(DriftKind.UNMANAGED), "unmanaged holder"))
    if drift.count(DriftKind.VOID):
        parts.append(plural(drift.count(DriftKind.VOID), "void target"))
    if drift.count(DriftKind.HELD_TWICE):
        parts.append(f"{plural(drift.count(DriftKind.HELD_TWICE), 'target')} paid more than once")
    if drift.count(DriftKind.ISSUED_LATE):
        parts.append(f"{plural(drift.count(DriftKind.ISSUED_LATE), 'target')} issued late")
    return f"Drift: {', '.join(parts)}. Nothing is issued or revoked on its own: review and update the manifests."


def _coupons_text(coupons: Sequence[IssuedCoupon], *, dates: bool = False) -> str:
    """``holds 2 coupons: ****AAAA claimed, ****BBBB claimed``; with ``dates``, each coupon's issue date too."""
    shown = (f"{c.code} {c.status}" + (f" (issued {coupon_date(c)})" if dates else "") for c in coupons)
    return f"holds {plural(len(coupons), 'coupon')}: " + ", ".join(shown)


def _scope_counts(scope: ScopeDrift) -> str:
    parts = []
    for kind, items in ((DriftKind.UNMANAGED, scope.unmanaged), (DriftKind.VOID, scope.void)):
        if items:
            parts.append(f"{len(items):,} {kind.value}")
    if scope.held_twice:
        parts.append(f"{len(scope.held_twice):,} paid more than once")
    if scope.issued_late:
        parts.append(f"{len(scope.issued_late):,} issued late")
    if scope.removed:
        parts.append(f"{len(scope.removed):,} removed")
    if scope.pending:
        parts.append(f"{scope.pending:,} to issue")
    if scope.errors:
        parts.append(plural(len(scope.errors), "error"))
    if scope.warnings:
        parts.append(plural(len(scope.warnings), "warning"))
    return " · ".join(parts) or "no drift"


def _lists(scope: ScopeDrift) -> tuple[tuple[DriftKind, tuple[DriftItem, ...]], ...]:
    return (
        (DriftKind.UNMANAGED, scope.unmanaged),
        (DriftKind.VOID, scope.void),
        (DriftKind.HELD_TWICE, scope.held_twice),
        (DriftKind.ISSUED_LATE, scope.issued_late),
        (DriftKind.REMOVED, scope.removed),
    )


def _information(scope: ScopeDrift) -> list[str]:
    lines = []
    if scope.pending:
        lines.append(f"{plural(scope.pending, 'declared target')} not issued yet (`couponctl plan` shows them)")
    if scope.not_visible:
        lines.append(f"{scope.not_visible:,} issued per the journal, not visible at the vendor yet (its reads lag)")
    return lines


# --- text ------------------------------------------------------------------------------------------------


def render_drift_text(drift: Drift, *, item_limit: int = DEFAULT_ITEM_LIMIT) -> str:
    """Summary first, then each scope, then the verdict; each list shows at most ``item_limit`` lines."""
    lines = [
        f"couponctl drift · {plural(len(drift.scopes), 'scope')} checked · {format_timestamp(drift.checked_at)}",
        f"  unmanaged holders: {drift.count(DriftKind.UNMANAGED):,} · void targets: {drift.count(DriftKind.VOID):,}"
        f" · paid more than once: {drift.count(DriftKind.HELD_TWICE):,}"
        f" · issued late: {drift.count(DriftKind.ISSUED_LATE):,}"
        f" · removed (information): {drift.count(DriftKind.REMOVED):,}",
    ]
    for scope in drift.scopes:
        manifests = ", ".join(scope.manifests) or "(none)"
        lines += ["", f"{scope.scope} ({scope.provider_type}; manifests: {manifests}): {_scope_counts(scope)}"]
        lines += [f"  error: {p.code}: {p.message}" for p in scope.errors]
        lines += [f"  warning: {p.code}: {p.message}" for p in scope.warnings]
        for kind, items in _lists(scope):
            if not items:
                continue
            title, note = _TITLES[kind]
            lines.append(f"  {title.lower()} ({len(items):,}): {note}")
            lines += [f"    {_item_line(i, str(i.target))}" for i in items[:item_limit]]
            if len(items) > item_limit:
                lines.append(f"    ... and {len(items) - item_limit:,} more: see {FULL_REPORT}")
        lines += [f"  {line}" for line in _information(scope)]
    lines += ["", verdict(drift)]
    return "\n".join(visible(line) for line in lines)  # the terminal's one escaping layer


def _item_line(item: DriftItem, target: str) -> str:
    manifest = f"  [{item.manifest}]" if item.manifest else ""
    coupons = _coupons_text(item.coupons, dates=item.kind in (DriftKind.HELD_TWICE, DriftKind.ISSUED_LATE))
    return f"{_MARKS[item.kind]} {target} {coupons}{manifest}"


# --- JSON ------------------------------------------------------------------------------------------------


def drift_to_dict(drift: Drift) -> dict[str, Any]:
    return {
        "kind": DRIFT_KIND,
        "formatVersion": DRIFT_FORMAT_VERSION,
        "toolVersion": drift.tool_version,
        "checkedAt": format_timestamp(drift.checked_at),
        "summary": {
            "hasDrift": drift.has_drift,
            "hasErrors": drift.has_errors,
            "scopeCount": len(drift.scopes),
            "unmanagedCount": drift.count(DriftKind.UNMANAGED),
            "voidCount": drift.count(DriftKind.VOID),
            "removedCount": drift.count(DriftKind.REMOVED),
            "heldMoreThanOnceCount": drift.count(DriftKind.HELD_TWICE),
            "issuedLateCount": drift.count(DriftKind.ISSUED_LATE),
            "pendingCount": sum(s.pending for s in drift.scopes),
            "notVisibleCount": sum(s.not_visible for s in drift.scopes),
            "errorCount": sum(len(s.errors) for s in drift.scopes),
            "warningCount": sum(len(s.warnings) for s in drift.scopes),
        },
        "scopes": [_scope_to_dict(s) for s in drift.scopes],
    }


def drift_to_json(drift: Drift) -> str:
    """Indented JSON, without a trailing newline. Codes are masked; emails are not (this is the full detail)."""
    return json.dumps(drift_to_dict(drift), indent=2, ensure_ascii=False)


def _scope_to_dict(scope: ScopeDrift) -> dict[str, Any]:
    return {
        "provider": scope.scope.provider,
        "providerType": scope.provider_type,
        "owner": scope.scope.owner,
        "couponClass": scope.scope.coupon_class,
        "manifests": list(scope.manifests),
        "hasDrift": scope.has_drift,
        "unmanaged": [_item_to_dict(i) for i in scope.unmanaged],
        "void": [_item_to_dict(i) for i in scope.void],
        "removed": [_item_to_dict(i) for i in scope.removed],
        "heldMoreThanOnce": [_item_to_dict(i) for i in scope.held_twice],
        "issuedLate": [_item_to_dict(i) for i in scope.issued_late],
        "pending": scope.pending,
        "notVisible": scope.not_visible,
        "problems": [_problem_to_dict(p) for p in (*scope.errors, *scope.warnings)],
    }


def _item_to_dict(item: DriftItem) -> dict[str, Any]:
    return {
        "target": {"kind": item.target.kind.value, "value": item.target.value},
        "manifest": item.manifest,
        "coupons": [
            {
                "code": c.code,
                "status": c.status,
                "amount": None if c.amount is None else decimal_text(c.amount),
                "currency": c.currency,
                "issuedAt": c.issued_at,
                "issueDate": None if c.issue_date is None else coupon_date(c),
            }
            for c in item.coupons
        ],
        "note": item.note,
    }


def _problem_to_dict(problem: PlanProblem) -> dict[str, str]:
    return {"severity": problem.severity.value, "code": problem.code, "message": problem.message}


# --- Markdown --------------------------------------------------------------------------------------------


def render_drift_markdown(
    drift: Drift, *, mask_emails: bool = True, mask_key: bytes = UNKEYED, max_chars: int = 65_000
) -> str:
    """An issue body or job summary of at most ``max_chars`` characters: summary first, a block per scope.
    ``mask_key`` keys the digests beside masked emails (:func:`reconciler.plan.masking.mask_key`).

    When everything does not fit, every list is cut to the same, largest length that fits.
    """
    masker = EmailMasker(mask_key, _addresses(drift)) if mask_emails else None
    full = _markdown(drift, masker, None)
    if len(full) <= max_chars:
        return full
    low, high = 0, max((len(items) for s in drift.scopes for _, items in _lists(s)), default=0)
    if len(_markdown(drift, masker, 0)) > max_chars:
        text = _markdown(drift, masker, 0)
        return text[: max_chars - 1] + "…"
    while low < high:
        middle = (low + high + 1) // 2
        if len(_markdown(drift, masker, middle)) <= max_chars:
            low = middle
        else:
            high = middle - 1
    return _markdown(drift, masker, low)


def _addresses(drift: Drift) -> Iterator[str]:
    """Every address the report may show: email targets and addresses in problem messages."""
    for scope in drift.scopes:
        yield from addresses_in(p.message for p in (*scope.errors, *scope.warnings))
        for _, items in _lists(scope):
            yield from (i.target.value for i in items if i.target.kind is TargetKind.EMAIL)


def _markdown(drift: Drift, masker: EmailMasker | None, limit: int | None) -> str:
    def target(target: Target) -> str:
        return _target(target, masker)

    shortened = limit is not None and any(len(items) > limit for s in drift.scopes for _, items in _lists(s))
    blocks = [
        f"{MARKER}\n### couponctl drift\n\n**{neutral(verdict(drift))}**",
        "\n".join(
            [
                "| Scopes | Unmanaged | Void | Paid more than once | Issued late | Removed (information) | To issue "
                "| Errors |",
                "| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
                f"| {len(drift.scopes):,} | {drift.count(DriftKind.UNMANAGED):,} | {drift.count(DriftKind.VOID):,} "
                f"| {drift.count(DriftKind.HELD_TWICE):,} | {drift.count(DriftKind.ISSUED_LATE):,} "
                f"| {drift.count(DriftKind.REMOVED):,} | {sum(s.pending for s in drift.scopes):,} "
                f"| {sum(len(s.errors) for s in drift.scopes):,} |",
            ]
        ),
        f"<sub>couponctl {html.escape(drift.tool_version)} · checked {format_timestamp(drift.checked_at)}"
        " · drift is information: couponctl never issues or revokes on its own</sub>",
    ]
    if shortened:
        blocks.append(f"> [!NOTE]\n> This report is shortened to fit. The full report is {FULL_REPORT}.")
    blocks += ["\n".join(_scope_block(s, target, masker, limit)) for s in drift.scopes]
    return "\n\n".join(blocks) + "\n"


def _scope_block(
    scope: ScopeDrift, target: Callable[[Target], str], masker: EmailMasker | None, limit: int | None
) -> Iterator[str]:
    opened = " open" if scope.has_drift or scope.errors else ""
    yield f"<details{opened}>"
    summary = f"<b>{html_text(str(scope.scope))}</b> · {html_text(_scope_counts(scope))}"
    yield f"<summary>{unlinked(summary)}</summary>"
    yield ""
    manifests = ", ".join(neutral(m) for m in scope.manifests) or "(none)"
    yield f"- Provider type {neutral(scope.provider_type)} · manifests: {manifests}"
    for problem in (*scope.errors, *scope.warnings):
        yield f"- {problem.severity.value} {neutral(problem.code)}: {_prose(problem.message, masker)}"
    for line in _information(scope):
        yield f"- {_prose(line, masker)}"
    for kind, items in _lists(scope):
        if not items:
            continue
        title, note = _TITLES[kind]
        shown = items if limit is None else items[:limit]
        yield from ("", f"**{title} ({len(items):,})**: {note}")
        if shown:
            lines = [visible(_item_line(i, target(i.target))) for i in shown]  # one line each, whatever the data
            fence = "`" * max(3, longest_backtick_run("\n".join(lines)) + 1)
            yield from ("", f"{fence}text", *lines, fence)
        if len(shown) < len(items):
            yield from ("", f"… and {len(items) - len(shown):,} more: see {FULL_REPORT}.")
    yield "</details>"


def _target(target: Target, masker: EmailMasker | None) -> str:
    if masker is not None and target.kind is TargetKind.EMAIL:
        return f"{target.kind.value}:{masker(target.value)}"
    return str(target)


def _prose(text: str, masker: EmailMasker | None) -> str:
    """Free text for the report: masked, then made inert for Markdown (reconciler.render.markdown_text.neutral)."""
    return neutral(masker.text(text) if masker is not None else text)
