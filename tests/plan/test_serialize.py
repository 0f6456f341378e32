"""The plan JSON: exact round trip, the schema, stable order, and clear rejection of bad or foreign files."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from jsonschema import Draft202012Validator

from reconciler.errors import PlanFileError, Problem
from reconciler.plan.checksum import with_checksum
from reconciler.plan.model import Plan
from reconciler.plan.serialize import plan_from_json, plan_to_dict, plan_to_json
from reconciler.state.desired import Target
from tests.support.plan_factories import MSADS, assert_golden, issue, plan, sample_plan, scope_plan, with_error

SCHEMA_PATH = Path(__file__).parents[2] / "reconciler" / "schemas" / "plan.schema.json"


def schema() -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(SCHEMA_PATH.read_text())
    return loaded


def problems_of(text: str) -> tuple[Problem, ...]:
    with pytest.raises(PlanFileError) as caught:
        plan_from_json(text, "plans/pr-42.json")
    return caught.value.problems


def edited(change: Any) -> str:
    """The sample plan's JSON after ``change(data)`` edits it in place."""
    data = plan_to_dict(with_checksum(sample_plan()))
    change(data)
    return json.dumps(data)


@pytest.mark.parametrize(
    "made",
    [
        sample_plan(),
        with_checksum(sample_plan()),
        with_error(sample_plan()),
        plan(),
        plan(scope_plan(face_value=None, available=None, to_issue=(issue(Target.account(1)),))),
        plan(created_at=datetime(2027, 3, 1, 12, 0, 0, 123456, tzinfo=UTC)),
        plan(created_at=datetime(2027, 3, 1, 14, 0, tzinfo=timezone(timedelta(hours=2)))),
    ],
    ids=["sample", "checksummed", "errors", "empty", "unpriced", "microseconds", "offset"],
)
def test_round_trip_is_exact(made: Plan) -> None:
    assert plan_from_json(plan_to_json(made), "p.json") == made


def test_the_json_shape_is_the_golden_one() -> None:
    assert_golden("plan.json", plan_to_json(with_checksum(sample_plan())) + "\n")


def test_produced_json_validates_against_the_schema() -> None:
    Draft202012Validator.check_schema(schema())
    validator = Draft202012Validator(schema())
    for made in (sample_plan(), with_error(sample_plan()), plan()):
        assert list(validator.iter_errors(json.loads(plan_to_json(made)))) == []


def test_schema_has_an_id_and_describes_every_property() -> None:
    document = schema()
    assert document["$id"] and document["$schema"].endswith("/2020-12/schema")
    undescribed: list[str] = []

    def walk(node: Any, where: str) -> None:
        if isinstance(node, dict):
            for name, child in node.get("properties", {}).items():
                if "description" not in child:
                    undescribed.append(f"{where}.{name}")
            for key, child in node.items():
                walk(child, f"{where}.{key}")
        elif isinstance(node, list):
            for index, child in enumerate(node):
                walk(child, f"{where}[{index}]")

    walk(document, "$")
    assert undescribed == []


def test_money_is_exact_decimal_text_never_a_float() -> None:
    made = plan(scope_plan(to_issue=(issue(Target.uid(7), amount="0.125"),), face_value=None))
    text = plan_to_json(made)
    data = json.loads(text, parse_float=lambda s: pytest.fail(f"a float in the plan JSON: {s}"))
    assert data["scopes"][0]["toIssue"][0]["amount"] == "0.125"
    assert data["scopes"][0]["exposure"] == "0.125"
    assert data["summary"]["unpricedScopeCount"] == 1
    assert plan_from_json(text, "p.json").scopes[0].to_issue[0].amount == Decimal("0.125")


def test_keys_are_camel_case_and_the_order_is_stable() -> None:
    data = plan_to_dict(sample_plan())
    assert list(data)[:5] == ["kind", "formatVersion", "toolVersion", "createdAt", "checksum"]
    assert data["createdAt"] == "2027-03-01T12:00:00Z"
    assert [s["provider"] for s in data["scopes"]] == ["aliyun-reseller", "msads-prod"]
    assert set(data["summary"]) >= {"itemCount", "hasChanges", "hasErrors", "exposure"}
    assert data["summary"]["exposure"] == {"CNY": "100", "USD": "300.00"}


