"""The plan checksum: sha256 of the canonical JSON of what a plan says, not of when it was made.

Two identical diffs made at different times have the same checksum; any change to an item, a scope
setting, a held coupon or a problem changes it. :func:`checksum_content` is the one definition of what is
covered, so that extending it (live-state digest, policy) is a change in one place.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import replace

from reconciler.governance.model import Finding, Governance
from reconciler.plan.governance_json import finding_to_dict
from reconciler.plan.jsonstream import Lazy, iter_json
from reconciler.plan.model import Plan
from reconciler.plan.serialize import JsonObject, plan_content


def checksum_content(plan: Plan, *, lazy: bool = False) -> JsonObject:
    """What the checksum covers: the plan's JSON without ``createdAt`` and ``checksum``.

    Lists whose order carries no meaning (manifests, problems, the coupons a target holds, which come in
    the vendor's paging order; a governance's findings, budgets and overrides, which come in the order they were
    evaluated or given) are sorted, so that reading the same live state twice hashes the same. Scopes and items
    are already sorted by :func:`plan_content`. The approval environments keep their order: the first is the
    tier's own.
    """
    content = plan_content(plan, lazy=lazy)
    content["scopes"] = [_canonical_scope(s) for s in content["scopes"]]
    if plan.governance is not None:
        content["governance"] = _canonical_governance(content["governance"], plan.governance)
    return content


def canonical_json(value: object) -> bytes:
    """Sorted keys, no whitespace, UTF-8: the same value always gives the same bytes."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def plan_checksum(plan: Plan) -> str:
    """sha256 (hex) of the canonical JSON of :func:`checksum_content`, hashed as it is produced (the bytes
    of :func:`canonical_json`, never all in memory at once)."""
    digest = hashlib.sha256()
    for chunk in iter_json(checksum_content(plan, lazy=True), sort_keys=True):
        digest.update(chunk.encode("utf-8"))
    return digest.hexdigest()


def with_checksum(plan: Plan) -> Plan:
    """A copy of ``plan`` carrying its checksum."""
    return replace(plan, checksum=plan_checksum(plan))


def verify_checksum(plan: Plan) -> bool:
    """True when ``plan`` carries a checksum and it matches its content (a missing one never matches)."""
    return bool(plan.checksum) and plan.checksum == plan_checksum(plan)


def _canonical_governance(governance: JsonObject, model: Governance) -> JsonObject:
    """The governance with its findings, budgets and overrides sorted. The findings (one per item at worst) are
    sorted by their canonical JSON and produced one at a time again, as :func:`plan_content` made them."""
    findings: list[JsonObject] | Lazy
    if isinstance(governance["findings"], Lazy):
        findings = Lazy(lambda: (finding_to_dict(f) for f in sorted(model.findings, key=_finding_key)))
    else:
        findings = _sorted(governance["findings"])
    return {
        **governance,
        "overrides": _sorted(governance["overrides"]),
        "budgets": _sorted(governance["budgets"]),
        "findings": findings,
    }


def _finding_key(finding: Finding) -> bytes:
    return canonical_json(finding_to_dict(finding))


def _canonical_scope(scope: JsonObject) -> JsonObject:
    held_lists = {key: _with_sorted_coupons(scope[key]) for key in ("unmanaged", "removed")}
    return {**scope, **held_lists, "manifests": sorted(scope["manifests"]), "problems": _sorted(scope["problems"])}


def _with_sorted_coupons(holders: list[JsonObject] | Lazy) -> list[JsonObject] | Lazy:
    if isinstance(holders, Lazy):
        items = holders.items
        return Lazy(lambda: ({**held, "coupons": _sorted(held["coupons"])} for held in items()))
    return [{**held, "coupons": _sorted(held["coupons"])} for held in holders]


def _sorted(values: list[JsonObject]) -> list[JsonObject]:
    return sorted(values, key=canonical_json)
