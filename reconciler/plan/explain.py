"""Why a fresh diff differs from the reviewed, saved plan: plain sentences naming the scope and target."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from typing import Any

from reconciler.plan.checksum import checksum_content
from reconciler.plan.model import HeldItem, Plan, PlanItem, ScopePlan
from reconciler.plan.serialize import decimal_text
from reconciler.render.words import (
    amount_text,
    delivery_text,
    format_face_value,
    held_coupons_text,
    plural,
    scope_exposure_text,
)
from reconciler.state.desired import Scope


def explain_difference(saved: Plan, fresh: Plan) -> list[str]:
    """What changed from ``saved`` to ``fresh``: plan-wide lines first, then one sentence per change.

    Every per-scope sentence starts with the scope, and they are sorted, so they group by scope. Empty
    when the two plans have the same checksum content.
    """
    head = []
    if saved.tool_version != fresh.tool_version:
        head.append(f"The saved plan was made by couponctl {saved.tool_version}, this one by {fresh.tool_version}.")
    before = {s.scope: s for s in saved.scopes}
    after = {s.scope: s for s in fresh.scopes}
    lines = [line for scope in before.keys() | after.keys() for line in _scope_lines(scope, before, after)]
    if not head and not lines:
        lines = _fallback_lines(saved, fresh)
    return head + sorted(lines)


def _scope_lines(scope: Scope, before: Mapping[Scope, ScopePlan], after: Mapping[Scope, ScopePlan]) -> Iterator[str]:
    old, new = before.get(scope), after.get(scope)
    if old is None and new is not None:
        yield f"{scope}: new scope, not in the saved plan ({plural(len(new.to_issue), 'item')} to issue)."
    if new is None and old is not None:
        yield f"{scope}: no longer in the plan (the saved plan had {plural(len(old.to_issue), 'item')} to issue)."
    yield from _item_lines(scope, old.to_issue if old else (), new.to_issue if new else ())
    if old is not None and new is not None:
        yield from _setting_lines(scope, old, new)
        yield from _problem_lines(scope, old, new)
        yield from _held_lines(scope, "an unmanaged holder", old.unmanaged, new.unmanaged)
        yield from _held_lines(scope, "a removed holder", old.removed, new.removed)


def _item_lines(scope: Scope, old: tuple[PlanItem, ...], new: tuple[PlanItem, ...]) -> Iterator[str]:
    before = {i.target: i for i in old}
    after = {i.target: i for i in new}
    for target in after.keys() - before.keys():
        item = after[target]
        amount = f" ({item.amount})" if item.amount is not None else ""
        yield f"{scope}: {target}{amount} is new to issue (declared in {item.manifest})."
    for target in before.keys() - after.keys():
        yield f"{scope}: {target} is no longer to issue: it holds a coupon now, or no manifest declares it."
    for target in before.keys() & after.keys():
        was, now = before[target], after[target]
        if was.amount != now.amount:
            yield f"{scope}: {target} amount changed from {amount_text(was, None)} to {amount_text(now, None)}."
        if was.manifest != now.manifest:
            yield f"{scope}: {target} is now declared in {now.manifest} (was {was.manifest})."


def _setting_lines(scope: Scope, old: ScopePlan, new: ScopePlan) -> Iterator[str]:
    described: tuple[tuple[str, Callable[[ScopePlan], str]], ...] = (
        ("face value", lambda s: format_face_value(s.face_value)),
        ("inventory", lambda s: "not reported" if s.available is None else f"{s.available:,} available"),
        ("exposure", scope_exposure_text),
        ("satisfied targets", lambda s: f"{s.satisfied:,}"),
        ("delivery", delivery_text),
        ("provider type", lambda s: s.provider_type),
        ("manifests", lambda s: ", ".join(sorted(s.manifests)) or "(none)"),
    )
    for label, describe in described:
        was, now = describe(old), describe(new)
        if was != now:
            yield f"{scope}: {label} changed from {was} to {now}."


def _problem_lines(scope: Scope, old: ScopePlan, new: ScopePlan) -> Iterator[str]:
    for problem in set(new.problems) - set(old.problems):
        yield f"{scope}: new {problem.severity.value} ({problem.code}): {problem.message}"
    for problem in set(old.problems) - set(new.problems):
        yield f"{scope}: {problem.severity.value} ({problem.code}) no longer raised: {problem.message}"


def _held_lines(scope: Scope, label: str, old: tuple[HeldItem, ...], new: tuple[HeldItem, ...]) -> Iterator[str]:
    before = {h.target: h for h in old}
    after = {h.target: h for h in new}
    for target in after.keys() - before.keys():
        yield f"{scope}: {target} is now {label}; it {held_coupons_text(after[target], codes=True)}."
    for target in before.keys() - after.keys():
        yield f"{scope}: {target} is no longer {label}."
    for target in before.keys() & after.keys():
        for change in _holding_changes(before[target], after[target]):
            yield f"{scope}: {target}, {label}: {change}."


def _holding_changes(old: HeldItem, new: HeldItem) -> Iterator[str]:
    """The coupon-level changes of one holder, in words, from a DeepDiff of its coupons keyed by code."""
    from deepdiff import DeepDiff  # only when a saved plan is explained: it costs a tenth of a second to import

    tree = DeepDiff(_holding(old), _holding(new), view="tree")
    for report, levels in sorted(tree.items()):
        for level in sorted(levels, key=lambda lv: str(lv.path())):
            path = level.path(output_format="list")
            if path == ["note"]:
                yield f"note changed from {level.t1!r} to {level.t2!r}"
            elif report == "dictionary_item_added" and len(path) == 2:
                yield f"now also holds coupon {path[1]} ({level.t2['status']})"
            elif report == "dictionary_item_removed" and len(path) == 2:
                yield f"no longer shows coupon {path[1]}"
            elif len(path) == 3:
                yield f"coupon {path[1]} {path[2]} changed from {level.t1} to {level.t2}"


def _holding(held: HeldItem) -> dict[str, Any]:
    coupons = {
        c.code: {
            "status": c.status,
            "amount": None if c.amount is None else decimal_text(c.amount),
            "currency": c.currency,
            "issuedAt": c.issued_at,
        }
        for c in held.coupons
    }
    return {"note": held.note, "coupons": coupons}


def _fallback_lines(saved: Plan, fresh: Plan) -> list[str]:
    """When no sentence above fits yet the checksum content differs: DeepDiff's words, so the list is never empty."""
    from deepdiff import DeepDiff

    found = DeepDiff(checksum_content(saved), checksum_content(fresh))
    return [f"Other difference: {line}" for line in found.pretty().splitlines()] if found else []
