"""Scheduled and closed items in the command line's plan: every format shows them, and --detailed-exitcode exits 2
only when something is due now (the journal's clock is the host's here: the windows lie far from it)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from reconciler.cli.main import main
from tests.support.projects import make_project
from tests.support.windows import schedule

FUTURE = {"notBefore": "2099-01-01", "timeZone": "Europe/Berlin"}
PAST = {"notBefore": "2020-01-01", "notAfter": "2020-02-01"}


@pytest.fixture
def project(tmp_path: Path) -> Path:
    project = make_project(tmp_path, faults=[])
    schedule(project, "spring27-acquisition.yaml", FUTURE)
    schedule(project, "winback27.yaml", FUTURE)
    schedule(project, "reseller-q1.yaml", PAST)
    return project


def plan(project: Path, *args: str) -> Result:
    return CliRunner().invoke(main, ["-C", str(project), "--no-color", "plan", *args])


def test_nothing_due_exits_0_with_detailed_exitcode(project: Path) -> None:
    result = plan(project, "--detailed-exitcode")
    assert result.exit_code == 0, result.output
    assert "scheduled:  12 coupons not due yet" in result.stdout and "first due 2098-12-31T23:00:00" in result.stdout
    assert "closed:     3 coupons" in result.stdout
    assert "@ scheduled email:lapsed.one@example.org" in result.stdout
    assert "x closed uid:" in result.stdout
    assert "Nothing due now. 12 scheduled for later." in result.stdout  # not "no changes"


def test_something_due_exits_2_with_detailed_exitcode(project: Path) -> None:
    schedule(project, "winback27.yaml", {"notBefore": "2020-01-01"})
    result = plan(project, "--detailed-exitcode")
    assert result.exit_code == 2, result.output


def test_markdown_shows_scheduled_with_its_date_and_closed(project: Path) -> None:
    result = plan(project, "--format", "markdown")
    assert result.exit_code == 0, result.output
    assert "12 coupon(s) scheduled" in result.stdout and "2098-12-31T23:00:00" in result.stdout
    assert "3 coupon(s) closed" in result.stdout
    assert "**Scheduled (3)**" in result.stdout and "**Closed (3)**" in result.stdout
    assert "lapsed.one@" not in result.stdout  # masked like every target of a comment


def test_json_shows_scheduled_and_closed_items(project: Path) -> None:
    result = plan(project, "--format", "json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["summary"]["itemCount"] == 0
    assert data["summary"]["scheduledCount"] == 12 and data["summary"]["closedCount"] == 3
    assert data["summary"]["nextDueAt"].startswith("2098-12-31T23:00:00")
    assert {i["dueAt"] for s in data["scopes"] for i in s.get("scheduled", [])} == {data["summary"]["nextDueAt"]}
