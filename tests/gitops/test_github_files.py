"""action.yml and examples/github/*.yml: valid against GitHub's published schemas (the copies check-jsonschema
vendors, offline), consistent with each other, and the action's script passes exit codes through."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
import yaml

from reconciler.plan.checksum import with_checksum
from reconciler.plan.model import Plan
from reconciler.plan.serialize import plan_to_json
from tests.support.plan_factories import sample_governance, sample_plan

ROOT = Path(__file__).resolve().parents[2]
ACTION = ROOT / "action.yml"
WORKFLOWS = sorted((ROOT / "examples" / "github").glob("*.yml"))
PROJECT = Path(__file__).resolve().parent / "project"
BIN = Path(sys.executable).parent  # the environment couponctl is installed in

needs_bash = pytest.mark.skipif(shutil.which("bash") is None, reason="the action's steps run in bash")


def load(path: Path) -> dict[Any, Any]:
    data = yaml.safe_load(path.read_text())
    assert isinstance(data, dict)
    return data


def check_jsonschema(schema: str, *paths: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "check_jsonschema", "--builtin-schema", schema, *map(str, paths)],
        capture_output=True,
        text=True,
        timeout=120,
    )


# --- schemas ---------------------------------------------------------------------------------------------


def test_there_are_three_example_workflows() -> None:
    assert [p.name for p in WORKFLOWS] == [
        "couponctl-apply.yml",
        "couponctl-drift.yml",
        "couponctl-plan.yml",
        "couponctl-scheduled.yml",
        "couponctl-try-postgres.yml",
    ]


@pytest.mark.slow
@pytest.mark.subprocess
def test_workflows_and_action_match_githubs_published_schemas(tmp_path: Path) -> None:
    workflows = check_jsonschema("vendor.github-workflows", *WORKFLOWS)
    assert workflows.returncode == 0, workflows.stdout + workflows.stderr
    action = check_jsonschema("vendor.github-actions", ACTION)
    assert action.returncode == 0, action.stdout + action.stderr
    # the check is real: a workflow without jobs, an action without runs, are refused
    broken = tmp_path / "broken.yml"
    broken.write_text("on: push\n")
    assert check_jsonschema("vendor.github-workflows", broken).returncode != 0
    assert check_jsonschema("vendor.github-actions", broken).returncode != 0


# --- consistency -----------------------------------------------------------------------------------------

# `on` is read by YAML 1.1 as True
ON: Any = True


def couponctl_steps() -> Iterator[tuple[str, dict[str, Any]]]:
    for path in WORKFLOWS:
        for job in load(path)["jobs"].values():
            for step in job["steps"]:
                if str(step.get("uses", "")).split("@")[0].endswith("/couponctl"):
                    yield path.name, step


def test_workflows_use_only_inputs_and_outputs_the_action_has() -> None:
    action = load(ACTION)
    inputs, outputs = set(action["inputs"]), set(action["outputs"])
    ids = set()
    used = list(couponctl_steps())
    assert {step["with"]["command"] for _, step in used} == {"validate", "plan", "apply", "drift"}
    for name, step in used:
        assert set(step.get("with", {})) <= inputs, name
        ids.add(step.get("id"))
    for path in WORKFLOWS:
        for step_id, output in re.findall(r"steps\.([\w-]+)\.outputs\.([\w-]+)", path.read_text()):
            if step_id in ids:
                assert output in outputs, f"{path.name}: steps.{step_id}.outputs.{output}"


def test_the_plan_runs_on_pull_requests_read_only_and_never_for_forks() -> None:
    plan = load(ROOT / "examples" / "github" / "couponctl-plan.yml")
    assert set(plan[ON]) == {"pull_request"}  # never pull_request_target: untrusted code must not see secrets
    (job,) = plan["jobs"].values()
    assert "environment" not in job
    assert job["if"] == "github.event.pull_request.head.repo.full_name == github.repository"
    assert plan["permissions"] == {"contents": "read", "pull-requests": "write"}
    assert "READONLY" in job["env"]["MSADS_REFRESH_TOKEN"]
    upload = next(s for s in job["steps"] if str(s.get("uses", "")).startswith("actions/upload-artifact"))
    assert upload["with"]["name"] == "couponctl-plan"
    comment = next(s for s in job["steps"] if str(s.get("uses", "")).startswith("actions/github-script"))
    assert "<!-- couponctl:plan -->" in comment["with"]["script"]


APPLY_WORKFLOW = ROOT / "examples" / "github" / "couponctl-apply.yml"
TIER_ENVIRONMENT = "${{ needs.reviewed.outputs.environment }}"


def test_the_apply_runs_after_merge_one_at_a_time_in_the_protected_environment_of_its_tier() -> None:
    apply = load(APPLY_WORKFLOW)
    assert set(apply[ON]) == {"push"}
    assert apply["concurrency"] == {"group": "couponctl-apply", "cancel-in-progress": False}
    assert list(apply["jobs"]) == ["reviewed", "apply"]
    reviewed, job = apply["jobs"]["reviewed"], apply["jobs"]["apply"]
    # the apply job waits for the reviewed plan's tier, and runs in the environment of that tier
    assert job["needs"] == "reviewed"
    assert job["environment"] == TIER_ENVIRONMENT
    assert reviewed["outputs"]["environment"] == "${{ steps.tier.outputs.environment }}"
    assert "environment" not in reviewed and "env" not in reviewed  # no environment, no secret: it only reads
    assert "--workflow couponctl-plan.yml" in APPLY_WORKFLOW.read_text()
    for steps in (reviewed["steps"], job["steps"]):
        download = next(s for s in steps if str(s.get("uses", "")).startswith("actions/download-artifact"))
        assert download["with"]["name"] == "couponctl-plan"
    apply_step = next(s for s in job["steps"] if s.get("id") == "apply")
    assert apply_step["with"]["command"] == "apply"
    assert apply_step["with"]["environment"] == TIER_ENVIRONMENT  # passed on as apply --environment
    report = next(s for s in job["steps"] if "report" in s.get("name", "") and "upload-artifact" in s.get("uses", ""))
    assert report["if"].startswith("always()")


def tier_step() -> dict[str, Any]:
    (step,) = [s for s in load(APPLY_WORKFLOW)["jobs"]["reviewed"]["steps"] if s.get("id") == "tier"]
    assert isinstance(step, dict)
    return step


needs_jq = pytest.mark.skipif(shutil.which("jq") is None, reason="the workflow reads the plan with jq")


def run_tier_step(tmp_path: Path, made: Plan) -> tuple[int, dict[str, str], str]:
    """The apply workflow's step that reads the reviewed plan's tier, run as GitHub runs it, on ``made``."""
    step = tier_step()
    assert "${{" not in step["run"]
    plan_file = tmp_path / "couponctl-plan.json"
    plan_file.write_text(plan_to_json(with_checksum(made)))
    outputs = tmp_path / "github_output"
    outputs.write_text("")
    env = {k: str(v) for k, v in step["env"].items() if "${{" not in str(v)}
    env |= {"PATH": "/usr/bin:/bin", "PLAN_FILE": str(plan_file), "GITHUB_OUTPUT": str(outputs)}
    script = tmp_path / "tier.sh"
    script.write_text(step["run"])
    done = subprocess.run(
        ["bash", "--noprofile", "--norc", "-eo", "pipefail", str(script)],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    written = dict(line.split("=", 1) for line in outputs.read_text().splitlines() if "=" in line)
    return done.returncode, written, done.stdout + done.stderr


def governed(**changes: Any) -> Plan:
    return replace(sample_plan(), governance=replace(sample_governance(), **changes))


@needs_bash
@needs_jq
@pytest.mark.parametrize(
    ("made", "tier", "environment"),
    [
        (governed(), "finance", "coupons-finance"),
        (
            governed(tier="standard", environments=("coupons-production", "coupons-finance")),
            "standard",
            "coupons-production",
        ),
        (governed(tier=None, environments=()), "", "coupons-production"),
        (sample_plan(), "", "coupons-production"),
    ],
    ids=["finance", "standard", "no-tiers-declared", "no-governance"],
)
def test_the_apply_goes_to_the_first_environment_of_the_plans_tier(
    tmp_path: Path, made: Plan, tier: str, environment: str
) -> None:
    code, outputs, log = run_tier_step(tmp_path, made)
    assert code == 0, log
    assert outputs == {"approval-tier": tier, "environment": environment}


@needs_bash
@needs_jq
def test_a_tier_without_an_environment_applies_nothing(tmp_path: Path) -> None:
    code, outputs, log = run_tier_step(tmp_path, governed(environments=()))
    assert code == 1 and outputs == {}, log
    assert "::error::the reviewed plan needs approval tier finance but names no environment" in log


@needs_bash
@needs_jq
def test_an_environment_that_is_not_one_line_applies_nothing(tmp_path: Path) -> None:
    code, outputs, log = run_tier_step(tmp_path, governed(environments=("coupons-finance\nenvironment=open",)))
    assert code == 1 and outputs == {}, log
    assert "not one line of text" in log


def test_the_drift_check_runs_on_a_schedule_and_fails_on_drift() -> None:
    drift = load(ROOT / "examples" / "github" / "couponctl-drift.yml")
    assert "schedule" in drift[ON]
    (job,) = drift["jobs"].values()
    assert job["steps"][-1]["if"] == "steps.drift.outputs.has-drift == 'true'"
    assert "exit 2" in job["steps"][-1]["run"]


SCHEDULED_WORKFLOW = ROOT / "examples" / "github" / "couponctl-scheduled.yml"


def test_the_scheduled_apply_plans_the_default_branch_and_applies_only_when_something_is_due() -> None:
    scheduled = load(SCHEDULED_WORKFLOW)
    assert "schedule" in scheduled[ON]
    # never beside another apply: the same group as the apply after merge, never cancelled mid-run
    assert scheduled["concurrency"] == load(APPLY_WORKFLOW)["concurrency"]
    due, job = scheduled["jobs"]["due"], scheduled["jobs"]["apply"]
    assert due["steps"][0]["with"]["ref"] == "${{ github.event.repository.default_branch }}"
    assert "environment" not in due and "WRITE" not in " ".join(due["env"])  # it plans with read-only credentials
    plan = next(s for s in due["steps"] if s.get("id") == "plan")
    assert plan["with"]["command"] == "plan" and "args" not in plan["with"]  # no override: a freeze postpones
    # apply only when the plan has something due, in the environment of its tier, on the commit planned
    assert job["needs"] == "due" and job["if"] == "needs.due.outputs.has-changes == 'true'"
    assert job["environment"] == "${{ needs.due.outputs.environment }}"
    assert job["steps"][0]["with"]["ref"] == "${{ needs.due.outputs.commit }}"
    applied = next(s for s in job["steps"] if s.get("id") == "apply")
    assert applied["with"]["command"] == "apply" and applied["with"]["plan-file"].endswith("/couponctl-plan.json")


def test_no_secret_values_only_references() -> None:
    for path in [ACTION, *WORKFLOWS]:
        for key, value in re.findall(r"^\s*([A-Z][A-Z0-9_]*):\s*(.+)$", path.read_text(), re.MULTILINE):
            if any(word in key for word in ("TOKEN", "SECRET", "KEY")):
                assert value.startswith("${{ secrets.") or value.startswith("${{ github.token"), f"{path}: {key}"


# --- the action's script ---------------------------------------------------------------------------------


def action_script() -> str:
    (step,) = [s for s in load(ACTION)["runs"]["steps"] if s.get("id") == "run"]
    script = step["run"]
    assert "${{" not in script, "inputs must reach the script through env, never spliced into it"
    return str(script)


class Runner:
    """Runs the action's main step as GitHub would: bash, inputs in the environment, output files."""

    def __init__(
        self,
        tmp_path: Path,
        workdir: Path,
        stub: int | None = None,
        stub_says: bool = True,
        stub_plan: Path | None = None,
    ) -> None:
        self.tmp = tmp_path
        self.workdir = workdir
        self.outputs = tmp_path / "github_output"
        self.summary = tmp_path / "step_summary"
        path = [str(BIN), "/usr/bin", "/bin"]
        if stub is not None:  # a couponctl that only exits with the code given (and saves stub_plan as --out)
            stub_dir = tmp_path / "stub"
            stub_dir.mkdir()
            fake = stub_dir / "couponctl"
            say = 'echo "stub couponctl $*"' if stub_says else 'echo "stub couponctl $*" >&2'
            save = ""
            if stub_plan is not None:
                save = f'prev=""; for a in "$@"; do [ "$prev" = --out ] && cp "{stub_plan}" "$a"; prev=$a; done\n'
            fake.write_text(f"#!/bin/sh\n{say}\n{save}exit {stub}\n")
            fake.chmod(0o755)
            path.insert(0, str(stub_dir))
        self.path = os.pathsep.join(path)

    def __call__(self, command: str, args: str = "", **inputs: str) -> tuple[int, dict[str, str], str]:
        self.outputs.write_text("")
        self.summary.write_text("")
        env = {
            "PATH": self.path,
            "HOME": str(self.tmp),
            "GITHUB_OUTPUT": str(self.outputs),
            "GITHUB_STEP_SUMMARY": str(self.summary),
            "COMMAND": command,
            "ARGS": args,
            "PLAN_FILE": inputs.get("plan_file", "couponctl-plan.json"),
            "REPORT_FILE": inputs.get("report_file", "couponctl-apply-report.json"),
            "ENVIRONMENT": inputs.get("environment", ""),
            "FAIL_ON_DRIFT": inputs.get("fail_on_drift", "true"),
            "SUMMARY": "true",
            "NO_COLOR": "1",
        }
        script = self.tmp / "step.sh"
        script.write_text(action_script())
        done = subprocess.run(
            ["bash", "--noprofile", "--norc", "-eo", "pipefail", str(script)],  # as GitHub runs `shell: bash`
            cwd=self.workdir,
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )
        outputs = dict(line.split("=", 1) for line in self.outputs.read_text().splitlines() if "=" in line)
        return done.returncode, outputs, done.stdout + done.stderr


