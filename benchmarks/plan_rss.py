"""Where the memory of a plan over many desired targets goes, offline: the steps of ``make_plan`` in one process.

Writes a project of N desired emails (the RSS stage's: 10 classes, one ``emailsFrom`` CSV each, rows shuffled),
loads it, diffs it against a live state in which every class exists and holds nothing (so every target is to
issue, the worst case for the plan), then checksums and streams the plan's JSON. Prints JSON: per step the
current RSS, the peak RSS so far (VmHWM) and the CPU seconds the step took. No sandbox, no network:

    python benchmarks/plan_rss.py [--targets 1000000] [--workdir DIR] [--tracemalloc]

``--tracemalloc`` also reports the top allocation sites after loading (slow; for finding where bytes go).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tracemalloc
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import workload as wl  # noqa: E402
from counting_sink import Sink  # noqa: E402
from process_memory import StepMeter  # noqa: E402

from reconciler.app.session import load_project  # noqa: E402
from reconciler.plan.checksum import with_checksum  # noqa: E402
from reconciler.plan.diff import diff  # noqa: E402
from reconciler.plan.serialize import write_plan_json  # noqa: E402
from reconciler.state.live import FaceValue, LiveState, ScopeLive  # noqa: E402


def write_project(targets: int, directory: Path) -> Path:
    load = wl.build_workload(wl.Sizes.full())
    per_class = targets // len(load.classes)
    lists = [[wl.email_of(c.index, n) for n in range(per_class)] for c in load.classes]
    return wl.write_project(load, directory, email_lists=lists)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--targets", type=int, default=1_000_000)
    parser.add_argument("--workdir", type=Path, default=HERE / ".work" / "plan_rss")
    parser.add_argument("--tracemalloc", action="store_true")
    parser.add_argument("--write-only", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    directory = args.workdir.resolve() / f"project-{args.targets}"
    if args.write_only:
        write_project(args.targets, directory)
        return 0
    if not (directory / "couponctl.yaml").exists():  # in a child: its lists must not count in this RSS
        child = [
            sys.executable,
            __file__,
            "--write-only",
            "--targets",
            str(args.targets),
            "--workdir",
            str(args.workdir),
        ]
        subprocess.run(child, check=True)

    meter = StepMeter(rounded=True)
    step, steps = meter.step, meter.steps

    step("imports")
    if args.tracemalloc:
        tracemalloc.start()
    project = load_project(directory)
    top: list[str] = []
    if args.tracemalloc:
        snapshot = tracemalloc.take_snapshot()
        tracemalloc.stop()
        top = [str(stat) for stat in snapshot.statistics("lineno")[:12]]
    step(f"load_desired ({project.desired.target_count():,} targets)")
    face = FaceValue(Decimal(wl.AMOUNT), wl.CURRENCY)
    live = LiveState({s: ScopeLive(s, True, face, 10**9, {}) for s in project.desired.scopes})
    plan = diff(project.desired, live, created_at=datetime.now(UTC))
    step(f"diff ({plan.item_count:,} to issue)")
    plan = with_checksum(plan)
    step("with_checksum")
    sink = Sink()
    write_plan_json(plan, sink)
    step(f"write_plan_json ({sink.chars / 1e6:,.0f} MB of JSON, streamed)")
    out: dict[str, Any] = {"targets": args.targets, "peak_mb": max(s["peak_mb"] for s in steps), "steps": steps}
    if top:
        out["tracemalloc_top"] = top
    json.dump(out, sys.stdout, indent=1)
    print()
    return 0


if __name__ == "__main__":
    sys.exit(main())
