"""The variables a rule reads, per level (docs/governance.md, Rules, has the table), and their values as CEL takes
them: str, int, float (money as a double), bool, None, lists and str-keyed dicts.

Everything plan-wide (exposure, budgets, git, plan) is built once; everything of a scope or a manifest once per
scope or manifest; per item only the target and its declarations (from an index built once, only when a rule reads
``declared``). A rule is given only the variables it reads."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from functools import cached_property

from reconciler.governance.cel import Declarations, Kind
from reconciler.governance.model import BudgetStatus, GitContext, Level
from reconciler.plan.model import Plan, PlanItem, ScopePlan
from reconciler.state.desired import DesiredState, Scope, Target

Values = dict[str, object]
#: Where a target is declared: (scope, manifest) pairs, in the desired state's order.
Declared = tuple[tuple[Scope, str], ...]

_PLAN_WIDE: Declarations = {
    "exposure": Kind.MAP,
    "budgets": Kind.MAP,
    "git": Kind.STRING_MAP,
    "plan": Kind.MAP,
}

#: What each level declares: a rule that names anything else does not compile (so it is caught at load).
DECLARATIONS: Mapping[Level, Declarations] = {
    Level.ITEM: {
        "target": Kind.STRING_MAP,
        "scope": Kind.STRING_MAP,
        "manifest": Kind.MAP,
        "amount": Kind.DYN,
        "currency": Kind.STRING,
        "inventory": Kind.MAP,
        "declared": Kind.LIST,
        **_PLAN_WIDE,
    },
    Level.SCOPE: {
        "scope": Kind.STRING_MAP,
        "manifests": Kind.LIST,
        "amount": Kind.DYN,
        "currency": Kind.STRING,
        "inventory": Kind.MAP,
        "items": Kind.DYN,
        **_PLAN_WIDE,
    },
    Level.PLAN: {"items": Kind.DYN, **_PLAN_WIDE},
}


def money(amount: Decimal | None) -> float | None:
    return None if amount is None else float(amount)


def scope_values(scope: Scope, plan: ScopePlan) -> dict[str, str]:
    face = plan.face_value
    return {
        "provider": scope.provider,
        "owner": scope.owner,
        "couponClass": scope.coupon_class,
        "name": str(scope),
        "couponType": (face.coupon_type or "") if face is not None else "",
    }


@dataclass
class PlanValues:
    """The values of one plan, built as rules ask for them and kept for the next rule."""

    plan: Plan
    desired: DesiredState
    budgets: Sequence[BudgetStatus]
    git: GitContext
    _manifests: dict[str, dict[str, object]] = field(default_factory=dict)
    _declared: dict[Declared, list[dict[str, object]]] = field(default_factory=dict)

    @cached_property
    def shared(self) -> Values:
        """The plan-wide variables: every level has them."""
        exposure = {currency: float(amount) for currency, amount in self.plan.exposure().items()}
        budgets: dict[str, dict[str, dict[str, float]]] = {}
        for status in self.budgets:
            budgets.setdefault(status.name, {})[status.currency] = {
                "limit": float(status.limit),
                "spent": float(status.spent),
                "inDoubt": float(status.in_doubt),
                "adds": float(status.adds),
                "remaining": float(status.remaining),
            }
        git = {"author": self.git.author or "", "branch": self.git.branch or "", "commit": self.git.commit or ""}
        scopes = sum(1 for scope_plan in self.plan.scopes if scope_plan.to_issue)
        whole = {"items": self.plan.item_count, "scopes": scopes, "exposure": exposure}
        return {"exposure": exposure, "budgets": budgets, "git": git, "plan": whole}

    def manifest(self, name: str) -> dict[str, object]:
        found = self._manifests.get(name)
        if found is None:
            found = {"name": name, "labels": dict(self.desired.labels.get(name, {}))}
            self._manifests[name] = found
        return found

    def for_plan(self) -> Values:
        return {**self.shared, "items": self.plan.item_count}

    def for_scope(self, scope_plan: ScopePlan) -> Values:
        """A scope's variables: ``amount`` is its exposure."""
        return {
            **self.shared,
            "scope": scope_values(scope_plan.scope, scope_plan),
            "manifests": [self.manifest(name) for name in scope_plan.manifests],
            "amount": money(scope_plan.exposure),
            "currency": _currency(scope_plan),
            "inventory": _inventory(scope_plan),
            "items": len(scope_plan.to_issue),
        }

    def for_scope_items(self, scope_plan: ScopePlan) -> Values:
        """What the items of a scope share (``amount``: the class's face value; an item's own amount replaces it)."""
        face = scope_plan.face_value
        return {
            **self.shared,
            "scope": scope_values(scope_plan.scope, scope_plan),
            "amount": money(face.amount) if face is not None else None,
            "currency": _currency(scope_plan),
            "inventory": _inventory(scope_plan),
        }

    @cached_property
    def declarations(self) -> Mapping[Target, Declared]:
        """For each target to issue, where the desired state declares it: (scope, manifest) pairs, across scopes."""
        wanted = {item.target for scope_plan in self.plan.scopes for item in scope_plan.to_issue}
        index: dict[Target, Declared] = {}
        for scope, items in self.desired.items.items():
            for target in wanted.intersection(items):
                place = ((scope, items[target].manifest),)
                index[target] = index.get(target, ()) + place
        return index

    def declared(self, places: Declared) -> list[dict[str, object]]:
        """The ``declared`` variable of a target declared at ``places``: one list per distinct set of places."""
        found = self._declared.get(places)
        if found is None:
            found = [self._declaration(scope, manifest) for scope, manifest in places]
            self._declared[places] = found
        return found

    def _declaration(self, scope: Scope, manifest: str) -> dict[str, object]:
        return {
            "manifest": manifest,
            "labels": self.manifest(manifest)["labels"],
            "provider": scope.provider,
            "owner": scope.owner,
            "couponClass": scope.coupon_class,
        }


def item_values(
    shared: Values, values: PlanValues, item: PlanItem, read: Iterable[str], manifest: dict[str, object]
) -> Values:
    """An item's variables among ``read``, over what its scope shares (``shared``: PlanValues.for_scope_items)."""
    chosen: Values = {}
    for name in read:
        if name == "target":
            chosen[name] = {"kind": item.target.kind.value, "value": item.target.value}
        elif name == "declared":
            chosen[name] = values.declared(values.declarations.get(item.target, ()))
        elif name == "manifest":
            chosen[name] = manifest
        elif name == "amount" and item.amount is not None:
            chosen[name] = float(item.amount)
        else:
            chosen[name] = shared[name]
    return chosen


def _currency(scope_plan: ScopePlan) -> str:
    face = scope_plan.face_value
    return scope_plan.currency or (face.currency if face is not None else "") or ""


def _inventory(scope_plan: ScopePlan) -> dict[str, int]:
    available = -1 if scope_plan.available is None else scope_plan.available
    return {"available": available, "needed": len(scope_plan.to_issue)}
