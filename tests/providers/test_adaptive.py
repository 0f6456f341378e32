"""The adaptive limiter, on virtual time: the calls in flight grow while calls succeed, back off on a throttle,
never exceed ``concurrency`` nor ``requestsPerSecond``, honour a Retry-After, and settle near a vendor's rate."""

from __future__ import annotations

import asyncio
import math
from collections.abc import Awaitable, Callable

import pytest

from reconciler.errors import OutcomeUnknownError, ThrottledError
from reconciler.providers.adaptive import AdaptiveLimiter
from tests.support import msads_fakes as ms
from tests.support.rate_server import SlidingWindowServer
from tests.support.virtual_time import run_virtual


def unlimited(clock: Callable[[], float], latency_s: float = 0.01) -> SlidingWindowServer:
    return SlidingWindowServer(10**9, 1.0, latency_s=latency_s, clock=clock)


async def drive(limiter: AdaptiveLimiter, call: Callable[[], Awaitable[None]], *, workers: int, until: float) -> None:
    """``workers`` tasks calling through ``limiter`` until virtual time ``until``; a throttled call waits out its
    Retry-After (or 1 s) and is tried again, as the providers' retry loop does."""
    loop = asyncio.get_running_loop()

    async def worker() -> None:
        while loop.time() < until:
            try:
                async with limiter:
                    await call()
            except ThrottledError as err:
                await asyncio.sleep(err.retry_after if err.retry_after is not None else 1.0)

    await asyncio.gather(*(worker() for _ in range(workers)))


def test_the_window_grows_on_success_up_to_concurrency_and_never_above() -> None:
    async def main() -> tuple[AdaptiveLimiter, SlidingWindowServer, list[int]]:
        loop = asyncio.get_running_loop()
        server = unlimited(loop.time)
        limiter = AdaptiveLimiter(6, clock=loop.time)
        windows = [limiter.window]

        async def call() -> None:
            await server.call()
            windows.append(limiter.window)

        await drive(limiter, call, workers=20, until=2.0)
        return limiter, server, windows

    (limiter, server, windows), _ = run_virtual(main())
    assert windows[0] == 1  # starts with one call in flight
    assert windows == sorted(windows)  # only grows while every call succeeds
    assert limiter.window == 6
    assert server.peak_in_flight == 6


def test_a_throttle_shrinks_the_window_by_a_quarter_once_per_episode() -> None:
    async def main() -> list[int]:
        loop = asyncio.get_running_loop()
        server = unlimited(loop.time)
        limiter = AdaptiveLimiter(8, clock=loop.time)
        await drive(limiter, server.call, workers=8, until=1.0)
        seen = [limiter.window]

        async def throttled() -> None:
            async with limiter:
                await asyncio.sleep(0.01)
                raise ThrottledError("throttled")

        # eight calls in flight together are throttled: one episode, one decrease
        await asyncio.gather(*(throttled() for _ in range(8)), return_exceptions=True)
        seen.append(limiter.window)
        await asyncio.gather(throttled(), return_exceptions=True)  # a call sent after the decrease: a new episode
        seen.append(limiter.window)
        return seen

    seen, _ = run_virtual(main())
    assert seen == [8, 6, 4]  # 8 * 0.75, then 6 * 0.75 = 4.5 calls


def test_other_failures_neither_grow_nor_shrink_the_window() -> None:
    async def main() -> tuple[int, int, float]:
        loop = asyncio.get_running_loop()
        limiter = AdaptiveLimiter(8, clock=loop.time)
        for _ in range(3):
            async with limiter:
                pass
        before = limiter.window
        for _ in range(5):
            with pytest.raises(OutcomeUnknownError):
                async with limiter:
                    raise OutcomeUnknownError("500")
        return before, limiter.window, limiter.rate

    (before, after, rate), _ = run_virtual(main())
    assert before == after == 3  # 1, then 2, then 3: a window grows while the calls use half of it
    assert rate == math.inf  # no throttle yet: no rate limit learned


