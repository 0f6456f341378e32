"""CPU of the adaptive limiter itself: ``--pairs`` acquire/release pairs (``async with limiter``) on a virtual clock
that moves 1 ms a call and jumps over every wait, so only the limiter's own work is timed. Two phases: before any
throttle (the rate unlimited) and after one (the rate paced, a throttle every ``--throttle-every`` calls). Prints
JSON: CPU microseconds a pair, best and worst of ``--runs``.

    python benchmarks/limiter_cpu.py                # 100,000 pairs a phase, 3 runs
"""

from __future__ import annotations

import argparse
import asyncio
import json
import time

from reconciler.errors import ThrottledError
from reconciler.providers.adaptive import AdaptiveLimiter


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.now += seconds


async def phase(pairs: int, throttle_every: int) -> float:
    """CPU seconds of ``pairs`` pairs; ``throttle_every`` 0: no throttle at all."""
    clock = Clock()
    limiter = AdaptiveLimiter(8, clock=clock, sleep=clock.sleep)
    if throttle_every:
        for _ in range(50):
            async with limiter:
                clock.now += 0.001
        try:
            async with limiter:
                raise ThrottledError("throttled", retry_after=1.0)
        except ThrottledError:
            pass
    started = time.process_time()
    for n in range(1, pairs + 1):
        try:
            async with limiter:
                clock.now += 0.001
                if throttle_every and n % throttle_every == 0:
                    raise ThrottledError("throttled", retry_after=1.0)
        except ThrottledError:
            pass
    return time.process_time() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--pairs", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--throttle-every", type=int, default=2000)
    args = parser.parse_args()
    results: dict[str, object] = {"pairs": args.pairs}
    for name, every in (("unthrottled", 0), ("paced", args.throttle_every)):
        runs = [asyncio.run(phase(args.pairs, every)) for _ in range(args.runs)]
        results[f"{name}_us_per_pair"] = [
            round(min(runs) / args.pairs * 1e6, 2),
            round(max(runs) / args.pairs * 1e6, 2),
        ]
    print(json.dumps(results))


if __name__ == "__main__":
    main()
