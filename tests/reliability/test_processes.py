"""Reliability across processes: a served sandbox, apply processes killed or racing, plans replayed."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from .conftest import assert_exactly_once, make_project, run

COUPONCTL = [sys.executable, "-m", "reconciler"]


def couponctl(project: Path, *args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*COUPONCTL, "-C", str(project), "--no-color", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[Path, subprocess.Popen[str]]]:
    """The example project pointed at a `couponctl sandbox serve` on loopback with slow issuing calls."""
    project = make_project(tmp_path, faults=[], extra={"inDoubtWindow": "2s", "lockLease": "2s"})
    database = project / ".couponctl" / "sandbox.sqlite"
    database.parent.mkdir(parents=True)
    server = subprocess.Popen(
        [
            *COUPONCTL,
            "sandbox",
            "serve",
            "--port",
            "0",
            "--db",
            str(database),
            "--seed",
            str(project / "sandbox-seed.yaml"),
            "--fault",
            "dispatch:latency-ms=1500",
            "--fault",
            "distribute:latency-ms=1500",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert server.stdout is not None
    line = ""
    while "serving at" not in line:
        line = server.stdout.readline()
        assert line, "sandbox serve stopped before serving"
    url = line.split("serving at ")[1].split()[0]
    config = yaml.safe_load((project / "couponctl.yaml").read_text())
    config["providers"]["msads-local"]["endpoint"] = url
    config["sandbox"].pop("faults", None)
    (project / "couponctl.yaml").write_text(yaml.safe_dump(config, sort_keys=False))
    try:
        yield project, server
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(timeout=10)


def wait_for_pending(journal: Path, deadline_s: float = 30) -> None:
    end = time.monotonic() + deadline_s
    while time.monotonic() < end:
        if journal.exists():
            try:
                db = sqlite3.connect(journal)
                pending = db.execute("SELECT count(*) FROM items WHERE state = 'PENDING'").fetchone()[0]
                db.close()
                if pending:
                    return
            except sqlite3.Error:
                pass
        time.sleep(0.05)
    raise AssertionError("the apply never sent an issuing call")


def test_an_apply_killed_mid_batch_leaves_nothing_paid_twice(served: tuple[Path, subprocess.Popen[str]]) -> None:
    project, _server = served
    victim = subprocess.Popen(
        [*COUPONCTL, "-C", str(project), "apply", "--yes"], stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    wait_for_pending(project / ".couponctl" / "journal.sqlite")
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


def test_two_applies_at_once_issue_each_coupon_once(served: tuple[Path, subprocess.Popen[str]]) -> None:
    project, _server = served
    first = subprocess.Popen(
        [*COUPONCTL, "-C", str(project), "apply", "--yes"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    wait_for_pending(project / ".couponctl" / "journal.sqlite")
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