def test_a_configured_rate_is_never_exceeded_even_unthrottled() -> None:
    async def main() -> SlidingWindowServer:
        loop = asyncio.get_running_loop()
        server = unlimited(loop.time, latency_s=0.001)
        limiter = AdaptiveLimiter(8, 5.0, clock=loop.time)
        await drive(limiter, server.call, workers=16, until=20.0)
        return server

    server, _ = run_virtual(main())
    starts = [t for t in server.accepted_at if t < 20.0]  # workers still queued at the end start later
    # a burst of concurrency (8), then 5 a second: in any 2 s at most 8 + 5 * 2 calls, and 5 a second on average
    assert all(sum(1 for t in starts if s <= t < s + 2.0) <= 18 for s in starts)
    assert 5 * 20 <= len(starts) <= 5 * 20 + 8


def test_a_learned_rate_stays_under_a_configured_rate() -> None:
    async def main() -> tuple[SlidingWindowServer, float]:
        loop = asyncio.get_running_loop()
        server = SlidingWindowServer(40, 1.0, latency_s=0.005, clock=loop.time)  # allows 40 a second
        limiter = AdaptiveLimiter(8, 10.0, clock=loop.time)
        await drive(limiter, server.call, workers=16, until=30.0)
        return server, limiter.rate

    (server, rate), _ = run_virtual(main())
    assert server.throttled == 0
    assert rate <= 10.0
    assert len([t for t in server.accepted_at if t < 30.0]) <= 10 * 30 + 8


def test_a_retry_after_pauses_every_call_until_then() -> None:
    async def main() -> tuple[list[float], float]:
        loop = asyncio.get_running_loop()
        server = unlimited(loop.time, latency_s=0.01)
        limiter = AdaptiveLimiter(4, clock=loop.time)
        await drive(limiter, server.call, workers=4, until=1.0)
        throttled_at = loop.time()
        with pytest.raises(ThrottledError):
            async with limiter:
                raise ThrottledError("throttled", retry_after=3.0)
        server.accepted_at.clear()
        await drive(limiter, server.call, workers=4, until=throttled_at + 5.0)
        return server.accepted_at, throttled_at

    (starts, throttled_at), _ = run_virtual(main())
    assert starts and min(starts) >= throttled_at + 3.0


def test_a_pause_lasts_at_most_two_minutes() -> None:
    """A longer Retry-After fails its own call (the retry policy's maxRetryAfterSeconds); the others wait 120 s."""

    async def main() -> float:
        loop = asyncio.get_running_loop()
        limiter = AdaptiveLimiter(4, clock=loop.time)
        with pytest.raises(ThrottledError):
            async with limiter:
                raise ThrottledError("throttled", retry_after=3600.0)
        async with limiter:
            return loop.time()

    started, _ = run_virtual(main())
    assert started == pytest.approx(120.0)


@pytest.mark.parametrize(
    ("calls", "window_s", "latency_s", "retry_after", "whole_seconds"),
    [
        (100, 5.0, 0.005, True, False),  # 20 a second in 5 s windows, the wait announced exactly
        (100, 5.0, 0.02, True, True),  # ... in whole seconds, rounded up (as msads's Retry-After): longer pauses
        (300, 10.0, 0.05, True, False),  # 30 a second, slower calls
        (40, 1.0, 0.005, False, False),  # 40 a second, no Retry-After: only the rate learns
    ],
)
def test_it_converges_near_a_vendors_rate_with_few_throttles(
    calls: int, window_s: float, latency_s: float, retry_after: bool, whole_seconds: bool
) -> None:
    seconds = 120.0

    async def main() -> SlidingWindowServer:
        loop = asyncio.get_running_loop()
        server = SlidingWindowServer(
            calls, window_s, latency_s=latency_s, clock=loop.time, retry_after=retry_after, whole_seconds=whole_seconds
        )
        limiter = AdaptiveLimiter(8, clock=loop.time)
        await drive(limiter, server.call, workers=16, until=seconds)
        return server

    server, _ = run_virtual(main())
    achieved = sum(1 for t in server.accepted_at if t < seconds) / seconds
    assert achieved >= 0.9 * server.allowed_rate
    assert server.throttled < 0.02 * (server.accepted + server.throttled)


