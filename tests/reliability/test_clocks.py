"""One clock: lease expiry, in-doubt ages and plan ages come from the journal's clock (the PostgreSQL server's,
or the host's for SQLite), so a runner whose own wall clock is wrong (skewed per process with libfaketime) neither
takes a live lease, nor resolves a young in-doubt call as not issued, nor misjudges a plan's age."""

from __future__ import annotations

import json
import os
import re
import subprocess
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest

from reconciler.apply.journal import RESOLVED_NOT_ISSUED, Journal
from tests.support.cli import COUPONCTL, couponctl
from tests.support.projects import assert_exactly_once, make_project
from tests.support.served import ServeProject, paused, request_timeout, wait_for_pending
from tests.support.skew import skewed

pytestmark = [pytest.mark.slow, pytest.mark.subprocess]

SHARED = {"journal": "${env:COUPONCTL_JOURNAL_URL}", "inDoubtWindow": "2s"}


def start_apply(project: Path, env: dict[str, str], *extra: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [*COUPONCTL, "-C", str(project), "--no-color", "apply", "--yes", *extra],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, **env},
    )


@pytest.mark.postgres
def test_a_runner_120s_ahead_does_not_take_another_runner_s_live_lease(
    serve_project: ServeProject, postgres_url: str
) -> None:
    ahead = skewed(120)
    project, _server = serve_project({**SHARED, "lockLease": "60s", "issueConcurrency": 1})
    request_timeout(project, 60)
    env = {"COUPONCTL_JOURNAL_URL": postgres_url}
    first = start_apply(project, env)
    wait_for_pending(postgres_url)

    with paused(first, postgres_url):  # still holding its lease, however slowly the machine starts the skewed runner
        status = couponctl(project, "lock", "status", env={**env, **ahead})
        left = re.search(r"lease expires in (\d+)s", status.stdout)
        assert left is not None and int(left.group(1)) > 30, status.stdout  # measured on the server's clock
        second = couponctl(project, "apply", "--yes", env={**env, **ahead})
    assert second.returncode == 3, second.stdout + second.stderr
    assert "another apply holds the lock" in second.stderr

    out, err = first.communicate(timeout=120)
    assert first.returncode == 0, out + err
    assert_exactly_once(project)


def wait_for_answers(url: str, deadline_s: float = 30) -> None:
    """Until every item in the journal has an answer recorded (none PENDING) and there is at least one."""
    end = time.monotonic() + deadline_s
    while time.monotonic() < end:
        journal = Journal(url)
        try:
            pending, total = journal.db.execute(
                "SELECT count(*) FILTER (WHERE state = 'PENDING'), count(*) FROM items"
            )[0]
        finally:
            journal.close()
        if total and not pending:
            return
        time.sleep(0.05)
    raise AssertionError("the apply's calls were never answered")


@pytest.mark.postgres
def test_a_runner_70s_ahead_does_not_resolve_a_30_second_old_in_doubt_call_as_not_issued(
    serve_project: ServeProject, postgres_url: str
) -> None:
    """Every issuing call is processed and its answer lost (in doubt), and reads lag 8 s; the calls are made 30 s
    old; a runner 70 s ahead must wait for them to show, within the 60 s window, not re-issue them."""
    faults = [*(f"{endpoint}:drop-after-commit=1" for endpoint in ("dispatch", "distribute")), "search:lag-s=8"]
    project, _server = serve_project({**SHARED, "inDoubtWindow": "60s", "lockLease": "2s"}, faults=faults)
    (project / "manifests" / "reseller-q1.yaml").unlink()  # Microsoft Advertising only: its reads lag
    env = {"COUPONCTL_JOURNAL_URL": postgres_url}
    victim = start_apply(project, env)
    try:
        wait_for_answers(postgres_url)
    finally:
        victim.kill()
        victim.communicate(timeout=10)
    journal = Journal(postgres_url)
    try:
        assert {row[0] for row in journal.db.execute("SELECT state FROM items")} == {"IN_DOUBT"}
        journal.db.execute("UPDATE items SET in_flight_until = in_flight_until - 30, fenced_at = fenced_at - 30")
    finally:
        journal.close()

    again = couponctl(project, "apply", "--yes", "--lock-timeout", "30", env={**env, **skewed(70)})
    assert again.returncode == 0, again.stdout + again.stderr
    assert "RESOLVED_ISSUED" in again.stdout and RESOLVED_NOT_ISSUED not in again.stdout
    journal = Journal(postgres_url)
    try:
        assert journal.items(states=(RESOLVED_NOT_ISSUED,)) == []
    finally:
        journal.close()
    assert_exactly_once(project)


def saved_plan(project: Path, env: dict[str, str]) -> dict[str, object]:
    made = couponctl(project, "plan", "--out", "plan.json", env=env)
    assert made.returncode == 0, made.stdout + made.stderr
    return dict(json.loads((project / "plan.json").read_text()))


@pytest.mark.postgres
def test_a_plan_made_on_a_runner_two_days_ahead_is_dated_by_the_shared_journal_s_clock(
    tmp_path: Path, postgres_url: str
) -> None:
    env = {"COUPONCTL_JOURNAL_URL": postgres_url}
    project = make_project(tmp_path, faults=[], extra={"journal": "${env:COUPONCTL_JOURNAL_URL}"})
    plan = saved_plan(project, {**env, **skewed(2 * 86400)})
    created = datetime.fromisoformat(str(plan["createdAt"]))
    assert abs((created - datetime.now(UTC)).total_seconds()) < 60  # the server's time, not the runner's
    applied = couponctl(project, "apply", "plan.json", "--yes", env=env)
    assert applied.returncode == 0, applied.stdout + applied.stderr
    assert_exactly_once(project)


@pytest.mark.postgres
def test_a_plan_made_on_a_runner_two_days_ahead_expires_on_the_journal_s_clock(
    tmp_path: Path, postgres_url: str
) -> None:
    env = {"COUPONCTL_JOURNAL_URL": postgres_url}
    project = make_project(tmp_path, faults=[], extra={"journal": "${env:COUPONCTL_JOURNAL_URL}", "planTTL": 2})
    saved_plan(project, {**env, **skewed(2 * 86400)})
    time.sleep(2.5)  # past its planTTL on the one clock (on the runner's own it would not even have begun)
    applied = couponctl(project, "apply", "plan.json", "--yes", env=env)
    assert applied.returncode == 3, applied.stdout + applied.stderr
    assert "expired" in applied.stderr


def test_a_plan_made_on_a_host_clock_two_days_ahead_is_refused_with_a_sqlite_journal(tmp_path: Path) -> None:
    """With SQLite the host's clock is the journal's: a plan dated by a clock two days ahead is from the future."""
    project = make_project(tmp_path, faults=[])
    saved_plan(project, skewed(2 * 86400))
    applied = couponctl(project, "apply", "plan.json", "--yes")
    assert applied.returncode == 3, applied.stdout + applied.stderr
    assert "from the future" in applied.stderr
    assert "internal error" not in applied.stderr
