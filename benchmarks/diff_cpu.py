"""CPU of the pure diff (``reconciler.plan.diff.diff``) on synthetic desired and live states, in-process.

10 scopes; per scope 10% account ids and 90% emails; 90% of the targets hold a coupon, 10% are to issue.
Besides ``diff`` itself, the other CPU steps of ``make_plan`` over the same states are timed for reference:
``live_digest``, ``with_checksum`` and ``write_plan_json`` (the JSON streamed, as ``couponctl plan`` writes
it). Prints JSON; ``--profile FILE`` writes a cProfile of ``diff`` and adds its top functions to the JSON.

    python benchmarks/diff_cpu.py --targets 1000000 [--profile diff.prof]
"""

from __future__ import annotations

import argparse
import cProfile
import gc
import json
import random
import resource
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import TypeVar

from counting_sink import Sink
from report import profile_top

from reconciler.app.session import live_digest
from reconciler.plan.checksum import with_checksum
from reconciler.plan.diff import diff
from reconciler.plan.serialize import write_plan_json
from reconciler.state.desired import DesiredItem, DesiredState, Position, Scope, ScopeSpec, Target
from reconciler.state.live import FaceValue, IssuedCoupon, LiveState, ScopeLive

T = TypeVar("T")


SCOPES = 10


def build_states(targets: int) -> tuple[DesiredState, LiveState]:
    specs: dict[Scope, ScopeSpec] = {}
    items: dict[Scope, dict[Target, DesiredItem]] = {}
    lives: dict[Scope, ScopeLive] = {}
    face = FaceValue(Decimal(50), "USD", "Retention")
    per_scope = targets // SCOPES
    for s in range(SCOPES):
        scope = Scope("bench", f"100000{s % 2 + 1}", f"BENCH-{s:02d}")
        manifest = f"bench-c{s:02d}"
        specs[scope] = ScopeSpec(scope, "msads", (manifest,), 7)
        declared: dict[Target, DesiredItem] = {}
        issued: dict[Target, tuple[IssuedCoupon, ...]] = {}
        file = f"lists/c{s:02d}.csv"
        order = list(range(per_scope))
        random.Random(s).shuffle(order)  # declared in no particular order, as a real list is
        for line, n in enumerate(order):
            email = Target.email(f"user{n:07d}@c{s}.bench.example")
            target = Target.account(100_000_000 + n) if n % 10 == 0 else email
            declared[target] = DesiredItem(target, manifest, Position(file, line + 2, 1))
            if n % 100 < 90:  # 90% already hold a coupon
                code = f"CODE{s:02d}{n:010d}"
                issued[target] = (IssuedCoupon(code, "dispatched", Decimal(50), "USD", "2027-01-01T00:00:00Z"),)
        items[scope] = declared
        lives[scope] = ScopeLive(scope, True, face, per_scope, issued, coupons_read=per_scope * 2)
    return DesiredState(specs, items), LiveState(lives)


def timed(step: Callable[[], T]) -> tuple[T, float, float]:
    """The result, CPU seconds and wall seconds of ``step`` (garbage collection as it comes)."""
    cpu, wall = time.process_time(), time.perf_counter()
    result = step()
    return result, time.process_time() - cpu, time.perf_counter() - wall


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--targets", type=int, default=1_000_000)
    parser.add_argument("--profile", type=Path, help="write a cProfile of diff() here")
    args = parser.parse_args(argv)

    (desired, live), build_cpu, _ = timed(lambda: build_states(args.targets))
    now = datetime(2027, 1, 1, tzinfo=UTC)
    gc.collect()
    plan, diff_cpu, diff_wall = timed(lambda: diff(desired, live, created_at=now))
    _, digest_cpu, _ = timed(lambda: live_digest(live))
    checked, checksum_cpu, _ = timed(lambda: with_checksum(plan))
    sink = Sink()
    _, json_cpu, _ = timed(lambda: write_plan_json(checked, sink))
    result: dict[str, object] = {
        "targets": desired.target_count(),
        "to_issue": sum(len(s.to_issue) for s in plan.scopes),
        "build_cpu_s": build_cpu,
        "diff_cpu_s": diff_cpu,
        "diff_wall_s": diff_wall,
        "live_digest_cpu_s": digest_cpu,
        "with_checksum_cpu_s": checksum_cpu,
        "plan_json_cpu_s": json_cpu,
        "plan_json_chars": sink.chars,
        "max_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }
    if args.profile is not None:
        profile = cProfile.Profile()
        profile.enable()
        diff(desired, live, created_at=now)
        profile.disable()
        profile.dump_stats(str(args.profile))
        result["profile_top"] = profile_top(args.profile)
    json.dump(result, sys.stdout)
    return 0


if __name__ == "__main__":
    sys.exit(main())