@pytest.fixture
def project(tmp_path: Path) -> Path:
    target = tmp_path / "project"
    shutil.copytree(PROJECT, target, ignore=shutil.ignore_patterns(".couponctl"))
    return target


@pytest.mark.slow
@needs_bash
def test_plan_with_changes_succeeds_with_outputs_and_a_masked_summary(tmp_path: Path, project: Path) -> None:
    run = Runner(tmp_path, project)
    code, outputs, log = run("plan")
    assert code == 0, log
    assert outputs["exit-code"] == "2" and outputs["has-changes"] == "true"
    assert outputs["item-count"] == "8"
    assert json.loads(outputs["exposure"]) == {"USD": "650"}
    assert outputs["plan-file"] == str(project / "couponctl-plan.json")
    summary = run.summary.read_text()
    assert summary.startswith("<!-- couponctl:plan -->") and "o***@example.com" in summary
    assert "owner@example.com" not in summary and "owner@example.com" not in log

    code, outputs, log = run("apply", plan_file="couponctl-plan.json")
    assert code == 0, log
    assert outputs["exit-code"] == "0" and Path(outputs["report-file"]).is_file()
    assert "### couponctl apply: success (exit 0)" in run.summary.read_text()

    code, outputs, log = run("apply")  # the same plan again: replayed, refused
    assert code == 3 and outputs["exit-code"] == "3", log
    assert "::error::couponctl apply refused or stopped (exit 3)" in log

    code, outputs, log = run("plan", args="manifests")
    assert code == 0 and outputs["has-changes"] == "false" and outputs["item-count"] == "0", log


