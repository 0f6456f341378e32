"""Freezes in words, for every plan format that shows them."""

from __future__ import annotations

from datetime import MAXYEAR

from reconciler.governance.freezes import Span
from reconciler.plan.model import Plan
from reconciler.plan.serialize import format_timestamp


def freeze_text(span: Span, plan: Plan) -> str:
    """``NAME in force from ... until ...`` or ``NAME from ... until ...``, and whether the plan overrides it."""
    until = "" if span.end.year == MAXYEAR else f" until {format_timestamp(span.end)}"
    when = "in force" if span.holds(plan.created_at) else "begins"
    named = {o.name for o in plan.governance.overrides} if plan.governance is not None else set()
    effect = (
        "overridden by this plan"
        if span.name in named
        else "apply refuses during it unless the plan carries --override " + span.name
    )
    return f"{span.name} {when} {format_timestamp(span.start)}{until}: {effect}"
