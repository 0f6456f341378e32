"""Reviewed overrides and approval tiers through the CLI, against the embedded sandbox: an override is part of the
plan the reviewer saw, apply takes no other, and a plan's approval tier decides which environment may apply it."""

from __future__ import annotations

import csv
import io
import json
import sqlite3
import subprocess
from pathlib import Path

import pytest

from tests.support.cli import run
from tests.support.policies import OVERRIDE_TIERS
from tests.support.projects import EXAMPLE_ITEMS, coupons_held, make_project, set_config


@pytest.fixture
def project(tmp_path: Path) -> Path:
    return make_project(tmp_path, faults=[], extra={"policy": {"maxItems": 5}})


def runs(project: Path) -> list[tuple[str | None, ...]]:
    db = sqlite3.connect(project / ".couponctl" / "journal.sqlite")
    try:
        return db.execute("SELECT override_reason FROM runs").fetchall()
    finally:
        db.close()


def commit_all(project: Path) -> str:
    """Make ``project`` a git repository with everything committed; its HEAD commit."""
    git = ["git", "-C", str(project), "-c", "user.name=Reviewer", "-c", "user.email=r@example.com"]
    subprocess.run([*git, "init", "-q"], check=True)
    subprocess.run([*git, "add", "-A"], check=True)
    subprocess.run([*git, "commit", "-q", "-m", "manifests"], check=True)
    return subprocess.run([*git, "rev-parse", "HEAD"], check=True, capture_output=True, text=True).stdout.strip()


def test_a_reviewed_override_is_carried_by_the_plan_and_applied(project: Path) -> None:
    head = commit_all(project)
    made = run(project, "plan", "--override", "maxItems", "--reason", "launch day, approved", "--out", "p.json")
    assert made.exit_code == 0, made.output
    governance = json.loads((project / "p.json").read_text())["governance"]
    assert [(o["name"], o["reason"]) for o in governance["overrides"]] == [("maxItems", "launch day, approved")]
    assert governance["overrides"][0]["actor"]  # who planned it
    markdown = run(project, "show", "p.json", "--format", "markdown").stdout
    assert "maxItems" in markdown and "launch day, approved" in markdown  # the reviewer sees it

    applied = run(project, "apply", "p.json", "--yes")
    assert applied.exit_code == 0, applied.output
    assert coupons_held(project) == EXAMPLE_ITEMS
    assert runs(project) == [("launch day, approved",)]
    ledger = run(project, "journal", "export", "--format", "jsonl")
    assert ledger.exit_code == 0, ledger.output
    rows = [json.loads(line) for line in ledger.stdout.splitlines() if line.strip()]
    assert len(rows) == EXAMPLE_ITEMS
    for row in rows:  # every item of the run carries the override and the commit the plan was reviewed at
        assert [o["name"] for o in json.loads(row["overrides"])] == ["maxItems"]
        assert row["reviewed_commit"] == governance["overrides"][0]["commit"] == governance["git"]["commit"] == head


def test_a_plan_without_the_override_is_refused_and_apply_accepts_no_override_of_its_own(project: Path) -> None:
    assert run(project, "plan", "--out", "p.json").exit_code == 0
    refused = run(project, "apply", "p.json", "--yes")
    assert refused.exit_code == 3 and "maxItems" in refused.stderr and "plan --override" in refused.stderr
    for typed in (["--override", "maxItems", "--reason", "typed at apply"], ["--allow-over-limit", "typed"]):
        late = run(project, "apply", "p.json", "--yes", *typed)
        assert late.exit_code == 3, late.output
        assert "reviewed plan" in late.stderr
    assert coupons_held(project) == 0 and runs(project) == []


def test_an_override_added_to_a_saved_plan_is_refused_as_an_alteration(project: Path) -> None:
    assert run(project, "plan", "--out", "p.json").exit_code == 0
    path = project / "p.json"
    plan = json.loads(path.read_text())
    plan["governance"]["overrides"] = [{"name": "maxItems", "reason": "sneaked in", "actor": None, "commit": None}]
    plan["summary"]["overrideCount"] = 1
    path.write_text(json.dumps(plan))
    refused = run(project, "apply", "p.json", "--yes")
    assert refused.exit_code == 3, refused.output
    assert coupons_held(project) == 0


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (["--override", "noSuchRule", "--reason", "x"], "no rule, budget, freeze or limit"),
        (["--override", "maxItems"], "--reason"),
        (["--override", "maxItems", "--reason", "   "], "--reason"),
        (["--reason", "why"], "--override"),
        (["--override", "maxItems", "--override", "maxItems", "--reason", "x"], "twice"),
    ],
)
def test_a_bad_override_is_refused_at_plan(project: Path, args: list[str], words: str) -> None:
    made = run(project, "plan", *args, "--out", "p.json")
    assert made.exit_code == 1, made.output
    assert words in made.stderr and "Traceback" not in made.output
    assert not (project / "p.json").exists()


