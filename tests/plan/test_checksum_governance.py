"""The checksum covers a plan's governance: any change to it changes the checksum; the order of findings,
budgets and overrides (the order they were evaluated or given in) does not."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest

from reconciler.governance.model import Effect, Governance, Override
from reconciler.plan.checksum import canonical_json, checksum_content, plan_checksum, verify_checksum, with_checksum
from reconciler.plan.model import Plan
from reconciler.plan.serialize import plan_from_json, plan_to_json
from reconciler.state.desired import Scope, Target
from tests.support.plan_factories import governed_plan, sample_governance, sample_plan

Change = Callable[[Governance], Governance]


def finding(index: int, **changes: Any) -> Change:
    def change(g: Governance) -> Governance:
        found = list(g.findings)
        found[index] = replace(found[index], **changes)
        return replace(g, findings=tuple(found))

    return change


def budget(index: int, **changes: Any) -> Change:
    def change(g: Governance) -> Governance:
        budgets = list(g.budgets)
        budgets[index] = replace(budgets[index], **changes)
        return replace(g, budgets=tuple(budgets))

    return change


def override(index: int, **changes: Any) -> Change:
    def change(g: Governance) -> Governance:
        overrides = list(g.overrides)
        overrides[index] = replace(overrides[index], **changes)
        return replace(g, overrides=tuple(overrides))

    return change


def governed(change: Change) -> Plan:
    return replace(sample_plan(), governance=change(sample_governance()))


CHANGES: dict[str, Change] = {
    "digest": lambda g: replace(g, digest="e" * 64),
    "tier": lambda g: replace(g, tier="board"),
    "no-tier": lambda g: replace(g, tier=None),
    "environments": lambda g: replace(g, environments=("coupons-finance",)),
    "environment-order": lambda g: replace(g, environments=tuple(reversed(g.environments))),
    "shared-journal": lambda g: replace(g, shared_journal=True),
    "git-author": lambda g: replace(g, git=replace(g.git, author="bob")),
    "git-branch": lambda g: replace(g, git=replace(g.git, branch="main")),
    "git-commit": lambda g: replace(g, git=replace(g.git, commit="f" * 40)),
    "finding-added": lambda g: replace(g, findings=(*g.findings, g.findings[0])),
    "finding-removed": lambda g: replace(g, findings=g.findings[1:]),
    "finding-rule": finding(0, rule="other"),
    "finding-effect": finding(0, effect=Effect.WARN),
    "finding-message": finding(0, message="another message"),
    "finding-scope": finding(1, scope=Scope("msads-prod", "1", "X")),
    "finding-no-scope": finding(1, scope=None),
    "finding-target": finding(0, target=Target.email("zoe@example.com")),
    "finding-tier": finding(2, tier="board"),
    "finding-overridden": finding(0, overridden=True),
    "budget-removed": lambda g: replace(g, budgets=g.budgets[1:]),
    "budget-name": budget(0, name="other"),
    "budget-currency": budget(0, currency="EUR"),
    "budget-limit": budget(0, limit=Decimal("600.00")),
    "budget-spent": budget(0, spent=Decimal("151.00")),
    "budget-in-doubt": budget(0, in_doubt=Decimal("0")),
    "budget-adds": budget(0, adds=Decimal("200.00")),
    "budget-period": budget(0, period="lifetime"),
    "budget-period-start": budget(0, period_start=datetime(2027, 2, 1, tzinfo=UTC)),
    "budget-period-end": budget(0, period_end=None),
    "budget-overridden": budget(0, overridden=True),
    "override-added": lambda g: replace(g, overrides=(*g.overrides, Override("maxItems", "one big batch"))),
    "override-removed": lambda g: replace(g, overrides=g.overrides[1:]),
    "override-name": override(0, name="other"),
    "override-reason": override(0, reason="another reason"),
    "override-actor": override(0, actor="bob"),
    "override-commit": override(1, commit="f" * 40),
}


@pytest.mark.parametrize("change", CHANGES.values(), ids=CHANGES.keys())
def test_any_change_to_the_governance_changes_the_checksum(change: Change) -> None:
    assert plan_checksum(governed(change)) != plan_checksum(governed_plan())


def test_a_plan_with_governance_and_one_without_differ() -> None:
    assert plan_checksum(governed_plan()) != plan_checksum(sample_plan())
    nothing = replace(sample_plan(), governance=Governance(digest=sample_governance().digest))
    assert plan_checksum(nothing) != plan_checksum(sample_plan())


def test_findings_budgets_and_overrides_in_another_order_hash_the_same() -> None:
    reordered = governed(
        lambda g: replace(
            g,
            findings=tuple(reversed(g.findings)),
            budgets=tuple(reversed(g.budgets)),
            overrides=tuple(reversed(g.overrides)),
        )
    )
    assert plan_checksum(reordered) == plan_checksum(governed_plan())


def test_the_checksum_of_a_governed_plan_survives_a_save_and_load_and_an_edit_is_caught() -> None:
    checked = with_checksum(governed_plan())
    text = plan_to_json(checked)
    assert verify_checksum(plan_from_json(text, "p.json"))
    edited = text.replace('"reason": "Q1 top-up approved by finance"', '"reason": "approved"', 1)
    assert edited != text
    assert not verify_checksum(plan_from_json(edited, "p.json"))


def test_the_streamed_checksum_is_the_hash_of_the_canonical_content() -> None:
    # plan_checksum streams the findings (sorted one at a time); checksum_content builds them all: the same bytes
    reordered = governed(lambda g: replace(g, findings=tuple(reversed(g.findings))))
    for made in (governed_plan(), reordered):
        assert plan_checksum(made) == hashlib.sha256(canonical_json(checksum_content(made))).hexdigest()
