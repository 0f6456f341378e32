"""The rig alone: the served sandbox's CPU per SearchCoupons page, and the oracle client against the floor.

    python benchmarks/sandbox_cpu.py [--quick] [--pages N] [--latency-ms 20] [--concurrency 8] [--repeat 1]

Seeds a store as benchmarks/workload.py does (10 classes, 90% of the targets holding a coupon; ``--quick``
divides the sizes by 10), serves it (``couponctl sandbox serve --fault '*:latency-ms=N'``) and reads the classes'
pages with the oracle of benchmarks/floor.py (bare httpx, ``concurrency`` requests at a time, no parsing): every
page a reader needs, or the first ``--pages N`` of them. Reports, per repetition, the server process's CPU time
(``/proc/PID/stat``) over the read divided by the pages, the oracle's wall and CPU, and the arithmetic floor
(calls x latency / concurrency). Prints JSON. The code measured is whatever ``reconciler`` imports (set
PYTHONPATH to measure another checkout: the server inherits it, and the store is seeded with the same code).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
from dataclasses import replace
from pathlib import Path

import floor
import measure
import workload as wl

HERE = Path(__file__).resolve().parent


def _scopes(load: wl.Workload, pages: int | None) -> list[floor.ScopeSize]:
    """The classes to read; with ``pages``, cut so that the oracle reads exactly that many pages (from the first
    class on, a class cut short is read from its first page)."""
    scopes = [floor.ScopeSize(c.customer_id, c.name, c.coupons) for c in load.classes]
    if pages is None:
        return scopes
    chosen: list[floor.ScopeSize] = []
    left = pages
    for scope in scopes:
        if left <= 0:
            break
        need = floor.minimal_pages(scope.coupons)
        if need <= left:
            chosen.append(scope)
            left -= need
        else:  # left pages of 100 coupons, the last one full: minimal_pages reads one more, so ask for left-1 full
            chosen.append(replace(scope, coupons=(left - 1) * floor.PAGE_SIZE + 1))
            left = 0
    return chosen


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="sizes divided by 10")
    parser.add_argument("--pages", type=int, default=None, help="read only this many pages (default: all)")
    parser.add_argument("--latency-ms", type=int, default=20)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--repeat", type=int, default=1, help="reads of the same served store, one after another")
    parser.add_argument("--profile", type=Path, default=None, help="serve under cProfile, its stats to this file")
    parser.add_argument("--workdir", type=Path, default=HERE / ".work" / "sandbox_cpu")
    args = parser.parse_args()

    import reconciler

    sizes = wl.Sizes.quick() if args.quick else wl.Sizes.full()
    load = wl.build_workload(sizes)
    work = args.workdir / ("quick" if args.quick else "full")
    database, timings = wl.build_store(load, work)  # seeded by the code measured (its schema may differ)
    measure.checkpoint(database)
    scopes = _scopes(load, args.pages)
    pages = sum(floor.minimal_pages(s.coupons) for s in scopes)
    runs = []
    with measure.Sandbox(
        database, latency_ms=args.latency_ms, log=work / "server.log", profile=args.profile
    ) as sandbox:
        for _ in range(args.repeat):
            server_before = sandbox.cpu_s()
            busy_before = measure.machine_busy_s()
            client_before = time.process_time()
            bodies, wall = asyncio.run(
                floor.capture(
                    sandbox.url,
                    scopes,
                    developer_token=wl.DEVELOPER_TOKEN,
                    access_token=wl.ACCESS_TOKEN,
                    concurrency=args.concurrency,
                )
            )
            client_cpu = time.process_time() - client_before
            server_cpu = sandbox.cpu_s() - server_before
            busy = measure.machine_busy_s() - busy_before
            coupons = sum(len(json.loads(b)["Coupons"]) for b in bodies)
            true_size = {c.name: c.coupons for c in load.classes}
            expected = sum(
                min(true_size[s.class_name], floor.minimal_pages(s.coupons) * floor.PAGE_SIZE) for s in scopes
            )
            if coupons != expected:
                raise RuntimeError(f"the oracle read {coupons} coupons, {expected} expected")
            floor_s = pages * args.latency_ms / 1000 / args.concurrency
            runs.append(
                {
                    "server_cpu_s": round(server_cpu, 3),
                    "server_cpu_ms_per_page": round(server_cpu / pages * 1000, 3),
                    "oracle_wall_s": round(wall, 3),
                    "oracle_cpu_s": round(client_cpu, 3),
                    "floor_s": round(floor_s, 3),
                    "oracle_over_floor": round(wall / floor_s, 3),
                    "others_cpu_s": round(max(0.0, busy - server_cpu - client_cpu), 3),
                    "bytes": sum(len(b) for b in bodies),
                }
            )
            print(f"  {runs[-1]}", file=sys.stderr, flush=True)
        calls = sandbox.calls()
    result = {
        "reconciler": str(Path(reconciler.__file__).parent),
        "sizes": "quick" if args.quick else "full",
        "coupons": load.coupons,
        "pages": pages,
        "latency_ms": args.latency_ms,
        "concurrency": args.concurrency,
        "seed_s": round(timings["seed_s"], 2),
        "preissue_s": round(timings["preissue_s"], 2),
        "calls_logged": calls,
        "runs": runs,
    }
    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
