"""Adaptive pacing of one provider's calls: against a vendor whose limits are undocumented, the calls in flight and
the request rate find their own level, never above the configured ``concurrency`` and ``requestsPerSecond``.

- Calls in flight follow TCP congestion control: a window of one call, grown by one per success (slow start) up
  to a threshold, then by one per window of successes (additive increase); a throttle takes a quarter off it
  (multiplicative decrease). The window only grows while the calls use at least half of it.
- The request rate is unlimited until the first throttle. A throttle sets a ceiling, the rate at which it came,
  and holds the rate at ``HOLD`` of it:
  - a throttle met by a probe (below): the ceiling is halfway between the rate before the probe's last step and
    the rate accepted over the last ``HORIZON_MIN_S`` (paused time not counted), if that is lower: a vendor's
    window makes its throttle lag the step that passed its limit, and the recent rate spans the steps before;
  - any other (the first one, or one while the rate held): the rate the vendor accepted, if lower than the rate in
    force. That is the calls it accepted since the rate in force took effect (the end of the pause of the last
    decrease; at least the last ``HORIZON_MIN_S``, at most ``HORIZON_MAX_S``), over that time plus the pause this
    throttle announces: the burst a sliding window admits at first is spread over the pause that follows it, and
    a limit that dropped shows in the pauses its throttles impose.
- After a quiet time without a throttle the rate probes above the ceiling, one step every ``PROBE_STEP_S``
  (``PROBE_GAIN``, then twice that, three times ...: gently first, then fast enough to find a limit that rose),
  a step only while the calls used the rate in force since the last one (paused time not counted). The quiet
  time is ``PROBE_SOON_S`` after a ceiling measured (roughly: over a burst, or rounded pauses), and
  ``PROBE_AFTER_MIN_S`` after one a probe met, doubled by each further one up to ``PROBE_AFTER_MAX_S``.
- One throttle episode decreases once: throttles of the calls that were already in flight when the limiter
  backed off do not back it off again (as TCP's fast recovery does).
- A throttle that says when to retry (Retry-After; at most ``MAX_PAUSE_S`` is honoured here) pauses every new call
  of the provider until then, not only the throttled one.

Only pacing changes: nothing is retried or dropped here (the caller decides, reconciler.providers.http), so a
throttled issuing call stays one the vendor proved it did not process.
"""

from __future__ import annotations

import asyncio
import math
import time
from collections import deque
from collections.abc import Awaitable, Callable
from types import TracebackType

from reconciler.errors import ThrottledError

Sleep = Callable[[float], Awaitable[None]]
Clock = Callable[[], float]

CONCURRENCY_BETA = 0.75  # the window after a throttle, as a share of the window before it (the rate backs off too)
HOLD = 0.97  # the rate after a throttle, as a share of the ceiling (the rate at which the vendor throttled)
PROBE_SOON_S = 2.0  # the rate probes above a ceiling it measured (roughly) after this long without a throttle ...
PROBE_AFTER_MIN_S = 15.0  # ... above one a probe met after this long, doubled by each further throttle a probe
PROBE_AFTER_MAX_S = 60.0  # met, up to this
PROBE_STEP_S = 2.0  # a probe steps up every this long ...
PROBE_GAIN = 0.02  # ... its n-th step n times this much
PROBE_USE = 0.8  # a step is taken only if the calls used this share of the rate in force since the last one
MIN_RATE = 0.1  # calls a second: the adaptive rate never goes below this
MAX_PAUSE_S = 120.0  # the longest Retry-After that pauses every call (a longer one fails its own call)
HORIZON_MIN_S = 10.0  # the vendor's rate is measured over at least this long (or since the first call) ...
HORIZON_MAX_S = 120.0  # ... and at most this long (otherwise since the rate in force took effect)
RATE_BUCKET_S = 0.5  # successes are counted in buckets of this length


