"""Adaptive concurrency against a rate-limited vendor: ``couponctl plan`` against a served sandbox whose every
endpoint throttles (``--fault '*:throttle-rpm=CALLS/SECONDS'``, the window announced as Retry-After), with the
limiter adaptive (couponctl's default) and with ``adaptive: false`` (the fixed limiter: ``concurrency`` calls in
flight, no rate), each ``--runs`` times. Prints JSON.

From the sandbox's ``calls`` table (every call the server answered, with its time and outcome):

- ``achieved_per_s``: calls the vendor accepted, a second, from the first call of the plan to its last accepted
  one; ``steady_per_s`` the same after the first window (the sliding window admits a burst of CALLS at first);
- ``of_allowed``: ``achieved_per_s`` / (CALLS / SECONDS); ``steady_of_allowed`` likewise;
- ``throttled_share``: throttled calls / all calls;
- ``cpu_s``: couponctl's own CPU (user + system), ``wall_s``, and its exit status (0 or 2: the plan was made).

    python benchmarks/throttle.py                       # 3 runs each way, 20 calls/s allowed, a ~60 s plan
    python benchmarks/throttle.py --runs 1 --pages 300  # a smoke run
"""

from __future__ import annotations

import argparse
import json
import shutil
import sqlite3
import sys
from pathlib import Path
from typing import Any

import measure
import workload as wl

HERE = Path(__file__).resolve().parent
PAGE = 100  # coupons a SearchCoupons page


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--calls", type=int, default=100, help="calls the sandbox accepts per window (default 100)")
    parser.add_argument("--window-s", type=float, default=5.0, help="the throttle window in seconds (default 5)")
    parser.add_argument("--pages", type=int, default=1200, help="about this many SearchCoupons pages a plan reads")
    parser.add_argument("--latency-ms", type=int, default=20, help="latency the sandbox adds to each call")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--modes", default="adaptive,fixed", help="adaptive, fixed or both (default)")
    parser.add_argument("--workdir", type=Path, default=HERE / ".work" / "throttle")
    args = parser.parse_args()

    work: Path = args.workdir
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    classes = 10
    per_class = [args.pages * PAGE * (i + 1) * 2 // (classes * (classes + 1)) for i in range(classes)]
    load = wl.build_workload(wl.Sizes(tuple(per_class), targets=sum(per_class) // 10))
    base, _ = wl.build_store(load, work / "seed")
    measure.checkpoint(base)
    allowed = args.calls / args.window_s
    results: dict[str, Any] = {
        "fault": f"*:throttle-rpm={args.calls}/{args.window_s:g}",
        "latency_ms": args.latency_ms,
        "allowed_per_s": allowed,
        "coupons": sum(per_class),
        "minimum_calls": sum(size // PAGE + 1 for size in per_class),
        "runs": {},
    }
    for mode in args.modes.split(","):
        runs = []
        for n in range(args.runs):
            runs.append(one_run(args, work / f"{mode}-{n}", load, base, adaptive=mode == "adaptive"))
            print(f"{mode} run {n + 1}: {json.dumps(runs[-1])}", file=sys.stderr)
        results["runs"][mode] = runs
        results[mode] = summary(runs)
    print(json.dumps(results, indent=2))


def one_run(
    args: argparse.Namespace, directory: Path, load: wl.Workload, base: Path, *, adaptive: bool
) -> dict[str, Any]:
    directory.mkdir(parents=True)
    store = measure.copy_store(base, directory / "sandbox.sqlite")
    project = wl.write_project(load, directory / "project")
    if not adaptive:
        (project / "settings.json").write_text(json.dumps({"adaptive": "false"}), encoding="utf-8")
    faults = [f"*:throttle-rpm={args.calls}/{args.window_s:g}", f"*:latency-ms={args.latency_ms}"]
    # latency_ms=0: the latency is among ``faults``, which the sandbox is given in this order
    with measure.Sandbox(store, latency_ms=0, log=directory / "sandbox.log", faults=faults) as sandbox:
        wl.point_project_at(project, sandbox.url)
        run = measure.run_measured(
            [*measure.COUPONCTL, "-C", str(project), "plan", "--format", "json"],
            env=wl.credentials_env(),
            stdout=directory / "plan.json",
            timeout_s=900,
        )
    return {"returncode": run.returncode, "wall_s": round(run.wall_s, 2), "cpu_s": round(run.cpu_s, 2)} | calls(
        store, args.calls / args.window_s, args.window_s
    )


def calls(database: Path, allowed: float, window_s: float) -> dict[str, Any]:
    db = sqlite3.connect(f"file:{database}?mode=ro", uri=True)
    try:
        rows = db.execute("SELECT at, outcome FROM calls WHERE endpoint = 'search' ORDER BY id").fetchall()
    finally:
        db.close()
    accepted = [at for at, outcome in rows if outcome != "throttled"]
    throttled = len(rows) - len(accepted)
    if not accepted:
        return {"calls": len(rows), "throttled": throttled}
    first, last = rows[0][0], max(accepted)
    span = max(last - first, 1e-9)
    achieved = len(accepted) / span
    steady = [at for at in accepted if at >= first + window_s]
    steady_rate = len(steady) / max(last - first - window_s, 1e-9)
    return {
        "calls": len(rows),
        "accepted": len(accepted),
        "throttled": throttled,
        "throttled_share": round(throttled / len(rows), 4),
        "span_s": round(span, 2),
        "achieved_per_s": round(achieved, 2),
        "of_allowed": round(achieved / allowed, 3),
        "steady_per_s": round(steady_rate, 2),
        "steady_of_allowed": round(steady_rate / allowed, 3),
    }


def summary(runs: list[dict[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key in ("of_allowed", "steady_of_allowed", "throttled_share", "cpu_s", "wall_s", "calls"):
        values = [r[key] for r in runs if key in r]
        if values:
            out[key] = [min(values), max(values)]
    out["plans_made"] = sum(1 for r in runs if r["returncode"] in (0, 2))
    return out


if __name__ == "__main__":
    main()
