"""Warnings couponctl gives from the vendor's documented rules, offline and in the plan, in every format:
predicate.md's four-character Predicate Value (a class name is read through a CouponClassName predicate) and
coupon.md's Acquisition coupons, which only new customers can redeem."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from jsonschema import Draft202012Validator

from tests.support.cli import run
from tests.support.projects import ROOT, copy_examples

PLAN_SCHEMA = json.loads((ROOT / "reconciler" / "schemas" / "plan.schema.json").read_text())


def json_plan(project: Path) -> dict[str, object]:
    """The plan in JSON, checked against the plan schema."""
    data: dict[str, object] = json.loads(run(project, "plan", "--format", "json").stdout)
    errors = [e.message for e in Draft202012Validator(PLAN_SCHEMA).iter_errors(data)]
    assert errors == []
    return data


def problems_of(data: dict[str, object], code: str) -> list[tuple[str, dict[str, str]]]:
    """(class, problem) for each problem of ``code`` in a JSON plan."""
    scopes = data["scopes"]
    assert isinstance(scopes, list)
    return [(s["couponClass"], p) for s in scopes for p in s["problems"] if p["code"] == code]


@pytest.fixture
def project(tmp_path: Path) -> Path:
    return copy_examples(tmp_path / "project")


def shorten_winback_class(project: Path) -> None:
    """The winback manifest and its sandbox class renamed to the three-character ``W27``."""
    for path in (project / "manifests" / "winback27.yaml", project / "sandbox-seed.yaml"):
        text = path.read_text()
        assert "WINBACK27-RET-50" in text
        path.write_text(text.replace("WINBACK27-RET-50", "W27"))


def test_predicate_md_validate_warns_where_a_class_name_is_shorter_than_four_characters(project: Path) -> None:
    shorten_winback_class(project)
    result = run(project, "validate")
    assert result.exit_code == 0, result.output  # a warning, never an error
    lines = [line for line in result.stderr.splitlines() if line.startswith("warning:")]
    assert len(lines) == 1
    line = next(n for n, text in enumerate((project / "manifests" / "winback27.yaml").read_text().splitlines(), 1)
                if "couponClass:" in text)  # fmt: skip
    assert lines[0].startswith(f"warning: manifests/winback27.yaml:{line}:")
    assert "spec.couponClass" in lines[0] and "predicate.md" in lines[0] and "four" in lines[0]
    assert "warning" not in run(copy_examples(project.parent / "untouched"), "validate").stderr


def test_predicate_md_plan_carries_the_located_warning_in_every_format(project: Path) -> None:
    shorten_winback_class(project)
    text = run(project, "plan")
    assert text.exit_code == 0, text.output
    assert "warning (short-class-name): manifests/winback27.yaml:" in text.stdout and "predicate.md" in text.stdout
    markdown = run(project, "plan", "--format", "markdown")
    assert "short-class-name" in markdown.stdout and "predicate.md" in markdown.stdout
    ((klass, problem),) = problems_of(json_plan(project), "short-class-name")
    assert klass == "W27" and problem["severity"] == "warning" and "manifests/winback27.yaml:" in problem["message"]


def test_coupon_md_the_plan_says_only_new_customers_can_redeem_an_acquisition_class(project: Path) -> None:
    text = run(project, "plan").stdout
    assert "warning (acquisition-new-customers-only)" in text and "only new customers can redeem" in text
    markdown = run(project, "plan", "--format", "markdown").stdout
    assert "acquisition-new-customers-only" in markdown and "only new customers can redeem" in markdown
    flagged = problems_of(json_plan(project), "acquisition-new-customers-only")
    assert [klass for klass, _ in flagged] == ["SPRING27-ACQ-100"]  # the Retention class is not flagged
    assert flagged[0][1]["severity"] == "warning" and "coupon.md" in flagged[0][1]["message"]
    assert run(project, "apply", "--yes").exit_code == 0
    assert "acquisition-new-customers-only" not in run(project, "plan").stdout  # nothing left to issue: no warning