def test_a_cancelled_waiter_gives_no_slot_away() -> None:
    """Cancelled while queued, or just as the slot was handed to it: either way the slot is not lost."""

    async def main() -> tuple[int, int]:
        loop = asyncio.get_running_loop()
        limiter = AdaptiveLimiter(1, clock=loop.time)
        release = asyncio.Event()
        waiters: list[asyncio.Task[None]] = []

        async def hold() -> None:
            async with limiter:
                await release.wait()

        async def hold_then_cancel_the_next() -> None:
            await hold()
            waiters[1].cancel()  # its slot was just handed over: it is cancelled before it resumes

        holder = asyncio.create_task(hold_then_cancel_the_next())
        await asyncio.sleep(0)
        waiters += [asyncio.create_task(hold()), asyncio.create_task(hold())]
        await asyncio.sleep(0)
        waiters[0].cancel()  # still queued
        await asyncio.gather(waiters[0], return_exceptions=True)
        release.set()
        await holder
        await asyncio.gather(*waiters, return_exceptions=True)
        in_flight = limiter._in_flight
        async with limiter:
            inside = limiter._in_flight
        return in_flight, inside

    (in_flight, inside), _ = run_virtual(main())
    assert (in_flight, inside) == (0, 1)


def test_a_providers_throttle_answer_reaches_its_limiter() -> None:
    """The provider classifies the vendor's answer inside the limiter: a 429 teaches it a rate."""
    provider = ms.make_provider(
        ms.Script(ms.fault("AdApiFaultDetail", 117, 429, Retry_After="3"), ms.reply({"Coupons": []}))
    )
    limiter = provider._limiter
    assert isinstance(limiter, AdaptiveLimiter)
    assert limiter.rate == math.inf

    async def run() -> None:
        try:
            await provider.read_scope(ms.SPEC)
        finally:
            await provider.aclose()

    asyncio.run(run())
    assert limiter.rate < math.inf


def run_against(
    server: Callable[[Callable[[], float]], SlidingWindowServer], *, seconds: float, concurrency: int = 8
) -> tuple[SlidingWindowServer, AdaptiveLimiter, dict[float, float]]:
    """16 workers calling the server ``server(clock)`` makes through a limiter for ``seconds``; the server, the
    limiter, and the rate the limiter set at each throttle episode, by the time it backed off."""

    async def main() -> tuple[SlidingWindowServer, AdaptiveLimiter, dict[float, float]]:
        loop = asyncio.get_running_loop()
        vendor = server(loop.time)
        limiter = AdaptiveLimiter(concurrency, clock=loop.time)
        episodes: dict[float, float] = {}

        async def call() -> None:
            try:
                await vendor.call()
            finally:
                if limiter._decreased_at not in episodes and limiter._decreased_at > -math.inf:
                    episodes[limiter._decreased_at] = limiter.rate

        await drive(limiter, call, workers=16, until=seconds)
        return vendor, limiter, episodes

    result, _ = run_virtual(main())
    return result


def sliding(
    calls: int, window_s: float = 5.0, changes: tuple[tuple[float, int], ...] = ()
) -> Callable[[Callable[[], float]], SlidingWindowServer]:
    """msads as the sandbox's throttle-rpm fault: Retry-After in whole seconds, 20 ms a call."""
    return lambda clock: SlidingWindowServer(
        calls, window_s, latency_s=0.02, clock=clock, whole_seconds=True, changes=changes
    )


def test_the_burst_a_sliding_window_admits_first_is_not_taken_for_its_rate() -> None:
    """100 calls in 5 s are accepted in the first 0.3 s: the rate learned spans the 5 s pause announced, not 0.3 s."""
    server, limiter, episodes = run_against(sliding(100), seconds=1.0)
    assert len(episodes) == 1
    assert 0.8 * server.allowed_rate <= limiter.rate <= server.allowed_rate


def test_it_holds_under_the_ceiling_and_probes_above_it_rarely() -> None:
    server, _, episodes = run_against(sliding(100), seconds=600.0)
    times = sorted(episodes)
    assert all(rate < server.allowed_rate for rate in episodes.values())  # each throttle: back under the limit
    assert all(b - a >= 60.0 for a, b in zip(times[-4:-1], times[-3:], strict=True))  # probes once a minute at most
    assert server.accepted_between(0.0, 600.0) >= 0.94 * server.allowed_rate
    assert server.throttled < 0.01 * (server.accepted + server.throttled)


