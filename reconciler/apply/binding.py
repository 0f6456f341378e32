"""Bind apply to the reviewed plan: a fresh diff may only contain items the saved plan holds."""

from __future__ import annotations

from dataclasses import dataclass, replace

from reconciler.errors import RefusedError
from reconciler.manifest.model import Scope, Target
from reconciler.plan.checksum import verify_checksum
from reconciler.plan.explain import explain_difference
from reconciler.plan.model import Plan


@dataclass(frozen=True)
class BoundPlan:
    """The fresh plan restricted to what was reviewed; ``skipped`` items were satisfied since review."""

    plan: Plan
    skipped: int


def _keys(plan: Plan) -> set[tuple[Scope, Target, str | None]]:
    return {(s.scope, i.target, None if i.amount is None else str(i.amount)) for s in plan.scopes for i in s.to_issue}


def bind(saved: Plan, fresh: Plan, saved_name: str) -> BoundPlan:
    """Refuse (exit 3) when ``fresh`` wants anything ``saved`` did not show, or ``saved`` was altered.

    Items of ``saved`` that are already satisfied are skipped; the apply issues the fresh items, all of
    which the reviewer saw.
    """
    if not verify_checksum(saved):
        raise RefusedError(f"{saved_name}: the plan's checksum does not match its content; it was altered")
    extra = _keys(fresh) - _keys(saved)
    if extra:
        lines = explain_difference(saved, fresh)
        detail = "\n".join(f"  - {line}" for line in lines) if lines else ""
        raise RefusedError(
            f"{saved_name} no longer matches the manifests and live state: {len(extra)} item(s) to issue "
            f"were not in the reviewed plan. Make and review a new plan.\n{detail}".rstrip()
        )
    skipped = len(_keys(saved)) - len(_keys(fresh))
    return BoundPlan(plan=replace(fresh, checksum=saved.checksum), skipped=skipped)
