"""The CLI end to end against the embedded sandbox: the example project, copied to a temporary directory."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.support.cli import run
from tests.support.projects import EXAMPLE_ITEMS


def test_plan_apply_plan_shows_nothing_left(project: Path) -> None:
    first = run(project, "plan", "--format", "json")
    assert first.exit_code == 0, first.output
    assert json.loads(first.stdout)["summary"]["itemCount"] == EXAMPLE_ITEMS

    applied = run(project, "apply", "--yes")
    assert applied.exit_code == 0, applied.output
    assert (
        f"0 confirmed, {EXAMPLE_ITEMS} issued unconfirmed, 0 issued not yet visible, 0 failed, 0 in doubt"
        in applied.stdout
    )

    again = run(project, "plan", "--detailed-exitcode", "--format", "json")
    assert again.exit_code == 0, again.output
    summary = json.loads(again.stdout)["summary"]
    assert summary["itemCount"] == 0 and summary["hasChanges"] is False


def test_detailed_exitcode_is_2_with_changes_and_1_on_error(project: Path) -> None:
    assert run(project, "plan", "--detailed-exitcode").exit_code == 2
    assert run(project, "plan").exit_code == 0
    (project / "manifests" / "broken.yaml").write_text("apiVersion: couponctl/v1\nkind: Nope\n")
    assert run(project, "plan", "--detailed-exitcode").exit_code == 1


def test_a_saved_plan_is_applied_exactly(project: Path) -> None:
    saved = project / "plan.json"
    assert run(project, "plan", "--out", str(saved)).exit_code == 0
    applied = run(project, "apply", str(saved), "--yes")
    assert applied.exit_code == 0, applied.output
    assert f"{EXAMPLE_ITEMS} issued unconfirmed" in applied.stdout
    assert run(project, "plan", "--detailed-exitcode").exit_code == 0


def test_a_saved_plan_missing_a_new_target_is_refused_with_exit_3(project: Path) -> None:
    saved = project / "plan.json"
    assert run(project, "plan", "--out", str(saved)).exit_code == 0
    manifest = project / "manifests" / "winback27.yaml"
    manifest.write_text(manifest.read_text() + "      - newcomer@example.org\n")
    refused = run(project, "apply", str(saved), "--yes")
    assert refused.exit_code == 3, refused.output
    assert "newcomer@example.org" in refused.stderr
    assert "new plan" in refused.stderr
    # nothing was issued: the fresh plan still wants everything
    plan = json.loads(run(project, "plan", "--format", "json").stdout)
    assert plan["summary"]["itemCount"] == EXAMPLE_ITEMS + 1


def test_a_saved_plan_with_items_satisfied_since_skips_them(project: Path) -> None:
    saved = project / "plan.json"
    assert run(project, "plan", "--out", str(saved)).exit_code == 0
    assert run(project, "apply", "--yes").exit_code == 0
    again = run(project, "apply", str(saved), "--yes")
    assert again.exit_code == 0, again.output
    assert "No changes" in again.stdout


def test_an_altered_saved_plan_is_refused(project: Path) -> None:
    saved = project / "plan.json"
    assert run(project, "plan", "--out", str(saved)).exit_code == 0
    data = json.loads(saved.read_text())
    data["scopes"][-1]["toIssue"][-1]["target"]["value"] = "intruder@example.com"  # an msads scope: emails
    saved.write_text(json.dumps(data))
    refused = run(project, "apply", str(saved), "--yes")
    assert refused.exit_code == 3, refused.output
    assert "altered" in refused.stderr


def test_apply_without_yes_and_without_a_terminal_refuses(project: Path) -> None:
    refused = run(project, "apply")
    assert refused.exit_code == 3
    assert "--yes" in refused.stderr
    assert json.loads(run(project, "plan", "--format", "json").stdout)["summary"]["itemCount"] == EXAMPLE_ITEMS


def test_a_policy_limit_refuses_apply(project: Path) -> None:
    config = project / "couponctl.yaml"
    config.write_text(config.read_text().replace("maxItems: 1000", "maxItems: 5"))
    refused = run(project, "apply", "--yes")
    assert refused.exit_code == 3
    assert "maxItems=5" in refused.stderr


def test_removing_a_target_after_apply_shows_it_as_removed_never_as_an_action(project: Path) -> None:
    assert run(project, "apply", "--yes").exit_code == 0
    manifest = project / "manifests" / "winback27.yaml"
    manifest.write_text(manifest.read_text().replace("      - lapsed.three@example.org\n", ""))
    plan = json.loads(run(project, "plan", "--format", "json").stdout)
    assert plan["summary"]["itemCount"] == 0
    removed = [h["target"]["value"] for s in plan["scopes"] for h in s["removed"]]
    assert removed == ["lapsed.three@example.org"]


def test_show_renders_a_saved_plan(project: Path) -> None:
    saved = project / "plan.json"
    assert run(project, "plan", "--out", str(saved)).exit_code == 0
    shown = run(project, "show", str(saved), "--format", "markdown")
    assert shown.exit_code == 0
    assert "SPRING27-ACQ-100" in shown.stdout


def test_validate_reports_file_line_and_field_and_exits_1(project: Path) -> None:
    (project / "manifests" / "bad.yaml").write_text(
        "apiVersion: couponctl/v1\nkind: CouponAssignment\nmetadata: {name: bad}\nspec:\n"
        "  provider: msads-local\n  customerId: '251186883'\n  couponClass: X\n"
        "  distribute:\n    accounts: [4294967296]\n"
    )
    result = run(project, "validate")
    assert result.exit_code == 1
    assert "bad.yaml:9:" in result.stderr
    assert "Traceback" not in result.output


@pytest.mark.parametrize(
    "args",
    [("validate",), ("plan",), ("apply", "--yes"), ("show", "missing.json")],
)
def test_no_traceback_for_a_missing_project(tmp_path: Path, args: tuple[str, ...]) -> None:
    result = run(tmp_path / "nowhere", *args)
    assert result.exit_code == 1
    assert "Traceback" not in result.output
    assert "error" in result.stderr
