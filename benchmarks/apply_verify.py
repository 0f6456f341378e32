"""What apply's read-after-write costs: ``couponctl plan`` then ``couponctl apply --yes`` against fresh copies of the
benchmark store, under ``verify: needed`` (the default) and ``verify: full``, each repeated. Prints JSON:

    python benchmarks/apply_verify.py [--quick] [--repeats 3] [--modes needed,full] [--latency-ms 20]

For each run: the plan's and the apply's wall and CPU seconds (couponctl's own process), the apply over its plan,
the API calls of each, and the SearchCoupons calls the sandbox logged after apply's first issuing call (its
read-back); each run is also written to stderr, one JSON line, as it ends. The store is the one
``benchmarks/run.py`` seeds (reused from its work directory when there).
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
import run as rig
import workload as wl

HERE = Path(__file__).resolve().parent


def searches_after_first_issue(database: Path) -> int:
    db = sqlite3.connect(f"file:{database}?mode=ro", uri=True)
    try:
        (first,) = db.execute("SELECT min(id) FROM calls WHERE endpoint IN ('dispatch', 'distribute')").fetchone()
        if first is None:
            return 0
        (count,) = db.execute("SELECT count(*) FROM calls WHERE endpoint = 'search' AND id > ?", (first,)).fetchone()
        return int(count)
    finally:
        db.close()


def one_run(args: argparse.Namespace, work: Path, base: Path, project: Path, mode: str, n: int) -> dict[str, Any]:
    env = wl.credentials_env()
    store = measure.copy_store(base, work / f"verify-{mode}-{n}.sqlite")
    shutil.rmtree(project / ".couponctl", ignore_errors=True)
    with measure.Sandbox(store, latency_ms=args.latency_ms, log=work / f"server-verify-{mode}.log") as sandbox:
        wl.point_project_at(project, sandbox.url)
        with (project / "couponctl.yaml").open("a", encoding="utf-8") as config:
            config.write(f"verify: {mode}\n")
        plan = measure.run_measured(
            rig.couponctl(project, "plan", "--format", "json"), env=env, stdout=work / "verify-plan.out", server=sandbox
        )
        applied = measure.run_measured(
            rig.couponctl(project, "-q", "apply", "--yes"), env=env, stdout=work / "verify-apply.out", server=sandbox
        )
    store_reads = searches_after_first_issue(store)
    store.unlink(missing_ok=True)
    return {
        "mode": mode,
        "plan": {"wall_s": plan.wall_s, "cpu_s": plan.cpu_s, "calls": dict(plan.calls), "exit": plan.returncode},
        "apply": {
            "wall_s": applied.wall_s,
            "cpu_s": applied.cpu_s,
            "calls": dict(applied.calls),
            "exit": applied.returncode,
            "searches_after_first_issue": store_reads,
        },
        "apply_over_plan_wall": applied.wall_s / plan.wall_s if plan.wall_s else None,
        "apply_over_plan_cpu": applied.cpu_s / plan.cpu_s if plan.cpu_s else None,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="the workload of run.py --quick (10,000 targets)")
    parser.add_argument("--workdir", type=Path, default=HERE / ".work")
    parser.add_argument("--latency-ms", type=int, default=20)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--modes", default="needed,full")
    parser.add_argument("--concurrency", type=int)
    parser.add_argument("--reseed", action="store_true")
    args = parser.parse_args(argv)
    work = args.workdir.resolve() / ("quick" if args.quick else "full")
    work.mkdir(parents=True, exist_ok=True)
    load = wl.build_workload(wl.Sizes.quick() if args.quick else wl.Sizes.full())
    project = rig.prepare_project(args, work, load)
    base = rig.prepare_store(args, work, load, {})
    runs = []
    for n in range(args.repeats):
        for mode in args.modes.split(","):
            runs.append(one_run(args, work, base, project, mode, n))
            print(json.dumps(runs[-1]), file=sys.stderr, flush=True)  # each run as it ends: a long series may stop
    summary: dict[str, Any] = {}
    for mode in args.modes.split(","):
        mine = [r for r in runs if r["mode"] == mode]
        summary[mode] = {
            key: [min(r[key] for r in mine), max(r[key] for r in mine)]
            for key in ("apply_over_plan_wall", "apply_over_plan_cpu")
        } | {"searches_after_first_issue": sorted({r["apply"]["searches_after_first_issue"] for r in mine})}
    json.dump(
        {
            "targets": load.targets,
            "missing": load.missing,
            "latency_ms": args.latency_ms,
            "summary": summary,
            "runs": runs,
        },
        sys.stdout,
        indent=2,
    )
    print()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