def test_it_adapts_down_when_the_vendors_limit_drops() -> None:
    server, _, episodes = run_against(sliding(100, changes=((60.0, 50),)), seconds=180.0)  # 20 a second, then 10
    assert 0.9 * 10 <= server.accepted_between(90.0, 180.0) <= 10
    late = [t for t in server.throttled_at if t >= 90.0]
    assert len(late) < 0.01 * server.accepted_between(90.0, 180.0) * 90
    assert all(rate < 10 * 1.05 for t, rate in episodes.items() if t >= 90.0)  # a probe may pass it a little


def test_it_adapts_up_when_the_vendors_limit_rises() -> None:
    server, _, _ = run_against(sliding(100, changes=((60.0, 200),)), seconds=300.0)  # 20 a second, then 40
    assert server.accepted_between(200.0, 300.0) >= 0.9 * 40


def test_it_probes_only_while_the_calls_use_the_rate() -> None:
    """A caller that uses 2 calls a second of the 20 learned does not raise the rate: nothing would test it."""

    async def main() -> tuple[float, float]:
        loop = asyncio.get_running_loop()
        server = sliding(100)(loop.time)
        limiter = AdaptiveLimiter(8, clock=loop.time)
        await drive(limiter, server.call, workers=16, until=1.0)  # the first throttle: a rate of about 20
        learned = limiter.rate

        async def slow() -> None:
            await server.call()
            await asyncio.sleep(0.5)

        await drive(limiter, slow, workers=1, until=600.0)
        return learned, limiter.rate

    (learned, rate), _ = run_virtual(main())
    assert learned < 20
    assert rate == learned


def test_a_pause_is_not_counted_as_calls_leaving_the_rate_unused() -> None:
    """After a 60 s Retry-After and the 2 s the rate then holds, the calls used the rate: its first probe steps up
    (within the 2 s before a second one), as if the pause had not been."""

    async def main() -> tuple[float, float]:
        loop = asyncio.get_running_loop()
        server = unlimited(loop.time, latency_s=0.02)
        limiter = AdaptiveLimiter(8, clock=loop.time)
        await drive(limiter, server.call, workers=16, until=10.0)
        with pytest.raises(ThrottledError):
            async with limiter:
                raise ThrottledError("throttled", retry_after=60.0)
        learned = limiter.rate
        await drive(limiter, server.call, workers=16, until=10.0 + 60.0 + 2.0 + 1.0)
        return learned, limiter.rate

    (learned, rate), _ = run_virtual(main())
    assert rate > learned


def test_the_pause_before_a_rate_took_effect_is_not_taken_for_the_vendors_answer_to_it() -> None:
    """A throttle with an 8 s Retry-After, then 1.5 s of calls at the rate learned, then a throttle: the vendor
    accepted that rate for 1.5 s (less 3%), not 1.5 s of calls in the last 10 s."""

    async def main() -> tuple[float, float]:
        loop = asyncio.get_running_loop()
        server = unlimited(loop.time, latency_s=0.02)
        limiter = AdaptiveLimiter(1, clock=loop.time)
        await drive(limiter, server.call, workers=1, until=10.0)  # 50 a second
        with pytest.raises(ThrottledError):
            async with limiter:
                raise ThrottledError("throttled", retry_after=8.0)
        learned = limiter.rate
        await drive(limiter, server.call, workers=1, until=loop.time() + 8.0 + 1.5)  # before a probe
        with pytest.raises(ThrottledError):
            async with limiter:
                raise ThrottledError("throttled")
        return learned, limiter.rate

    (learned, rate), _ = run_virtual(main())
    assert rate >= 0.9 * learned


def test_a_throttle_holds_the_rate_just_under_the_rate_it_came_at() -> None:
    """One call at a time, 50 ms each (20 a second), then a throttle: the rate holds a few percent under 20."""

    async def main() -> float:
        loop = asyncio.get_running_loop()
        server = unlimited(loop.time, latency_s=0.05)
        limiter = AdaptiveLimiter(1, clock=loop.time)
        await drive(limiter, server.call, workers=1, until=20.0)
        with pytest.raises(ThrottledError):
            async with limiter:
                raise ThrottledError("throttled")
        return limiter.rate

    rate, _ = run_virtual(main())
    assert 0.95 * 20 <= rate <= 0.98 * 20
