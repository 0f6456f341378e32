"""Rule effects end to end against the embedded sandbox: deny blocks apply (exit 3, nothing issued), warn is shown and
issues, tier raises the approval tier that apply's --environment must be entitled to; a rule that cannot be
evaluated fails closed; a saved plan checked against other rules is refused; an undeclared variable stops the
config from loading."""

from __future__ import annotations

import json
from pathlib import Path

import yaml

from reconciler.errors import ExitCode
from tests.support.cli import run
from tests.support.policies import coupons_issued, findings, git_env, planned, policy_project
from tests.support.projects import EXAMPLE_ITEMS

ANA = {"name": "ana-first", "on": "item", "when": 'target.value == "ana@example.com"', "message": "ana is special"}


def apply(project: Path, *args: str) -> tuple[int, str]:
    result = run(project, "apply", *args, "--yes", env=git_env("main"))
    assert "Traceback" not in result.output
    return result.exit_code, result.output


def save_plan(project: Path) -> Path:
    out = project / "plan.json"
    result = run(project, "plan", "--out", str(out), env=git_env("main"))
    assert result.exit_code == 0, result.output
    return out


def test_deny_blocks_apply_and_nothing_is_issued(tmp_path: Path) -> None:
    project = policy_project(tmp_path, rules=[{**ANA, "effect": "deny"}])
    plan_json = planned(project)
    [denial] = findings(plan_json)
    assert (denial["effect"], denial["target"]["value"]) == ("deny", "ana@example.com")
    assert denial["message"] == ANA["message"]
    code, output = apply(project, "--environment", "coupons")
    assert code == ExitCode.REFUSED
    assert "ana-first" in output
    assert coupons_issued(project) == 0


def test_a_saved_plan_with_a_denial_is_refused_too(tmp_path: Path) -> None:
    project = policy_project(tmp_path, rules=[{**ANA, "effect": "deny"}])
    code, _ = apply(project, str(save_plan(project)), "--environment", "coupons")
    assert code == ExitCode.REFUSED
    assert coupons_issued(project) == 0


def test_warn_is_shown_and_apply_goes_ahead(tmp_path: Path) -> None:
    project = policy_project(tmp_path, rules=[{**ANA, "effect": "warn"}])
    shown = run(project, "plan", env=git_env("main"))
    assert shown.exit_code == 0
    assert "ana is special" in shown.stdout
    markdown = run(project, "plan", "--format", "markdown", env=git_env("main"))
    assert "ana is special" in markdown.stdout
    code, output = apply(project, str(save_plan(project)), "--environment", "coupons")
    assert code == ExitCode.OK, output
    assert coupons_issued(project) == EXAMPLE_ITEMS


def test_tier_raises_the_tier_and_apply_needs_an_entitled_environment(tmp_path: Path) -> None:
    rule = {"name": "finance-over-1k", "on": "plan", "effect": "tier", "tier": "finance", "when": "exposure.USD > 1000"}
    project = policy_project(tmp_path, rules=[rule])
    plan_json = planned(project)
    assert plan_json["governance"]["approvalTier"] == "finance"
    saved = save_plan(project)
    for refused in ((), ("--environment", "coupons")):  # none, and the standard tier's environment
        code, output = apply(project, str(saved), *refused)
        assert code == ExitCode.REFUSED
        assert "finance" in output
        assert coupons_issued(project) == 0
    code, output = apply(project, str(saved), "--environment", "money")
    assert code == ExitCode.OK, output
    assert coupons_issued(project) == EXAMPLE_ITEMS


def test_a_tier_rule_that_does_not_hold_leaves_the_first_tier(tmp_path: Path) -> None:
    rule = {"name": "over-10k", "on": "plan", "effect": "tier", "tier": "finance", "when": "exposure.USD > 10000"}
    plan_json = planned(policy_project(tmp_path, rules=[rule]))
    assert plan_json["governance"]["approvalTier"] == "standard"


def test_a_rule_that_cannot_be_evaluated_fails_closed(tmp_path: Path) -> None:
    # The example manifests carry no campaign label: the lookup fails for every item, and every item is denied.
    rule = {"name": "campaign-x", "on": "item", "effect": "warn", "when": 'manifest.labels.campaign == "x"'}
    project = policy_project(tmp_path, rules=[rule])
    plan_json = planned(project)
    found = findings(plan_json, "campaign-x")
    assert len(found) == EXAMPLE_ITEMS
    assert {f["effect"] for f in found} == {"deny"}
    code, output = apply(project, "--environment", "coupons")
    assert code == ExitCode.REFUSED
    assert "Traceback" not in output
    assert coupons_issued(project) == 0


def test_a_condition_that_is_not_a_bool_at_run_time_fails_closed(tmp_path: Path) -> None:
    rule = {"name": "team", "on": "item", "effect": "warn", "when": "manifest.labels.team"}
    plan_json = planned(policy_project(tmp_path, rules=[rule]))
    assert {f["effect"] for f in findings(plan_json, "team")} == {"deny"}
    assert len(findings(plan_json, "team")) == EXAMPLE_ITEMS


def test_a_saved_plan_checked_against_other_rules_is_refused(tmp_path: Path) -> None:
    project = policy_project(tmp_path, rules=[{**ANA, "effect": "warn"}])
    before = planned(project)["governance"]["digest"]
    saved = save_plan(project)
    config = yaml.safe_load((project / "couponctl.yaml").read_text())
    config["rules"][0]["when"] = 'target.value == "bo@example.com"'
    (project / "couponctl.yaml").write_text(yaml.safe_dump(config, sort_keys=False))
    assert planned(project)["governance"]["digest"] != before
    code, output = apply(project, str(saved), "--environment", "coupons")
    assert code == ExitCode.REFUSED
    assert "digest" in output
    assert coupons_issued(project) == 0
    assert json.loads(saved.read_text())["governance"]["digest"] == before


def test_a_policy_files_rule_change_changes_the_digest(tmp_path: Path) -> None:
    project = policy_project(tmp_path, policies=["batches.yaml"])
    before = planned(project)["governance"]["digest"]
    policy = project / "policies" / "batches.yaml"
    policy.write_text(policy.read_text().replace("items > 100", "items > 99"))
    assert planned(project)["governance"]["digest"] != before


def test_an_undeclared_variable_stops_the_config_at_load(tmp_path: Path) -> None:
    rule = {"name": "typo", "on": "item", "effect": "deny", "when": "ammount > 10"}
    project = policy_project(tmp_path, rules=[rule])
    result = run(project, "validate")
    assert result.exit_code == ExitCode.ERROR
    assert "couponctl.yaml:" in result.output and "rules.typo.when" in result.output
    assert "Traceback" not in result.output
    assert run(project, "apply", "--yes", "--environment", "coupons").exit_code == ExitCode.ERROR
    assert coupons_issued(project) == 0
