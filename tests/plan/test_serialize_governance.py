"""A plan's governance in the plan JSON: its shape, an exact round trip, the summary's counts, plans saved before
governance existed, and clear rejection of a governance that cannot be."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

import pytest
from jsonschema import Draft202012Validator

from reconciler.errors import PlanFileError, Problem
from reconciler.governance.model import BudgetStatus, Effect, Finding, Governance
from reconciler.plan.checksum import verify_checksum, with_checksum
from reconciler.plan.model import Plan
from reconciler.plan.serialize import plan_from_json, plan_to_dict, plan_to_json
from reconciler.state.desired import Target
from tests.support.plan_factories import (
    GOLDEN,
    MSADS,
    assert_golden,
    governed_plan,
    plan,
    sample_governance,
    sample_plan,
)

GOVERNANCE_COUNTS = {"denialCount", "ruleWarningCount", "budgetBreachCount", "overrideCount", "approvalTier"}


def schema() -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads((GOLDEN.parents[2] / "reconciler" / "schemas" / "plan.schema.json").read_text())
    return loaded


def problems_of(text: str) -> tuple[Problem, ...]:
    with pytest.raises(PlanFileError) as caught:
        plan_from_json(text, "plans/pr-42.json")
    return caught.value.problems


def edited(change: Any, made: Plan | None = None) -> str:
    """The governed plan's JSON (or ``made``'s) after ``change(data)`` edits it in place."""
    data = plan_to_dict(with_checksum(made or governed_plan()))
    change(data)
    return json.dumps(data)


def governed(**changes: Any) -> Plan:
    return replace(sample_plan(), governance=replace(sample_governance(), **changes))


BERLIN = timezone(timedelta(hours=1))


@pytest.mark.parametrize(
    "made",
    [
        governed_plan(),
        with_checksum(governed_plan()),
        replace(sample_plan(), governance=Governance(digest="0" * 64)),
        governed(tier=None, environments=(), shared_journal=True),
        governed(
            budgets=(
                BudgetStatus(
                    "b",
                    "EUR",
                    Decimal("1.005"),
                    Decimal("0"),
                    Decimal("0.5"),
                    Decimal("0.125"),
                    "calendar quarter (Europe/Berlin)",
                    period_start=datetime(2027, 1, 1, tzinfo=BERLIN),
                    period_end=datetime(2027, 4, 1, 0, 0, 0, 1, tzinfo=BERLIN),
                ),
            )
        ),
    ],
    ids=["governed", "checksummed", "nothing-found", "untiered-shared", "zoned-period"],
)
def test_round_trip_is_exact(made: Plan) -> None:
    loaded = plan_from_json(plan_to_json(made), "p.json")
    assert loaded == made
    assert loaded.governance == made.governance  # every field, findings and budgets in their order


def test_the_json_shape_is_the_golden_one() -> None:
    assert_golden("plan-governance.json", plan_to_json(with_checksum(governed_plan())) + "\n")


def test_produced_json_validates_against_the_schema() -> None:
    validator = Draft202012Validator(schema())
    for made in (governed_plan(), governed(tier=None, environments=()), replace(plan(), governance=Governance("x"))):
        assert list(validator.iter_errors(json.loads(plan_to_json(made)))) == []


def test_money_is_decimal_text_and_timestamps_are_utc_like_the_rest_of_the_file() -> None:
    data = json.loads(plan_to_json(governed_plan()), parse_float=lambda s: pytest.fail(f"a float: {s}"))
    spring = data["governance"]["budgets"][0]
    assert (spring["limit"], spring["spent"], spring["inDoubt"], spring["adds"]) == (
        "500.00",
        "150.00",
        "100.00",
        "300.00",
    )
    assert spring["remaining"] == "-50.00" and spring["breach"] is True
    assert spring["periodStart"] == "2027-02-28T23:00:00Z"
    assert data["governance"]["budgets"][1]["periodStart"] == "2027-01-30T12:00:00.250000Z"
    zoned = governed(
        budgets=(replace(sample_governance().budgets[0], period_start=datetime(2027, 3, 1, tzinfo=BERLIN)),)
    )
    assert json.loads(plan_to_json(zoned))["governance"]["budgets"][0]["periodStart"] == "2027-02-28T23:00:00Z"


def test_the_summary_counts_what_blocks_what_warns_what_is_overridden_and_the_tier() -> None:
    summary = plan_to_dict(governed_plan())["summary"]
    # one deny no override names (the other is overridden), two warns, one breach no override names (of two),
    # two overrides carried
    assert {k: summary[k] for k in GOVERNANCE_COUNTS} == {
        "denialCount": 1,
        "ruleWarningCount": 2,
        "budgetBreachCount": 1,
        "overrideCount": 2,
        "approvalTier": "finance",
    }


def test_a_plan_without_governance_is_written_as_before_governance_existed() -> None:
    data = plan_to_dict(sample_plan())
    assert "governance" not in data
    assert not GOVERNANCE_COUNTS & set(data["summary"])


def test_a_plan_saved_before_governance_existed_still_loads_and_verifies() -> None:
    # tests/plan/golden/plan.json was written by couponctl before plans carried governance
    text = (GOLDEN / "plan.json").read_text(encoding="utf-8")
    assert '"governance"' not in text
    loaded = plan_from_json(text, "old.json")
    assert loaded.governance is None
    assert verify_checksum(loaded)
    assert loaded == with_checksum(sample_plan())


def test_the_governance_summary_counts_must_agree() -> None:
    (problem,) = problems_of(edited(lambda d: d["summary"].update(denialCount=0)))
    assert problem.field == "summary.denialCount"
    assert problem.message == "is 0 but the governance gives 1"
    (problem,) = problems_of(edited(lambda d: d["summary"].update(approvalTier="standard")))
    assert (problem.field, problem.message) == (
        "summary.approvalTier",
        'is "standard" but the governance gives "finance"',
    )


def test_a_governance_without_its_summary_counts_is_refused() -> None:
    found = problems_of(edited(lambda d: d["summary"].pop("budgetBreachCount")))
    assert [(p.field, p.message) for p in found] == [("summary.budgetBreachCount", "is missing")]


def test_summary_counts_without_a_governance_are_refused() -> None:
    found = problems_of(edited(lambda d: d.pop("governance")))
    assert {p.field for p in found} == {f"summary.{key}" for key in GOVERNANCE_COUNTS}
    assert all(p.message == "is a governance count, but the plan has no governance" for p in found)


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("remaining", "0.00", 'is "0.00" but its amounts (limit, spent, inDoubt, adds, unpriced) give "-50.00"'),
        ("breach", False, "is false but its amounts (limit, spent, inDoubt, adds, unpriced) give true"),
    ],
)
def test_a_budgets_remaining_and_breach_must_follow_from_its_amounts(field: str, value: object, message: str) -> None:
    (problem,) = problems_of(edited(lambda d: d["governance"]["budgets"][0].update({field: value})))
    assert (problem.field, problem.message) == (f"governance.budgets[0].{field}", message)


def test_a_period_bound_must_be_a_date_and_time_with_a_zone() -> None:
    def spoil(data: dict[str, Any]) -> None:
        data["governance"]["budgets"][0]["periodStart"] = "2027-02-30T00:00:00Z"
        data["governance"]["budgets"][0]["periodEnd"] = "2027-03-31T22:00:00"

    found = {p.field: p.message for p in problems_of(edited(spoil))}
    assert found == {
        "governance.budgets[0].periodStart": "'2027-02-30T00:00:00Z' is not a valid date and time",
        "governance.budgets[0].periodEnd": "'2027-03-31T22:00:00' has no time zone (plans write UTC with +00:00 or Z)",
    }


def test_schema_violations_in_the_governance_are_named_by_their_path() -> None:
    def spoil(data: dict[str, Any]) -> None:
        governance = data["governance"]
        governance["findings"][0]["effect"] = "block"
        governance["findings"][1]["target"] = {"kind": "account", "value": "not-digits"}
        governance["budgets"][2]["spent"] = 2500.5
        governance["overrides"][0].pop("reason")
        governance["sharedJournal"] = "no"
        governance["colour"] = "red"

    found = {p.field: p.message for p in problems_of(edited(spoil))}
    assert set(found) == {
        "governance.findings[0].effect",
        "governance.findings[1].target",
        "governance.budgets[2].spent",
        "governance.overrides[0].reason",
        "governance.sharedJournal",
        "governance.colour",
    }
    assert found["governance.overrides[0].reason"] == "is missing"
    assert found["governance.sharedJournal"] == "must be boolean, not string"
    assert found["governance.colour"] == "is not a field of a couponctl plan"
    assert found["governance.budgets[2].spent"] == "must be string, not number"


def test_findings_of_every_level_and_effect_come_back_with_their_subject() -> None:
    findings = (
        Finding("item", Effect.DENY, "m", MSADS, Target.account(7)),
        Finding("scope", Effect.WARN, "", MSADS),
        Finding("plan", Effect.TIER, "raise", tier="finance"),
        Finding("unevaluable", Effect.DENY, "no such variable: exposure.EUR", overridden=True),
    )
    loaded = plan_from_json(plan_to_json(governed(findings=findings)), "p.json").governance
    assert loaded is not None and loaded.findings == findings
