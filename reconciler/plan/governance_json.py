"""A plan's governance as the ``governance`` object of the plan JSON, and its counts in the ``summary``.

Written in the model's order (the checksum sorts what carries no order: reconciler.plan.checksum) and read back
exactly. Money is decimal text, timestamps UTC with a Z; ``remaining`` and ``breach`` of a budget are derived,
written for readers of the file, and checked to agree when read.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import replace
from datetime import datetime
from decimal import Decimal
from typing import Any

from reconciler.governance.model import BudgetStatus, Effect, Finding, GitContext, Governance, Override
from reconciler.plan.json_values import (
    JsonObject,
    decimal_text,
    format_timestamp,
    parse_timestamp,
    scope_from_dict,
    scope_to_dict,
    target_from_dict,
    target_to_dict,
    timestamp_problem,
)
from reconciler.plan.jsonstream import Lazy

Problems = list[tuple[str, str]]
#: The summary's keys that count governance: present exactly when the plan has governance.
GOVERNANCE_SUMMARY_KEYS = ("denialCount", "ruleWarningCount", "budgetBreachCount", "overrideCount", "approvalTier")


def governance_summary(governance: Governance) -> JsonObject:
    """The summary's governance counts (:data:`GOVERNANCE_SUMMARY_KEYS`): the deny findings and budget breaches
    no override names (each blocks apply), the warn findings, the overrides carried, and the approval tier."""
    counts = (
        len(governance.denials),
        len(governance.warnings),
        len(governance.breaches),
        len(governance.overrides),
        governance.tier,
    )
    return dict(zip(GOVERNANCE_SUMMARY_KEYS, counts, strict=True))


def governance_to_dict(governance: Governance, *, lazy: bool = False) -> JsonObject:
    """The ``governance`` object; with ``lazy`` the findings (one per item a rule holds for, at worst) are a
    :class:`Lazy` array, produced while written."""
    findings = governance.findings
    return {
        "digest": governance.digest,
        "approvalTier": governance.tier,
        "approvalEnvironments": list(governance.environments),
        "sharedJournal": governance.shared_journal,
        "git": {"author": governance.git.author, "branch": governance.git.branch, "commit": governance.git.commit},
        "overrides": [override_to_dict(o) for o in governance.overrides],
        "budgets": [budget_to_dict(b) for b in governance.budgets],
        "findings": Lazy(lambda: (finding_to_dict(f) for f in findings))
        if lazy
        else [finding_to_dict(f) for f in findings],
    }


def override_to_dict(override: Override) -> JsonObject:
    return {"name": override.name, "reason": override.reason, "actor": override.actor, "commit": override.commit}


def budget_to_dict(budget: BudgetStatus) -> JsonObject:
    return {
        "name": budget.name,
        "currency": budget.currency,
        "period": budget.period,
        "periodStart": _optional_timestamp(budget.period_start),
        "periodEnd": _optional_timestamp(budget.period_end),
        "limit": decimal_text(budget.limit),
        "spent": decimal_text(budget.spent),
        "inDoubt": decimal_text(budget.in_doubt),
        "adds": decimal_text(budget.adds),
        "unpriced": budget.unpriced,
        "remaining": decimal_text(budget.remaining),
        "breach": budget.breach,
        "overridden": budget.overridden,
    }


def finding_to_dict(finding: Finding) -> JsonObject:
    return {
        "rule": finding.rule,
        "effect": finding.effect.value,
        "message": finding.message,
        "scope": None if finding.scope is None else scope_to_dict(finding.scope),
        "target": None if finding.target is None else target_to_dict(finding.target),
        "tier": finding.tier,
        "overridden": finding.overridden,
    }


def _optional_timestamp(moment: datetime | None) -> str | None:
    return None if moment is None else format_timestamp(moment)


# --- reading -------------------------------------------------------------------------------------------


def governance_problems(data: JsonObject) -> Problems:
    """What a schema-valid ``governance`` object says that cannot be: a period bound that is no date and time
    with a zone, a budget's ``remaining`` or ``breach`` that its amounts do not give. (field, message) pairs."""
    return list(_problems(data))


def _problems(data: JsonObject) -> Iterator[tuple[str, str]]:
    for index, budget in enumerate(data["budgets"]):
        where = f"governance.budgets[{index}]"
        for name in ("periodStart", "periodEnd"):
            if budget[name] is not None and (problem := timestamp_problem(budget[name])) is not None:
                yield f"{where}.{name}", problem
        amounts = _amounts_from_dict(budget)
        expected = {"remaining": decimal_text(amounts.remaining), "breach": amounts.breach}
        for name in ("remaining", "breach"):
            if budget[name] != expected[name]:
                yield (
                    f"{where}.{name}",
                    f"is {_json(budget[name])} but its amounts (limit, spent, inDoubt, adds, unpriced) give "
                    f"{_json(expected[name])}",
                )


def governance_from_dict(data: JsonObject) -> Governance:
    """The governance of a schema-valid object without :func:`governance_problems`."""
    git = data["git"]
    return Governance(
        digest=data["digest"],
        findings=tuple(_finding_from_dict(f) for f in data["findings"]),
        budgets=tuple(_budget_from_dict(b) for b in data["budgets"]),
        overrides=tuple(Override(o["name"], o["reason"], o["actor"], o["commit"]) for o in data["overrides"]),
        tier=data["approvalTier"],
        git=GitContext(git["author"], git["branch"], git["commit"]),
        shared_journal=data["sharedJournal"],
        environments=tuple(data["approvalEnvironments"]),
    )


def _finding_from_dict(data: JsonObject) -> Finding:
    return Finding(
        rule=data["rule"],
        effect=Effect(data["effect"]),
        message=data["message"],
        scope=None if data["scope"] is None else scope_from_dict(data["scope"]),
        target=None if data["target"] is None else target_from_dict(data["target"]),
        tier=data["tier"],
        overridden=data["overridden"],
    )


def _budget_from_dict(data: JsonObject) -> BudgetStatus:
    return replace(
        _amounts_from_dict(data),
        period_start=_timestamp_from(data["periodStart"]),
        period_end=_timestamp_from(data["periodEnd"]),
        overridden=data["overridden"],
    )


def _amounts_from_dict(data: JsonObject) -> BudgetStatus:
    """The budget without its period's bounds: what ``remaining`` and ``breach`` follow from."""
    return BudgetStatus(
        name=data["name"],
        currency=data["currency"],
        limit=Decimal(data["limit"]),
        spent=Decimal(data["spent"]),
        in_doubt=Decimal(data["inDoubt"]),
        adds=Decimal(data["adds"]),
        period=data["period"],
        unpriced=data["unpriced"],
    )


def _timestamp_from(text: str | None) -> datetime | None:
    return None if text is None else parse_timestamp(text)


def _json(value: Any) -> str:
    return json.dumps(value)
