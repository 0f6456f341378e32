"""No fault the sandbox can inject makes couponctl issue a coupon twice or lose track of one."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest

from tests.support.cli import run
from tests.support.projects import assert_exactly_once, make_project

MAX_ATTEMPTS = 12


def apply_until_done(project: Path) -> list[int]:
    codes = []
    for _ in range(MAX_ATTEMPTS):
        result = run(project, "apply", "--yes")
        assert "Traceback" not in result.output
        codes.append(result.exit_code)
        if result.exit_code == 0:
            return codes
        assert result.exit_code in (4, 5), result.output
    raise AssertionError(f"apply never converged: exit codes {codes}")


@pytest.mark.slow
def test_dropped_answers_and_500s_never_pay_twice(tmp_path: Path, fast_apply: dict[str, object]) -> None:
    project = make_project(
        tmp_path,
        faults=[
            "dispatch:drop-after-commit=0.3",
            "distribute:drop-after-commit=0.3",
            "dispatch:error-500=0.2",
            "distribute:error-500=0.2",
            "send:drop-after-commit=0.3",
            "send:error-500=0.2",
        ],
        extra={
            **fast_apply,
            "providers": {
                "msads-local": {
                    "type": "msads",
                    "environment": "local",
                    "dispatchBatchSize": 2,
                    "distributeBatchSize": 1,
                },
                "aliyun-local": {"type": "aliyun", "environment": "local", "sendBatchSize": 1},
            },
        },
    )
    codes = apply_until_done(project)
    assert codes[-1] == 0
    assert len(codes) > 1, "the faults should have failed at least one first attempt"
    faults_met = sqlite3.connect(project / ".couponctl" / "sandbox.sqlite").execute(
        "SELECT DISTINCT endpoint, outcome FROM calls WHERE outcome IN ('dropped', 'error-500')"
    )
    assert {endpoint for endpoint, _ in faults_met} == {"dispatch", "distribute", "send"}  # every vendor met them
    assert_exactly_once(project)
    plan = json.loads(run(project, "plan", "--format", "json").stdout)
    assert plan["summary"]["itemCount"] == 0 and plan["summary"]["warningCount"] == 0


def test_lagging_reads_never_cause_a_second_issue(tmp_path: Path) -> None:
    project = make_project(
        tmp_path,
        faults=["*:lag-s=3"],
        extra={"inDoubtWindow": "1s"},
    )
    first = run(project, "apply", "--yes")
    assert first.exit_code == 0, first.output
    assert "issued not yet visible" in first.stdout
    # the vendor does not show the coupons yet: the journal does, so nothing is planned again
    again = json.loads(run(project, "plan", "--format", "json").stdout)
    assert again["summary"]["itemCount"] == 0
    assert sum(s["notYetVisible"] for s in again["scopes"]) > 0
    second = run(project, "apply", "--yes")
    assert second.exit_code == 0 and "No changes" in second.stdout
    assert_exactly_once(project)


THROTTLE_WINDOW_S = 4  # the sandbox's throttle window, short so that the storm passes in seconds, not a minute
THROTTLE_LIMIT = 2  # calls accepted per window


@pytest.mark.slow
def test_a_throttling_storm_completes_never_above_the_limit_and_without_duplicates(
    tmp_path: Path, fast_apply: dict[str, object]
) -> None:
    throttle = f"throttle-rpm={THROTTLE_LIMIT}/{THROTTLE_WINDOW_S}"
    project = make_project(
        tmp_path,
        faults=[f"dispatch:{throttle}", f"send:{throttle}"],
        extra={
            **fast_apply,
            "providers": {
                "msads-local": {"type": "msads", "environment": "local", "dispatchBatchSize": 3},
                "aliyun-local": {"type": "aliyun", "environment": "local", "sendBatchSize": 1},
            },
        },
    )
    result = run(project, "apply", "--yes")
    assert result.exit_code == 0, result.output
    assert_exactly_once(project)
    db = sqlite3.connect(project / ".couponctl" / "sandbox.sqlite")
    for endpoint, refused in (("dispatch", 429), ("send", 400)):
        calls = db.execute("SELECT at, status FROM calls WHERE endpoint = ? ORDER BY at", (endpoint,)).fetchall()
        accepted = [at for at, status in calls if status == 200]
        assert any(status == refused for _, status in calls), f"{endpoint}: never throttled, the test proves nothing"
        assert len(accepted) > THROTTLE_LIMIT, f"{endpoint}: every call fit in one window, the test proves nothing"
        # Any window holds at most THROTTLE_LIMIT accepted calls: the call after them came a whole window later.
        # `at` is logged when a call finishes, up to its processing time after it was admitted: allow 0.5 s of it.
        later_by = [b - a for a, b in zip(accepted, accepted[THROTTLE_LIMIT:], strict=False)]
        assert all(gap >= THROTTLE_WINDOW_S - 0.5 for gap in later_by), (
            f"{endpoint}: above {THROTTLE_LIMIT} calls in {THROTTLE_WINDOW_S} s: {later_by}"
        )
