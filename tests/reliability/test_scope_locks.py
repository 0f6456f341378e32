"""A lease per scope, on a shared PostgreSQL journal: four runners (processes) applying four disjoint scope sets
hold their leases at the same time and pay nothing twice; the journal's lease rows and run times show it."""

from __future__ import annotations

import os
import subprocess
import time
from datetime import datetime
from pathlib import Path

import pytest

from reconciler.apply.journal import Journal
from tests.support.cli import COUPONCTL, couponctl
from tests.support.projects import assert_exactly_once
from tests.support.served import ServeProject

pytestmark = [pytest.mark.slow, pytest.mark.postgres, pytest.mark.subprocess]

MANIFESTS = {
    "spring27-acquisition.yaml": "msads-local/251186883/SPRING27-ACQ-100",
    "winback27.yaml": "msads-local/251186883/WINBACK27-RET-50",
    "reseller-q1.yaml": "aliyun-local/3944837183/295873",
    "fabrikam-outlet.yaml": "msads-local/251186999/OTHER-25",
}

FABRIKAM = """\
apiVersion: couponctl/v1
kind: CouponAssignment
metadata: {name: fabrikam-outlet}
spec:
  provider: msads-local
  customerId: "251186999"
  couponClass: OTHER-25
  dispatch:
    emails: [buyer.one@fabrikam.example.net, buyer.two@fabrikam.example.net]
"""


def a_fourth_scope(project: Path) -> None:
    (project / "manifests" / "fabrikam-outlet.yaml").write_text(FABRIKAM)


def held_at_once(url: str, deadline_s: float = 60) -> list[tuple[str, str]]:
    """Until one read of the journal's lease rows shows every scope held, live, each by a runner of its own."""
    end = time.monotonic() + deadline_s
    seen: list[tuple[str, str]] = []
    while time.monotonic() < end:
        journal = Journal(url)
        try:
            seen = [
                (str(name), str(holder))
                for name, holder in journal.db.execute(
                    "SELECT name, holder FROM locks WHERE expires_at > EXTRACT(EPOCH FROM clock_timestamp())"
                    " ORDER BY name"
                )
            ]
        finally:
            journal.close()
        if {name for name, _ in seen} == set(MANIFESTS.values()) and len({h for _, h in seen}) == len(MANIFESTS):
            return seen
        time.sleep(0.05)
    raise AssertionError(f"the four runners never held their leases at the same time; last seen: {seen}")


def test_four_runners_on_disjoint_scopes_run_at_once_and_pay_nothing_twice(
    serve_project: ServeProject, postgres_url: str
) -> None:
    """Each apply issues a canary and waits (6 s of read lag) to see it before the rest: long enough that four
    runners which did not wait for each other are seen holding their leases at once."""
    config = {
        "journal": "${env:COUPONCTL_JOURNAL_URL}",
        "inDoubtWindow": "20s",
        "lockLease": "30s",
        "canarySize": 1,
    }
    project, _server = serve_project(config, faults=["search:lag-s=6", "send:lag-s=6"], prepare=a_fourth_scope)
    env = {"COUPONCTL_JOURNAL_URL": postgres_url}
    for manifest in MANIFESTS:
        made = couponctl(project, "plan", f"manifests/{manifest}", "--out", f"{manifest}.plan.json", env=env)
        assert made.returncode == 0, made.stdout + made.stderr
    runners = [
        subprocess.Popen(
            [*COUPONCTL, "-C", str(project), "--no-color", "apply", f"{manifest}.plan.json", "--yes"],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env={**os.environ, **env},
        )
        for manifest in MANIFESTS
    ]
    try:
        leases = held_at_once(postgres_url)
    finally:
        results = [(r.wait(timeout=120), *r.communicate()) for r in runners]
    assert [code for code, _, _ in results] == [0, 0, 0, 0], results
    assert [name for name, _ in leases] == sorted(MANIFESTS.values())
    assert_exactly_once(project)

    journal = Journal(postgres_url)
    try:
        runs = journal.db.execute("SELECT started_at, ended_at FROM runs")
        taken_over = journal.db.execute("SELECT count(*) FROM lock_events WHERE event = 'expired-taken-over'")
    finally:
        journal.close()
    assert len(runs) == 4
    starts = [datetime.fromisoformat(start) for start, _ in runs]
    ends = [datetime.fromisoformat(end) for _, end in runs]
    assert max(starts) < min(ends)  # on the journal's clock: every run began before any ended
    assert taken_over == [(0,)]
