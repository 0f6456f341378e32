"""A shared PostgreSQL journal: applies on several "runners" (processes) at once, and a runner killed."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path

import pytest

from tests.support.cli import COUPONCTL, couponctl
from tests.support.projects import assert_exactly_once
from tests.support.served import ServeProject, wait_for_pending

pytestmark = [pytest.mark.slow, pytest.mark.postgres, pytest.mark.subprocess]

SHARED = {"journal": "${env:COUPONCTL_JOURNAL_URL}", "inDoubtWindow": "2s", "lockLease": "2s"}


def start_apply(project: Path, url: str, *extra: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [*COUPONCTL, "-C", str(project), "apply", "--yes", *extra],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "COUPONCTL_JOURNAL_URL": url},
    )


def test_two_runners_at_once_one_waits_and_nothing_is_paid_twice(
    serve_project: ServeProject, postgres_url: str
) -> None:
    project, _server = serve_project(SHARED)
    runners = [start_apply(project, postgres_url, "--lock-timeout", "60") for _ in range(2)]
    results = [(r.wait(timeout=120), *r.communicate()) for r in runners]
    assert [code for code, _, _ in results] == [0, 0], results
    outputs = [out for _, out, _ in results]
    assert sum("No changes" in out for out in outputs) == 1, outputs  # the second waited, then found nothing
    assert_exactly_once(project)
    assert not (project / ".couponctl" / "journal.sqlite").exists()  # the journal was PostgreSQL


def test_four_runners_at_once_one_applies_the_others_refuse(serve_project: ServeProject, postgres_url: str) -> None:
    project, _server = serve_project(SHARED)
    runners = [start_apply(project, postgres_url) for _ in range(4)]
    results = [(r.wait(timeout=120), *r.communicate()) for r in runners]
    codes = sorted(code for code, _, _ in results)
    assert codes.count(0) >= 1 and set(codes) <= {0, 3}, results
    refused = [err for code, _, err in results if code == 3]
    assert all("another apply holds the lock" in err for err in refused)
    assert sum("confirmed" in out for _, out, _ in results) == 1
    assert_exactly_once(project)


def test_a_killed_runner_s_lease_expires_and_the_next_resolves_its_in_doubt_items(
    serve_project: ServeProject, postgres_url: str
) -> None:
    project, _server = serve_project(SHARED)
    victim = start_apply(project, postgres_url)
    wait_for_pending(postgres_url, sent=True)
    os.kill(victim.pid, signal.SIGKILL)
    victim.wait(timeout=10)
    env = {"COUPONCTL_JOURNAL_URL": postgres_url}
    assert couponctl(project, "journal", "in-doubt", env=env).returncode == 5
    held = couponctl(project, "lock", "status", env=env)
    assert "Held by" in held.stdout  # the dead runner's lease is still there ...
    time.sleep(2.5)  # ... until it runs out
    again = couponctl(project, "apply", "--yes", env=env)
    assert again.returncode == 0, again.stdout + again.stderr
    assert "resolved in-doubt" in again.stdout
    assert couponctl(project, "journal", "in-doubt", env=env).returncode == 0
    assert_exactly_once(project)
