"""benchmarks/report.py judges a target only at the size the target is set for: a --quick run (a tenth of the
size) says so instead of reporting the target as missed. (What is rendered, not how fast anything ran.)"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

REPORT = Path(__file__).resolve().parents[1] / "benchmarks" / "report.py"


@pytest.fixture(scope="module")
def report() -> ModuleType:
    spec = importlib.util.spec_from_file_location("benchmark_report", REPORT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def results(rss_targets: int, plan_rss_mb: float) -> dict[str, Any]:
    run = {"wall_s": 1.0, "cpu_s": 1.0, "max_rss_mb": plan_rss_mb, "returncode": 1}
    return {
        "command": "python benchmarks/run.py",
        "machine": {
            "date": "2026-12-02",
            "nproc": 2,
            "cpu": "cpu",
            "ram_gib": 24,
            "python": "3.11",
            "platform": "linux",
            "commit": "abc",
            "reconciler_uncommitted_files": 0,
        },
        "workload": {
            "classes": 1,
            "class_sizes": [10],
            "coupons": 10,
            "targets": 10,
            "missing": 1,
            "missing_emails": 1,
            "missing_accounts": 0,
            "latency_ms": 0,
            "concurrency": 8,
        },
        "rss": {"targets": rss_targets, "validate": run, "plan": run},
    }


def rss_verdict(report: ModuleType, targets: int, mb: float) -> str:
    (line,) = [x for x in report.render(results(targets, mb)).splitlines() if x.startswith("Target: peak RSS")]
    return str(line)


def test_a_quick_run_does_not_report_the_full_size_target_as_missed(report: ModuleType) -> None:
    line = rss_verdict(report, 100_000, 60.0)
    assert "not measured at this size" in line and "missed" not in line


def test_a_full_run_is_judged_against_300_mb(report: ModuleType) -> None:
    assert "met" in rss_verdict(report, 1_000_000, 280.0)
    assert "**missed**" in rss_verdict(report, 1_000_000, 320.0)


def target_rows(report: ModuleType, extra: dict[str, Any]) -> dict[str, str]:
    """The targets table: each target's first words -> its verdict."""
    text = report.render({**results(1_000_000, 280.0), **extra})
    table = text.split("### Targets", 1)[1].split("\n\n", 2)[1]
    rows = [line.split(" | ") for line in table.splitlines()[2:]]
    return {cells[0].lstrip("| "): cells[-1].rstrip(" |") for cells in rows}


def test_every_target_is_in_the_table_and_a_stage_not_run_is_not_judged(report: ModuleType) -> None:
    rows = target_rows(report, {})
    assert len(rows) == 8  # the read stage's seven targets share one row when it did not run
    assert rows["a plan over 1,000,000 desired targets peaks under 300 MB"] == "met"
    assert all(verdict.startswith("not measured") for name, verdict in rows.items() if "300 MB" not in name)


def test_the_throttle_targets_are_judged_on_rate_and_throttled_share(report: ModuleType) -> None:
    adaptive = {"of_allowed": [0.93, 0.95], "throttled_share": [0.004, 0.025]}  # one run throttled too often
    throttle = {"fault": "*:throttle-rpm=100/5", "allowed_per_s": 20.0, "adaptive": adaptive}
    rows = target_rows(report, {"throttle": throttle})
    (rate,) = [v for k, v in rows.items() if "≥ 90% of the allowed rate" in k]
    (throttled,) = [v for k, v in rows.items() if "< 2% of calls throttled" in k]
    assert (rate, throttled) == ("met", "**missed**")
