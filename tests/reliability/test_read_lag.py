"""The read lag apply observes through the sandbox is recorded in the journal, and plan warns when inDoubtWindow
does not cover it."""

from __future__ import annotations

import json
import math
import sqlite3
import time
from pathlib import Path

import pytest

from tests.support.cli import run
from tests.support.projects import assert_exactly_once, make_project

pytestmark = pytest.mark.slow


def test_the_lag_reads_show_is_recorded_and_plan_warns_when_the_window_is_below_it(tmp_path: Path) -> None:
    project = make_project(tmp_path, faults=["*:lag-s=3"], extra={"inDoubtWindow": "1s"})
    assert run(project, "apply", "--yes").exit_code == 0
    time.sleep(1.6)
    assert run(project, "apply", "--yes").exit_code == 0  # nothing to issue; its read still misses them
    time.sleep(1.8)
    assert run(project, "apply", "--yes").exit_code == 0  # now they show
    journal = sqlite3.connect(project / ".couponctl" / "journal.sqlite")
    lags = [row[0] for row in journal.execute("SELECT read_lag_s FROM items WHERE state = 'ISSUED'")]
    assert lags and all(lag is not None and 1.5 <= lag < 3 for lag in lags), lags
    plan = json.loads(run(project, "plan", "--format", "json").stdout)
    warnings = [p["message"] for s in plan["scopes"] for p in s["problems"] if p["code"] == "read-lag"]
    assert len(warnings) == 3, warnings  # every scope: each saw the lag
    # The lag plus its margin (half of it, at least 1 s), rounded up: 3 s for a lag of up to 2 s, more when a loaded
    # machine ran the second apply later after the first one's answers.
    needed = {math.ceil(lag + max(1.0, lag / 2)) for lag in lags}
    assert all("inDoubtWindow (1s) is below that" in w for w in warnings), warnings
    assert all(any(f"set it to at least {n}s" in w for n in needed) for w in warnings), (warnings, lags)
    assert_exactly_once(project)

    # a window that covers the lag plus its margin: no warning
    config = project / "couponctl.yaml"
    config.write_text(config.read_text().replace("inDoubtWindow: 1s", f"inDoubtWindow: {max(needed)}s"))
    plan = json.loads(run(project, "plan", "--format", "json").stdout)
    assert not [p for s in plan["scopes"] for p in s["problems"] if p["code"] == "read-lag"]