@pytest.mark.slow
@needs_bash
def test_plan_errors_fail_the_step_and_still_report(tmp_path: Path, project: Path) -> None:
    manifest = project / "manifests" / "winback.yaml"
    manifest.write_text(manifest.read_text().replace("WINBACK27-RET-50", "NO-SUCH-CLASS"))
    code, outputs, log = Runner(tmp_path, project)("plan")
    assert code == 1 and outputs["exit-code"] == "1", log
    assert outputs["plan-file"] and "class-not-found" in (tmp_path / "step_summary").read_text()


@needs_bash
@pytest.mark.parametrize("exit_code", [1, 3, 4, 5])
def test_a_failed_partial_or_in_doubt_apply_fails_the_step(tmp_path: Path, project: Path, exit_code: int) -> None:
    (project / "reviewed.json").write_text("{}")
    code, outputs, log = Runner(tmp_path, project, stub=exit_code)("apply", plan_file="reviewed.json")
    assert code == exit_code and outputs["exit-code"] == str(exit_code), log
    assert f"stub couponctl --no-color apply {project / 'reviewed.json'} --yes --report" in log


@needs_bash
def test_apply_passes_the_environment_it_runs_in(tmp_path: Path, project: Path) -> None:
    (project / "reviewed.json").write_text("{}")
    run = Runner(tmp_path, project, stub=0)
    code, _, log = run("apply", args="--parallel 2", plan_file="reviewed.json", environment="coupons finance")
    assert code == 0, log
    report = project / "couponctl-apply-report.json"
    passed = f"--yes --report {report} --environment coupons finance --parallel 2"
    assert f"stub couponctl --no-color apply {project / 'reviewed.json'} {passed}" in log
    code, _, log = run("apply", plan_file="reviewed.json")
    assert code == 0 and "--environment" not in log, log


