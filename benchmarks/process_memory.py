"""The memory of the running process, as Linux reports it in /proc/self/status, and a meter of it step by step."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any


def memory_mb() -> tuple[float, float]:
    """(VmRSS, VmHWM) of this process in MB."""
    fields = {}
    for line in Path("/proc/self/status").read_text().splitlines():
        key, _, value = line.partition(":")
        if key in ("VmRSS", "VmHWM"):
            fields[key] = int(value.split()[0]) / 1024
    return fields["VmRSS"], fields["VmHWM"]


class StepMeter:
    """One row a step of a run in this process: the RSS and the peak RSS so far after it, and the CPU seconds it
    took (since the meter was made or the step before). ``rounded``: MB to 0.1, seconds to 0.01."""

    def __init__(self, *, rounded: bool = False) -> None:
        self.rounded = rounded
        self.steps: list[dict[str, Any]] = []
        self._cpu = time.process_time()

    def step(self, name: str) -> None:
        rss, peak = memory_mb()
        now = time.process_time()
        cpu_s = now - self._cpu
        if self.rounded:
            rss, peak, cpu_s = round(rss, 1), round(peak, 1), round(cpu_s, 2)
        self.steps.append({"step": name, "rss_mb": rss, "peak_mb": peak, "cpu_s": cpu_s})
        self._cpu = now
