"""A simulated vendor that throttles by rate, as the sandbox's ``throttle-rpm`` fault does: at most ``calls`` in any
``window_s`` seconds, the rest refused with a ThrottledError saying when the window admits a call again. The limit
may change mid-run (``changes``: from each time on, that many calls a window)."""

from __future__ import annotations

import asyncio
import math
from collections import deque
from collections.abc import Callable, Sequence

from reconciler.errors import ThrottledError


class SlidingWindowServer:
    """Answers after ``latency_s``; counts what it accepted and refused, and the most calls in flight at once."""

    def __init__(
        self,
        calls: int,
        window_s: float,
        *,
        latency_s: float,
        clock: Callable[[], float],
        retry_after: bool = True,
        whole_seconds: bool = False,
        changes: Sequence[tuple[float, int]] = (),
    ) -> None:
        self.calls = calls
        self._changes = sorted(changes)
        self.window_s = window_s
        self.latency_s = latency_s
        self.retry_after = retry_after
        self.whole_seconds = whole_seconds  # Retry-After in whole seconds, rounded up (as msads's header)
        self._clock = clock
        self._log: deque[float] = deque()
        self.accepted = 0
        self.throttled = 0
        self.in_flight = 0
        self.peak_in_flight = 0
        self.accepted_at: list[float] = []
        self.throttled_at: list[float] = []

    async def call(self) -> None:
        self.in_flight += 1
        self.peak_in_flight = max(self.peak_in_flight, self.in_flight)
        try:
            now = self._clock()
            while self._changes and self._changes[0][0] <= now:
                self.calls = self._changes.pop(0)[1]
            while self._log and self._log[0] <= now - self.window_s:
                self._log.popleft()
            if len(self._log) >= self.calls:
                self.throttled += 1
                self.throttled_at.append(now)
                wait = self._log[len(self._log) - self.calls] + self.window_s - now  # enough expired
                wait = math.ceil(wait) if self.whole_seconds else wait
                await asyncio.sleep(self.latency_s)
                raise ThrottledError("throttled", retry_after=wait if self.retry_after else None)
            self._log.append(now)
            self.accepted += 1
            self.accepted_at.append(now)
            await asyncio.sleep(self.latency_s)
        finally:
            self.in_flight -= 1

    @property
    def allowed_rate(self) -> float:
        return self.calls / self.window_s

    def accepted_between(self, start: float, end: float) -> float:
        """Calls accepted a second from ``start`` to ``end``."""
        return sum(1 for t in self.accepted_at if start <= t < end) / (end - start)