def test_scopes_and_items_are_written_sorted_whatever_order_they_come_in() -> None:
    made = sample_plan()
    shuffled_scope = replace(made.scopes[1], to_issue=tuple(reversed(made.scopes[1].to_issue)))
    shuffled = replace(made, scopes=(shuffled_scope, made.scopes[0]))
    assert plan_to_json(shuffled) == plan_to_json(made)


def test_a_naive_created_at_is_refused() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        plan_to_json(plan(created_at=datetime(2027, 3, 1)))


def test_invalid_json_names_the_line_and_column() -> None:
    text = plan_to_json(sample_plan()).replace('"toolVersion": "0.1.0",', '"toolVersion": "0.1.0"', 1)
    (problem,) = problems_of(text)
    assert (problem.file, problem.line, problem.column) == ("plans/pr-42.json", 5, 3)
    assert problem.message == "not valid JSON: Expecting ',' delimiter"
    assert str(problem) == "plans/pr-42.json:5:3: not valid JSON: Expecting ',' delimiter"


def test_an_empty_file_is_invalid_json_not_a_traceback() -> None:
    (problem,) = problems_of("")
    assert "not valid JSON" in problem.message


def test_another_format_version_is_refused_with_both_versions_named() -> None:
    (problem,) = problems_of(edited(lambda d: d.update(formatVersion=2, toolVersion="0.9.0")))
    assert problem.field == "formatVersion"
    assert "is 2" in problem.message and "reads plan format 1 only" in problem.message
    assert "couponctl 0.9.0" in problem.message


@pytest.mark.parametrize(
    "text",
    [
        '{"format_version": "1.2", "resource_changes": []}',
        '{"kind": "ApplyReport", "formatVersion": 1}',
        "[1, 2, 3]",
    ],
    ids=["terraform-plan", "other-kind", "array"],
)
def test_a_foreign_file_is_refused_in_one_clear_line(text: str) -> None:
    (problem,) = problems_of(text)
    assert "not a couponctl plan" in problem.message


def test_a_missing_field_is_named_by_its_path() -> None:
    text = edited(lambda d: d["scopes"][1]["toIssue"][0].pop("manifest"))
    assert [(p.field, p.message) for p in problems_of(text)] == [("scopes[1].toIssue[0].manifest", "is missing")]


def test_schema_violations_are_all_reported_in_words() -> None:
    def spoil(data: dict[str, Any]) -> None:
        data["scopes"][0]["toIssue"][0]["amount"] = 100.0
        data["scopes"][1]["toIssue"][0]["target"]["value"] = "not-digits"
        data["scopes"][1]["satisfied"] = "40"
        data["scopes"][1]["colour"] = "red"

    found = {p.field: p.message for p in problems_of(edited(spoil))}
    assert set(found) == {
        "scopes[0].toIssue[0].amount",
        "scopes[1].toIssue[0].target.value",
        "scopes[1].satisfied",
        "scopes[1].colour",
    }
    assert "decimal string" in found["scopes[0].toIssue[0].amount"]
    assert found["scopes[1].toIssue[0].target.value"] == '"not-digits" is not valid: digits only'
    assert found["scopes[1].satisfied"] == "must be integer, not string"
    assert found["scopes[1].colour"] == "is not a field of a couponctl plan"


def test_a_summary_that_disagrees_with_the_scopes_is_refused() -> None:
    (problem,) = problems_of(edited(lambda d: d["summary"].update(itemCount=1)))
    assert problem.field == "summary.itemCount"
    assert "is 1 but the scopes give 4" in problem.message


def test_an_impossible_date_is_refused() -> None:
    (problem,) = problems_of(edited(lambda d: d.update(createdAt="2027-02-30T12:00:00Z")))
    assert problem.field == "createdAt"


def test_many_problems_are_capped_with_a_count() -> None:
    many = plan(scope_plan(MSADS, to_issue=tuple(issue(Target.account(n)) for n in range(1, 80))))

    def spoil(data: dict[str, Any]) -> None:
        for item in data["scopes"][0]["toIssue"]:
            item["manifest"] = 7

    data = plan_to_dict(many)
    spoil(data)
    found = problems_of(json.dumps(data))
    assert len(found) == 51
    assert found[-1].message == "and 29 more problems"