@needs_bash
@pytest.mark.parametrize(
    ("made", "tier", "environment"),
    [
        (governed(), "finance", "coupons-finance"),
        (governed(tier=None, environments=()), "", ""),
        (sample_plan(), "", ""),
    ],
    ids=["finance", "no-tiers-declared", "no-governance"],
)
def test_plan_outputs_the_approval_tier_and_the_environment_that_may_apply_it(
    tmp_path: Path, project: Path, made: Plan, tier: str, environment: str
) -> None:
    saved = tmp_path / "made.json"
    saved.write_text(plan_to_json(with_checksum(made)))
    code, outputs, log = Runner(tmp_path, project, stub=2, stub_plan=saved)("plan")
    assert code == 0 and outputs["exit-code"] == "2", log
    assert outputs["approval-tier"] == tier and outputs["approval-environment"] == environment


@needs_bash
def test_a_tier_or_environment_that_is_not_one_line_is_not_output(tmp_path: Path, project: Path) -> None:
    saved = tmp_path / "made.json"
    saved.write_text(plan_to_json(with_checksum(governed(environments=("coupons\nhas-changes=false",)))))
    code, outputs, log = Runner(tmp_path, project, stub=2, stub_plan=saved)("plan")
    assert code == 0, log
    assert outputs["approval-environment"] == "" and outputs["has-changes"] == "true"
    assert "the plan's approval environment is not one line of printable text" in log


