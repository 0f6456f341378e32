"""Apply's safety options through the CLI: report, policy override, canary, journal and lock commands."""

from __future__ import annotations

import json
import re
import sqlite3
from pathlib import Path

import jsonschema
import pytest

from tests.support.cli import run
from tests.support.projects import EXAMPLE_ITEMS, make_project, set_config
from tests.support.schemas import report_schema


@pytest.fixture
def project(tmp_path: Path) -> Path:
    return make_project(tmp_path, faults=[])


def test_the_apply_report_is_written_and_matches_its_schema(project: Path) -> None:
    report_path = project / "out" / "report.json"
    result = run(project, "apply", "--yes", "--report", str(report_path))
    assert result.exit_code == 0, result.output
    report = json.loads(report_path.read_text())
    jsonschema.validate(report, report_schema())
    assert report["outcome"] == "success" and report["exitCode"] == 0
    assert report["summary"]["ISSUED_UNCONFIRMED"] == len(report["items"]) > 0  # nothing in doubt: none read back
    assert all(item["trackingId"] for item in report["items"])
    assert "sandbox-access-token" not in report_path.read_text()


def test_a_plan_over_the_policy_is_refused_unless_allowed_with_a_recorded_reason(project: Path) -> None:
    set_config(project, policy={"maxAmount": {"USD": 500}})
    plan = json.loads(run(project, "plan", "--format", "json").stdout)
    assert plan["violations"] and "maxAmount.USD=500" in plan["violations"][0]
    refused = run(project, "apply", "--yes")
    assert refused.exit_code == 3 and "--allow-over-limit" in refused.stderr
    allowed = run(project, "apply", "--yes", "--allow-over-limit", "Q1 launch approved by finance")
    assert allowed.exit_code == 0, allowed.output
    db = sqlite3.connect(project / ".couponctl" / "journal.sqlite")
    assert db.execute("SELECT override_reason FROM runs").fetchall() == [("Q1 launch approved by finance",)]


def test_the_inventory_share_limit_names_the_scope(project: Path) -> None:
    set_config(project, policy={"maxInventoryShare": 0.01})
    plan = json.loads(run(project, "plan", "--format", "json").stdout)
    assert any("SPRING27-ACQ-100" in v and "maxInventoryShare=0.01" in v for v in plan["violations"])


def test_a_canary_batch_goes_first_and_is_verified(project: Path) -> None:
    set_config(project, canarySize=1)
    result = run(project, "--verbose", "apply", "--yes")
    assert result.exit_code == 0, result.output
    batches = [line for line in result.stdout.splitlines() if line.startswith("[")]
    assert batches[0].startswith("[1/")  # the canary: one item alone
    assert len(batches) >= 3


def test_journal_commands_list_show_and_resolve(project: Path) -> None:
    assert run(project, "apply", "--yes").exit_code == 0
    listed = run(project, "journal", "list")
    run_id = listed.stdout.splitlines()[1].split()[0]  # under the header
    assert "success" in listed.stdout
    shown = run(project, "journal", "show", run_id)
    assert shown.exit_code == 0 and "ISSUED" in shown.stdout and "owner@example.com" in shown.stdout
    assert run(project, "journal", "in-doubt").exit_code == 0
    not_in_doubt = run(project, "journal", "resolve", "1", "--as", "not-issued", "--reason", "test")
    assert not_in_doubt.exit_code == 1 and "not in doubt" in not_in_doubt.stderr
    missing_reason = run(project, "journal", "resolve", "1", "--as", "issued")
    assert missing_reason.exit_code == 1  # a usage error: --reason is required
    assert run(project, "journal", "show", "nope").exit_code == 1


def test_lock_status_and_break(project: Path) -> None:
    assert "free" in run(project, "lock", "status").stdout
    assert "free" in run(project, "lock", "break", "--reason", "nothing to break").stdout


def test_journal_export_writes_the_ledger_as_csv_and_jsonl(project: Path) -> None:
    assert run(project, "apply", "--yes").exit_code == 0
    csv_text = run(project, "journal", "export").stdout
    header, *rows = csv_text.splitlines()
    assert header.startswith("run_id,actor,git_commit,plan_checksum")
    assert len(rows) == EXAMPLE_ITEMS
    lines = run(project, "journal", "export", "--format", "jsonl").stdout.splitlines()
    records = [json.loads(line) for line in lines]
    spring = [r for r in records if r["coupon_class"] == "SPRING27-ACQ-100"]
    assert {(r["amount"], r["currency"], r["state"]) for r in spring} == {("100", "USD", "ISSUED")}
    assert all(r["tracking_id"] and r["plan_checksum"] for r in records)
    sent = [r for r in records if r["provider"] == "aliyun-local"]
    assert {(r["amount"], r["currency"]) for r in sent} == {("100", "CNY")}  # their own amounts, in CNY
    assert sent and all(r["request_id"] for r in sent)  # SendCoupon's own RequestId, per call
    assert len({r["request_id"] for r in sent}) == len({r["tracking_id"] for r in sent})
    out = project / "ledger.csv"
    assert run(project, "journal", "export", "--out", str(out)).exit_code == 0
    assert out.read_text() == csv_text


def test_progress_goes_to_stderr_and_quiet_silences_it(project: Path) -> None:
    planned = run(project, "plan", "--format", "json")
    assert re.search(r"reading live state: (\d+)/\1 scopes \(100%\)", planned.stderr)
    json.loads(planned.stdout)  # stdout stays the plan alone
    applied = run(project, "apply", "--yes")
    assert re.search(r"issuing: (\d+)/\1 items \(100%\)", applied.stderr)
    assert "[1/" not in applied.stdout  # per-call lines only with --verbose
    quiet = run(project, "--quiet", "plan", "--format", "json")
    assert quiet.stderr == ""
