"""Reliability across processes: a served sandbox, apply processes killed or racing, plans replayed."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from pathlib import Path

import pytest

from tests.support.cli import COUPONCTL, couponctl, run
from tests.support.projects import assert_exactly_once, make_project
from tests.support.served import ServeProject, paused, request_timeout, wait_for_pending

pytestmark = pytest.mark.slow


@pytest.fixture
def served(serve_project: ServeProject) -> tuple[Path, subprocess.Popen[str]]:
    """The example project pointed at a `couponctl sandbox serve` with slow issuing calls."""
    return serve_project({"inDoubtWindow": "2s", "lockLease": "2s"})


@pytest.mark.subprocess
def test_an_apply_killed_mid_batch_leaves_nothing_paid_twice(served: tuple[Path, subprocess.Popen[str]]) -> None:
    project, _server = served
    victim = subprocess.Popen(
        [*COUPONCTL, "-C", str(project), "apply", "--yes"], stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    wait_for_pending(project / ".couponctl" / "journal.sqlite", sent=True)
    os.kill(victim.pid, signal.SIGKILL)
    victim.wait(timeout=10)
    time.sleep(2)  # the server finishes (or not) the call the killed process was waiting for

    listed = couponctl(project, "journal", "in-doubt")
    assert listed.returncode == 5, listed.stdout + listed.stderr  # the killed call is in doubt

    again = couponctl(project, "apply", "--yes", "--lock-timeout", "10")
    assert again.returncode == 0, again.stdout + again.stderr
    assert "resolved in-doubt" in again.stdout
    assert couponctl(project, "journal", "in-doubt").returncode == 0
    assert_exactly_once(project)


@pytest.mark.subprocess
def test_two_applies_at_once_issue_each_coupon_once(serve_project: ServeProject) -> None:
    # The first apply is paused (SIGSTOP) once it has committed an intent, so that it surely still holds the lock
    # when the second one asks for it, however slowly a loaded machine starts the second; its lease and request
    # timeout outlast the pause, so it resumes as a slow apply, not a dead one.
    project, _server = serve_project({"inDoubtWindow": "2s", "lockLease": "60s"})
    request_timeout(project, 60)
    first = subprocess.Popen(
        [*COUPONCTL, "-C", str(project), "apply", "--yes"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    wait_for_pending(project / ".couponctl" / "journal.sqlite")
    with paused(first, project / ".couponctl" / "journal.sqlite"):
        second = couponctl(project, "apply", "--yes")
    assert second.returncode == 3, second.stdout + second.stderr
    assert "another apply holds the lock" in second.stderr
    out, err = first.communicate(timeout=120)
    assert first.returncode == 0, out + err
    waited = couponctl(project, "apply", "--yes", "--lock-timeout", "5")
    assert waited.returncode == 0 and "No changes" in waited.stdout
    assert_exactly_once(project)


def test_a_replayed_plan_and_an_expired_plan_are_refused(tmp_path: Path) -> None:
    project = make_project(tmp_path, faults=[])
    saved = project / "plan.json"
    assert run(project, "plan", "--out", str(saved)).exit_code == 0
    assert run(project, "apply", str(saved), "--yes").exit_code == 0
    replayed = run(project, "apply", str(saved), "--yes")
    assert replayed.exit_code == 3
    assert "already applied" in replayed.stderr

    short = make_project(tmp_path / "short", faults=[], extra={"planTTL": 1})
    saved = short / "plan.json"
    assert run(short, "plan", "--out", str(saved)).exit_code == 0
    time.sleep(1.1)
    expired = run(short, "apply", str(saved), "--yes")
    assert expired.exit_code == 3
    assert "expired" in expired.stderr
    assert json.loads(run(short, "plan", "--format", "json").stdout)["summary"]["itemCount"] > 0