@pytest.mark.slow
@needs_bash
def test_a_real_plan_outputs_the_tier_couponctl_yaml_gives_it(tmp_path: Path, project: Path) -> None:
    config = project / "couponctl.yaml"
    config.write_text(
        config.read_text()
        + "approvals:\n  tiers:\n    - name: standard\n      environments: [coupons-production]\n"
        + "    - name: finance\n      environments: [coupons-finance]\n"
    )
    code, outputs, log = Runner(tmp_path, project)("plan")
    assert code == 0 and outputs["exit-code"] == "2", log
    assert outputs["approval-tier"] == "standard"
    saved = json.loads(Path(outputs["plan-file"]).read_text())
    assert saved["summary"]["approvalTier"] == saved["governance"]["approvalTier"] == "standard"


@needs_bash
def test_apply_without_the_reviewed_plan_fails_before_running(tmp_path: Path, project: Path) -> None:
    code, outputs, log = Runner(tmp_path, project, stub=0)("apply", plan_file="missing.json")
    assert code == 1 and outputs["exit-code"] == "1" and "stub couponctl" not in log
    assert "does not exist" in log


@needs_bash
@pytest.mark.parametrize(("exit_code", "expected"), [(0, 0), (1, 1), (2, 2), (3, 3)])
def test_validate_and_drift_pass_exit_codes_through(
    tmp_path: Path, project: Path, exit_code: int, expected: int
) -> None:
    run = Runner(tmp_path, project, stub=exit_code)
    assert run("validate")[0] == expected
    code, outputs, _ = run("drift")
    assert code == expected and outputs["has-drift"] == ("true" if exit_code == 2 else "false")
    assert run("drift", fail_on_drift="false")[0] == (0 if exit_code == 2 else expected)