class AdaptiveLimiter:
    """``async with limiter:`` around one request: a slot of the adaptive window, then the pace of the adaptive
    rate (and of a configured ``requests_per_second``, 0 for none, with bursts of ``concurrency``).

    Leaving the block with a ThrottledError counts as a throttle (its ``retry_after`` honoured), leaving it
    normally as a success; any other exception releases the slot and teaches nothing.
    """

    def __init__(
        self,
        concurrency: int,
        requests_per_second: float = 0.0,
        *,
        clock: Clock = time.monotonic,
        sleep: Sleep = asyncio.sleep,
    ) -> None:
        self._cap = max(1, concurrency)
        self._max_rate = requests_per_second if requests_per_second > 0 else math.inf
        self._clock = clock
        self._sleep = sleep
        # the window of calls in flight
        self._window = 1.0
        self._threshold = float(self._cap)
        self._in_flight = 0
        self._waiters: deque[asyncio.Future[None]] = deque()
        # one decrease per throttle episode: throttles before ``_recover`` completions belong to the last one
        self._completed = 0
        self._started = math.inf  # when the first call was admitted
        self._successes: deque[list[float]] = deque()  # [bucket start, successes in it], the last HORIZON_MAX_S
        self._recover = 0
        # the rate: None until the first throttle
        self._rate: float | None = None
        self._ceiling = 0.0
        self._decreased_at = -math.inf
        self._rate_start = -math.inf  # when the rate in force took effect: the end of the pause of its decrease
        self._probe_at = math.inf  # when the rate may next step up
        self._probe_steps = 0  # steps taken since the last decrease
        self._stepped_from = 0.0  # the rate before the last step
        self._quiet = PROBE_SOON_S  # how long the rate holds after a decrease before it probes
        self._admitted = 0  # calls admitted since ``_counted_since``: the last step (or decrease)
        self._counted_since = -math.inf
        self._pause_until = -math.inf
        self._pauses: deque[tuple[float, float]] = deque()  # (start, end) of the pauses, the last HORIZON_MAX_S
        self._due = -math.inf  # when the next call is due at the rate in force (bursts may start it earlier)
        self._pace_lock = asyncio.Lock()

    @property
    def window(self) -> int:
        """How many calls may be in flight now (at most ``concurrency``: the window never grows above it)."""
        return max(1, int(self._window))

    @property
    def rate(self) -> float:
        """Calls a second the limiter admits now (``inf`` when unlimited)."""
        return min(self._max_rate, math.inf if self._rate is None else self._rate)

    async def __aenter__(self) -> None:
        await self._take_slot()
        try:
            await self._pace()
        except BaseException:
            self._release()
            raise

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._completed += 1
        if exc is None:
            self._succeeded()
        elif isinstance(exc, ThrottledError):
            self._throttled(exc.retry_after)
        self._release()

    # --- the window -----------------------------------------------------------------------------------

    async def _take_slot(self) -> None:
        if not self._waiters and self._in_flight < self.window:
            self._in_flight += 1
            return
        waiter = asyncio.get_running_loop().create_future()
        self._waiters.append(waiter)
        try:
            await waiter
        except asyncio.CancelledError:
            if waiter.done() and not waiter.cancelled():
                self._release()  # the slot was handed over as the wait was cancelled: give it on
            raise  # (a cancelled waiter still queued is skipped by _release)

    def _release(self) -> None:
        self._in_flight -= 1
        while self._waiters and self._in_flight < self.window:
            waiter = self._waiters.popleft()
            if not waiter.done():
                self._in_flight += 1
                waiter.set_result(None)

    def _succeeded(self) -> None:
        now = self._clock()
        self._count_success(now)
        if self._in_flight * 2 >= self._window:  # grow only a window the calls use
            self._window += 1.0 if self._window < self._threshold else 1.0 / self._window
            self._window = min(self._window, float(self._cap))
        if now >= self._probe_at:
            self._probe(now)

    def _throttled(self, retry_after: float | None) -> None:
        now = self._clock()
        pause = 0.0
        if retry_after is not None and retry_after > 0:
            pause = min(retry_after, MAX_PAUSE_S)
            until = now + pause
            if until > self._pause_until:
                start = max(now, self._pause_until)
                self._pauses.append((start, until))
                while self._pauses[0][1] < now - HORIZON_MAX_S:
                    self._pauses.popleft()
                self._pause_until = until
        if self._completed <= self._recover:
            return  # a call already in flight when the limiter last backed off
        self._recover = self._completed + self._in_flight - 1
        self._threshold = max(1.0, min(self._window, float(self._cap)) * CONCURRENCY_BETA)
        self._window = self._threshold
        accepted = self._accepted_rate(now, pause)
        at = accepted if self._rate is None else min(self._rate, accepted)
        if self._probe_steps:  # a probe met the ceiling: below the rate before its last step, probe less often
            self._ceiling = min(self._stepped_from, (self._stepped_from + self._recent_rate(now)) / 2)
            self._quiet = min(max(self._quiet * 2, PROBE_AFTER_MIN_S), PROBE_AFTER_MAX_S)
        else:  # the first throttle, or one at or under the ceiling: the rate the vendor accepted, roughly
            self._ceiling = at
            self._quiet = PROBE_SOON_S
        self._ceiling = max(MIN_RATE, min(self._ceiling, self._max_rate))
        self._rate = max(MIN_RATE, self._ceiling * HOLD)
        self._decreased_at = now
        self._rate_start = max(now, self._pause_until)
        self._probe_at = max(now, self._pause_until) + self._quiet
        self._probe_steps = 0
        self._admitted = 0
        self._counted_since = now

    # --- the rate -------------------------------------------------------------------------------------

    def _probe(self, now: float) -> None:
        """One step above the rate in force, if the calls used it since the last step (minus the pauses)."""
        assert self._rate is not None
        unpaused = now - self._counted_since - self._paused(self._counted_since, now)
        self._probe_at = now + PROBE_STEP_S
        self._counted_since = now
        if self._admitted >= PROBE_USE * self._rate * unpaused:
            self._probe_steps += 1
            self._stepped_from = self._rate
            self._rate = min(self._rate * (1 + PROBE_GAIN * self._probe_steps), self._max_rate)
        self._admitted = 0

    async def _pace(self) -> None:
        """Wait out a pause, then the rate: a virtual schedule (GCRA) that lets ``burst`` calls start at once,
        one at the adaptive rate and ``concurrency`` at a configured ``requestsPerSecond``."""
        async with self._pace_lock:
            while True:
                now = self._clock()
                rate, burst = self._pace_now()
                start = self._due - (burst - 1) / rate if rate != math.inf else -math.inf
                wait = max(self._pause_until, start) - now
                if wait <= 0:
                    break
                await self._sleep(wait)
            if rate != math.inf:
                self._due = max(self._due, now) + 1 / rate
            if self._started == math.inf:
                self._started = now
            self._admitted += 1

    def _pace_now(self) -> tuple[float, int]:
        if self._rate is not None and self._rate < self._max_rate:
            return self._rate, 1
        return self._max_rate, self._cap

    def _count_success(self, now: float) -> None:
        bucket = math.floor(now / RATE_BUCKET_S) * RATE_BUCKET_S
        if self._successes and self._successes[-1][0] == bucket:
            self._successes[-1][1] += 1
            return
        self._successes.append([bucket, 1])
        while self._successes[0][0] < now - HORIZON_MAX_S:
            self._successes.popleft()

    def _paused(self, since: float, now: float) -> float:
        """Seconds of pauses between ``since`` and ``now``."""
        return sum(max(0.0, min(end, now) - max(start, since)) for start, end in self._pauses)

    def _recent_rate(self, now: float) -> float:
        """Successes a second over the last HORIZON_MIN_S, paused time not counted."""
        since = math.floor((now - HORIZON_MIN_S) / RATE_BUCKET_S) * RATE_BUCKET_S  # whole buckets
        accepted = sum(count for bucket, count in self._successes if bucket >= since)
        return accepted / max(now - since - self._paused(since, now), RATE_BUCKET_S)

    def _accepted_rate(self, now: float, pause: float) -> float:
        """Successes a second the vendor accepted at the rate in force: since its start (the end of the pause of the
        last decrease; at least the last HORIZON_MIN_S, at most HORIZON_MAX_S, at most since the first call), until
        the end of the ``pause`` this throttle announces. Pauses since its start count (the vendor's answer to
        it); pauses before it do not."""
        horizon = min(max(now - self._rate_start, HORIZON_MIN_S), HORIZON_MAX_S, now - self._started)
        since = math.floor((now - horizon) / RATE_BUCKET_S) * RATE_BUCKET_S  # whole buckets
        accepted = sum(count for bucket, count in self._successes if bucket >= since)
        span = now - since - self._paused(since, min(self._rate_start, now)) + pause
        return accepted / max(span, RATE_BUCKET_S)
