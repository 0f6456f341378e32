"""couponctl's own CPU per SearchCoupons page during ``couponctl plan`` (msads), against a served sandbox.

The workload of ``workload.py`` at a smaller size (by default 10 classes of 5,000..50,000 coupons, 275,000 in
all, and 30,000 desired targets, 90% of them already holding a coupon: 2,755 pages). ``couponctl plan --format
json`` runs ``--runs`` times as a child process reaped with ``os.wait4``; for each run: its own user+system CPU,
the SearchCoupons calls it made (rows added to the sandbox's ``calls`` table) and their quotient, the CPU per
page. ``--profile FILE`` runs the plan once more under cProfile (untimed) and adds its top functions. Prints JSON.

    python benchmarks/plan_cpu.py [--runs 3] [--scale 0.5] [--targets 30000] [--latency-ms 20] [--profile plan.prof]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
from dataclasses import asdict
from pathlib import Path
from typing import Any

import measure
import report
import workload as wl

HERE = Path(__file__).resolve().parent


def prepared_store(load: wl.Workload, directory: Path, *, reseed: bool) -> Path:
    """The seeded store for ``load``, reused while its sizes are the same."""
    key = json.loads(json.dumps({"sizes": asdict(load.sizes), "version": 1}))
    stamp = directory / "workload.json"
    base = directory / "sandbox.sqlite"
    if reseed or not (base.exists() and stamp.exists() and json.loads(stamp.read_text()) == key):
        base, _ = wl.build_store(load, directory)
        measure.checkpoint(base)
        stamp.write_text(json.dumps(key))
    return base


def plan_argv(project: Path) -> list[str]:
    return [*measure.COUPONCTL, "-C", str(project), "plan", "--format", "json"]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--scale", type=float, default=0.5, help="class sizes: scale x 10,000..100,000")
    parser.add_argument("--targets", type=int, default=30_000)
    parser.add_argument("--latency-ms", type=int, default=20)
    parser.add_argument("--concurrency", type=int, help="written into the project (default: couponctl's own)")
    parser.add_argument("--profile", type=Path, help="also run one plan under cProfile, dump it here")
    parser.add_argument("--workdir", type=Path, default=HERE / ".work" / "plan_cpu")
    parser.add_argument("--reseed", action="store_true")
    args = parser.parse_args(argv)

    sizes = wl.Sizes(tuple(round(10_000 * args.scale) * (i + 1) for i in range(10)), args.targets)
    load = wl.build_workload(sizes)
    work = args.workdir / f"s{args.scale:g}-t{args.targets}"
    base = prepared_store(load, work / "base", reseed=args.reseed)
    store = measure.copy_store(base, work / "served.sqlite")
    project = work / "project"
    shutil.rmtree(project, ignore_errors=True)
    wl.write_project(load, project, concurrency=args.concurrency)
    env = wl.credentials_env()
    runs: list[dict[str, Any]] = []
    result: dict[str, Any] = {
        "coupons": load.coupons,
        "targets": load.targets,
        "missing": load.missing,
        "latency_ms": args.latency_ms,
        "minimum_pages": sum(c // wl_page() + 1 for c in sizes.class_sizes),
        "runs": runs,
    }
    with measure.Sandbox(store, latency_ms=args.latency_ms, log=work / "server.log") as sandbox:
        wl.point_project_at(project, sandbox.url)
        result["settings"] = wl.client_settings(project)
        for _ in range(args.runs):
            shutil.rmtree(project / ".couponctl", ignore_errors=True)
            run = measure.run_measured(plan_argv(project), env=env, stdout=work / "plan.json", server=sandbox)
            if run.returncode not in (0, 2):
                raise RuntimeError(f"plan exited {run.returncode}; see {work / 'plan.stderr'}")
            pages = run.calls.get("search", 0)
            runs.append(
                {
                    "cpu_s": run.cpu_s,
                    "user_s": run.user_s,
                    "sys_s": run.sys_s,
                    "wall_s": run.wall_s,
                    "search_calls": pages,
                    "cpu_ms_per_page": 1000 * run.cpu_s / pages if pages else None,
                    "server_cpu_s": run.server_cpu_s,
                    "other_cpu_s": run.other_cpu_s,
                    "max_rss_mb": run.max_rss_mb,
                    "exit": run.returncode,
                }
            )
        per_page = [r["cpu_ms_per_page"] for r in runs if r["cpu_ms_per_page"] is not None]
        if per_page:
            result["cpu_ms_per_page"] = {
                "min": min(per_page),
                "median": statistics.median(per_page),
                "max": max(per_page),
            }
        if args.profile is not None:
            shutil.rmtree(project / ".couponctl", ignore_errors=True)
            command = [sys.executable, "-m", "cProfile", "-o", str(args.profile), "-m", "reconciler"]
            command += plan_argv(project)[3:]
            subprocess.run(command, env={**os.environ, **env}, stdout=subprocess.DEVNULL, check=False)
            result["profile_top"] = report.profile_top(args.profile, limit=30)
    json.dump(result, sys.stdout, indent=1)
    print()
    return 0


def wl_page() -> int:
    """Coupons per SearchCoupons page (the msads wire's page size)."""
    from reconciler.providers.msads.wire import PAGE_SIZE

    return PAGE_SIZE


if __name__ == "__main__":
    sys.exit(main())