@needs_bash
def test_args_are_split_like_a_shell_without_expansion(tmp_path: Path, project: Path) -> None:
    run = Runner(tmp_path, project, stub=0)
    code, _, log = run("validate", args="""manifests/a.yaml "with space.yaml" '$HOME' ;echo""")
    assert code == 0
    assert "stub couponctl --no-color validate manifests/a.yaml with space.yaml $HOME ;echo" in log
    code, outputs, log = run("validate", args='"unbalanced')
    assert code == 1 and outputs["exit-code"] == "1" and "cannot split" in log
    assert run("nonsense")[0] == 1


@needs_bash
def test_drift_for_real(tmp_path: Path, project: Path) -> None:
    code, outputs, log = Runner(tmp_path, project)("drift")
    assert code == 0, log
    assert outputs["has-drift"] == "false"
    assert Path(outputs["drift-file"]).read_text().startswith("<!-- couponctl:drift -->")


@pytest.mark.slow
@needs_bash
def test_a_typo_in_plan_args_fails_the_step_instead_of_passing_as_changes(tmp_path: Path, project: Path) -> None:
    code, outputs, log = Runner(tmp_path, project)("plan", args="--formt json")
    assert code == 1 and outputs["exit-code"] == "1", log
    assert "plan-file" not in outputs and "has-changes" not in outputs


@needs_bash
def test_exit_2_without_a_plan_file_is_an_error_not_changes(tmp_path: Path, project: Path) -> None:
    # Whatever exits 2 (an older couponctl's usage error, a crash in a wrapper): no plan written, no success.
    code, outputs, log = Runner(tmp_path, project, stub=2)("plan")
    assert code == 1 and outputs["exit-code"] == "1", log
    assert "wrote no plan" in log and "has-changes" not in outputs


@needs_bash
@pytest.mark.parametrize("fail_on_drift", ["true", "false"])
def test_exit_2_without_a_drift_report_is_an_error_not_drift(tmp_path: Path, project: Path, fail_on_drift: str) -> None:
    code, outputs, log = Runner(tmp_path, project, stub=2, stub_says=False)("drift", fail_on_drift=fail_on_drift)
    assert code == 1 and outputs["exit-code"] == "1", log
    assert outputs["has-drift"] == "false" and "wrote no drift report" in log


PROJECT_WORKFLOWS = sorted((ROOT / ".github" / "workflows").glob("*.yml"))


@pytest.mark.parametrize("path", [*WORKFLOWS, *PROJECT_WORKFLOWS], ids=lambda p: p.name)
def test_every_checkout_leaves_no_credentials_behind(path: Path) -> None:
    # docs/security.md: a job's token must not stay in .git/config for whatever runs after the checkout.
    steps = [step for job in load(path)["jobs"].values() for step in job.get("steps", [])]
    checkouts = [step for step in steps if str(step.get("uses", "")).startswith("actions/checkout")]
    assert checkouts, "every workflow checks out the repository"
    for step in checkouts:
        assert step.get("with", {}).get("persist-credentials") is False, path.name


@pytest.mark.parametrize("path", WORKFLOWS, ids=lambda p: p.name)
def test_no_workflow_runs_a_forks_code_with_secrets(path: Path) -> None:
    triggers = load(path)[True]  # YAML 1.1 reads the key `on` as true
    assert "pull_request_target" not in (triggers if isinstance(triggers, dict) else {triggers: None})


def test_write_credentials_live_only_in_the_protected_apply_job() -> None:
    for path in WORKFLOWS:
        for name, job in load(path)["jobs"].items():
            env = " ".join(str(v) for v in job.get("env", {}).values())
            if "WRITE" in env:
                applying = ("couponctl-apply.yml", "couponctl-scheduled.yml")
                assert path.name in applying and job.get("environment"), (path.name, name)
