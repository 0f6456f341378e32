"""A plan of some manifests (``plan PATHS --out FILE``) is applied as exactly that subset, like Terraform's
``-target``: apply reads the same manifest files again and binds to what they declare; the plan says it is
partial in every format; what it does not cover is neither planned nor issued."""

from __future__ import annotations

import json
import re
import sqlite3
from dataclasses import replace
from pathlib import Path

from reconciler.render.plan_markdown import render_markdown
from reconciler.render.plan_text import render_text
from tests.support.cli import run
from tests.support.plan_factories import sample_plan

WINBACK = "manifests/winback27.yaml"
WINBACK_TARGETS = 3


def issued_by_class(project: Path) -> dict[str, int]:
    """Coupons the sandbox's own store shows dispatched or distributed, per class."""
    db = sqlite3.connect(project / ".couponctl" / "sandbox.sqlite")
    try:
        rows = db.execute(
            "SELECT class_name, count(*) FROM coupons "
            "WHERE send_to_email IS NOT NULL OR claim_account_id IS NOT NULL GROUP BY class_name"
        ).fetchall()
    finally:
        db.close()
    return {name: count for name, count in rows}


def test_a_subset_plan_applies_exactly_its_subset(project: Path) -> None:
    planned = run(project, "plan", WINBACK, "--out", "winback.json")
    assert planned.exit_code == 0, planned.output
    saved = json.loads((project / "winback.json").read_text())
    assert saved["selection"] == [WINBACK]
    assert saved["summary"]["itemCount"] == WINBACK_TARGETS
    before = issued_by_class(project)

    applied = run(project, "apply", "winback.json", "--yes")
    assert applied.exit_code == 0, applied.output
    assert f"{WINBACK_TARGETS} issued unconfirmed" in applied.stdout

    after = issued_by_class(project)
    assert after.get("WINBACK27-RET-50", 0) - before.get("WINBACK27-RET-50", 0) == WINBACK_TARGETS
    assert after.get("SPRING27-ACQ-100", 0) == before.get("SPRING27-ACQ-100", 0), "nothing outside the subset"

    whole = json.loads(run(project, "plan", "--format", "json").stdout)
    assert whole["selection"] is None
    by_scope = {s["couponClass"]: s for s in whole["scopes"]}
    assert by_scope["WINBACK27-RET-50"]["toIssue"] == []
    assert by_scope["SPRING27-ACQ-100"]["toIssue"], "the rest of the project is still to issue"


def test_a_subset_plan_says_it_is_partial_in_every_format(project: Path) -> None:
    assert run(project, "plan", WINBACK, "--out", "winback.json").exit_code == 0
    text = run(project, "show", "winback.json").stdout
    assert "partial:" in text and WINBACK in text
    markdown = run(project, "show", "winback.json", "--format", "markdown").stdout
    assert "Partial plan" in markdown and WINBACK in markdown
    assert json.loads(run(project, "show", "winback.json", "--format", "json").stdout)["selection"] == [WINBACK]
    whole = run(project, "plan")
    assert "partial:" not in whole.stdout
    assert "Partial plan" not in run(project, "plan", "--format", "markdown").stdout


def test_a_subset_plan_is_still_bound_to_its_review(project: Path) -> None:
    assert run(project, "plan", WINBACK, "--out", "winback.json").exit_code == 0
    manifest = project / WINBACK
    manifest.write_text(manifest.read_text().replace("emails:\n", "emails:\n      - late.addition@example.org\n", 1))
    assert "late.addition@example.org" in manifest.read_text()
    refused = run(project, "apply", "winback.json", "--yes")
    assert refused.exit_code == 3, refused.output
    assert "late.addition@example.org" in refused.stderr
    assert issued_by_class(project).get("WINBACK27-RET-50", 0) == 0


def test_the_selection_cannot_be_edited_into_a_whole_project_plan(project: Path) -> None:
    assert run(project, "plan", WINBACK, "--out", "winback.json").exit_code == 0
    saved = json.loads((project / "winback.json").read_text())
    saved["selection"] = None
    (project / "winback.json").write_text(json.dumps(saved))
    refused = run(project, "apply", "winback.json", "--yes")
    assert refused.exit_code == 3 and "altered" in refused.stderr


def test_a_subset_by_directory_records_its_files(project: Path) -> None:
    teams = project / "manifests" / "team"
    teams.mkdir()
    (project / WINBACK).rename(teams / "winback27.yaml")
    planned = run(project, "plan", "manifests/team", "--out", "team.json")
    assert planned.exit_code == 0, planned.output
    assert json.loads((project / "team.json").read_text())["selection"] == ["manifests/team/winback27.yaml"]
    applied = run(project, "apply", "team.json", "--yes")
    assert applied.exit_code == 0, applied.output
    assert f"{WINBACK_TARGETS} issued unconfirmed" in applied.stdout


def test_a_hostile_file_name_cannot_change_the_comments_structure() -> None:
    made = replace(sample_plan(), selection=("manifests/<img src=x>\n## Approved *now*|x.yaml",))
    markdown = render_markdown(made)
    (line,) = [x for x in markdown.splitlines() if x.startswith("**Partial plan:**")]
    assert not re.search(r"(?<!\\)<img", markdown) and "\n## Approved" not in markdown
    assert "\\*now\\*" in line
    assert "partial:" in render_text(made, color=False)