def test_a_fresh_apply_may_carry_an_override_it_shows_before_confirming(project: Path) -> None:
    applied = run(project, "apply", "--yes", "--override", "maxItems", "--reason", "hands-on run")
    assert applied.exit_code == 0, applied.output
    assert "hands-on run" in applied.stdout  # shown in the plan confirmed
    assert runs(project) == [("hands-on run",)]


def test_a_plan_checked_against_other_limits_is_refused(project: Path) -> None:
    assert run(project, "plan", "--override", "maxItems", "--reason", "ok", "--out", "p.json").exit_code == 0
    set_config(project, policy={"maxItems": 6})
    refused = run(project, "apply", "p.json", "--yes")
    assert refused.exit_code == 3 and "other rules" in refused.stderr
    assert coupons_held(project) == 0


def test_an_override_raises_the_tier_and_only_an_entitled_environment_applies_it(project: Path) -> None:
    set_config(project, approvals=OVERRIDE_TIERS)
    assert run(project, "plan", "--override", "maxItems", "--reason", "ok", "--out", "p.json").exit_code == 0
    plan = json.loads((project / "p.json").read_text())
    assert plan["summary"]["approvalTier"] == "finance"
    assert plan["governance"]["approvalEnvironments"] == ["coupons-finance"]
    assert "finance" in run(project, "show", "p.json").stdout

    for environment in ([], ["--environment", "coupons"], ["--environment", "Coupons-Finance"]):
        refused = run(project, "apply", "p.json", "--yes", *environment)
        assert refused.exit_code == 3, refused.output
        assert "approval tier 'finance'" in refused.stderr
    assert coupons_held(project) == 0 and runs(project) == []

    applied = run(project, "apply", "p.json", "--yes", "--environment", "coupons-finance")
    assert applied.exit_code == 0, applied.output
    assert coupons_held(project) == EXAMPLE_ITEMS


def test_a_higher_tier_s_environment_may_apply_a_lower_tier_s_plan(project: Path) -> None:
    set_config(project, approvals=OVERRIDE_TIERS, policy={})
    assert run(project, "plan", "--out", "p.json").exit_code == 0
    assert json.loads((project / "p.json").read_text())["summary"]["approvalTier"] == "standard"
    assert run(project, "apply", "p.json", "--yes", "--environment", "nowhere").exit_code == 3
    applied = run(project, "apply", "p.json", "--yes", "--environment", "coupons-finance")
    assert applied.exit_code == 0, applied.output


def test_without_tiers_no_environment_is_needed(project: Path) -> None:
    set_config(project, policy={})
    assert run(project, "plan", "--out", "p.json").exit_code == 0
    assert json.loads((project / "p.json").read_text())["summary"].get("approvalTier") is None
    assert run(project, "apply", "p.json", "--yes").exit_code == 0


def test_without_approvals_overrides_an_override_needs_the_highest_tier(project: Path) -> None:
    tiers = [*OVERRIDE_TIERS["tiers"], {"name": "board", "environments": ["coupons-board"]}]
    set_config(project, approvals={"tiers": tiers})
    assert run(project, "plan", "--override", "maxItems", "--reason", "ok", "--out", "p.json").exit_code == 0
    assert json.loads((project / "p.json").read_text())["summary"]["approvalTier"] == "board"
    assert run(project, "apply", "p.json", "--yes", "--environment", "coupons-finance").exit_code == 3
    assert coupons_held(project) == 0
    assert run(project, "apply", "p.json", "--yes", "--environment", "coupons-board").exit_code == 0


def test_a_reason_that_looks_like_a_formula_is_text_in_the_ledger_csv(project: Path) -> None:
    reason = '=HYPERLINK("https://evil.example","approved")'
    assert run(project, "apply", "--yes", "--override", "maxItems", "--reason", reason).exit_code == 0
    exported = run(project, "journal", "export", "--format", "csv")
    rows = list(csv.DictReader(io.StringIO(exported.stdout)))
    assert rows and all(row["override_reason"] == "'" + reason for row in rows)
    lines = run(project, "journal", "export", "--format", "jsonl").stdout.splitlines()
    assert all(json.loads(line)["override_reason"] == reason for line in lines)  # JSON keeps it as typed
