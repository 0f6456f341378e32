"""An asyncio event loop on virtual time: whenever every task waits on a timer, the clock jumps to the earliest
one instead of sleeping, so that ``asyncio.sleep`` and ``loop.time()`` are exact and no test waits on wall time."""

from __future__ import annotations

import asyncio
import selectors
from collections.abc import Coroutine
from typing import Any, TypeVar

T = TypeVar("T")


class _Selector(selectors.DefaultSelector):
    def __init__(self) -> None:
        super().__init__()
        self.loop: VirtualTimeLoop | None = None

    def select(self, timeout: float | None = None) -> list[tuple[selectors.SelectorKey, int]]:
        events = super().select(0)
        if events or timeout is None or timeout <= 0:
            if timeout is None and not events:
                raise RuntimeError("virtual time: every task waits and no timer is set (a deadlock)")
            return events
        assert self.loop is not None
        self.loop.now += timeout
        return []


class VirtualTimeLoop(asyncio.SelectorEventLoop):
    """``loop.time()`` starts at 0 and moves only when every task waits on a timer."""

    def __init__(self) -> None:
        selector = _Selector()
        super().__init__(selector)
        selector.loop = self
        self.now = 0.0

    def time(self) -> float:
        return self.now


def run_virtual(main: Coroutine[Any, Any, T]) -> tuple[T, float]:
    """Run ``main`` on virtual time; its result and the virtual seconds it took."""
    loop = VirtualTimeLoop()
    try:
        result = loop.run_until_complete(main)
        return result, loop.now
    finally:
        loop.close()


class SteppedTime:
    """A clock that moves only when slept on, the sleep returning at once: the time of a limiter whose pauses a
    test does not wait for (a provider's own retry waits are recorded apart)."""

    def __init__(self) -> None:
        self.now = 0.0
        self.sleeps: list[float] = []

    def clock(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds
