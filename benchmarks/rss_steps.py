"""Where a plan's memory goes: the steps of ``make_plan`` run in-process, with the RSS after each.

Runs against a couponctl project (its provider's credentials from the environment) and prints JSON: per step
the current RSS, the peak RSS so far (VmHWM) and the CPU seconds the step took.

    python benchmarks/rss_steps.py PROJECT_DIR
"""

from __future__ import annotations

import json
import sys
from datetime import UTC, datetime
from pathlib import Path

from counting_sink import Sink
from process_memory import StepMeter

from reconciler import aio
from reconciler.app.session import Project, live_digest, load_project, open_providers, read_live
from reconciler.plan.checksum import with_checksum
from reconciler.plan.diff import diff
from reconciler.plan.serialize import write_plan_json
from reconciler.state.live import LiveState


async def read(project: Project) -> LiveState:
    async with open_providers(project) as providers:
        return await read_live(project.desired, providers)


def main(argv: list[str] | None = None) -> int:
    directory = Path((argv or sys.argv[1:])[0])
    meter = StepMeter()
    step, steps = meter.step, meter.steps

    step("imports")
    project = load_project(directory)
    step(f"load_desired ({project.desired.target_count():,} targets)")
    live = aio.run(read(project))  # as couponctl runs its async core (reconciler/aio.py)
    step(f"read_live ({sum(s.coupons_read for s in live.scopes.values()):,} coupons)")
    plan = diff(project.desired, live, created_at=datetime.now(UTC))
    step(f"diff ({plan.item_count:,} to issue)")
    live_digest(live)
    step("live_digest")
    plan = with_checksum(plan)
    step("with_checksum")
    sink = Sink()
    write_plan_json(plan, sink)
    step(f"write_plan_json ({sink.chars / 1e6:,.0f} MB of JSON, streamed)")
    json.dump(steps, sys.stdout)
    return 0


if __name__ == "__main__":
    sys.exit(main())
