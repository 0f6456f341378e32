"""The apply lock: one holder at a time, expiry, takeover, heartbeat and breaking."""

from __future__ import annotations

import asyncio

import pytest

from reconciler.apply.journal import Journal
from reconciler.apply.lock import ApplyLock
from reconciler.errors import RefusedError


class Clock:
    def __init__(self) -> None:
        self.now = 1_000_000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


def lock(location: str, clock: Clock) -> ApplyLock:
    """A lock over its own connection to the journal, as another process would have."""
    return ApplyLock(Journal(location).db, lease_seconds=60, clock=clock)


def events(location: str) -> list[tuple[object, ...]]:
    return Journal(location).db.execute("SELECT event, holder, by, reason FROM lock_events ORDER BY id")


def test_a_second_holder_is_refused_while_the_lease_is_live(journal_location: str, clock: Clock) -> None:
    first, second = lock(journal_location, clock), lock(journal_location, clock)
    assert first.try_acquire("runner-a") is None
    blocker = second.try_acquire("runner-b")
    assert blocker is not None and blocker.holder == "runner-a"


def test_an_expired_lease_is_taken_over_and_recorded(journal_location: str, clock: Clock) -> None:
    first, second = lock(journal_location, clock), lock(journal_location, clock)
    assert first.try_acquire("dead-runner") is None
    clock.now += 61
    assert second.try_acquire("runner-b") is None
    assert second.current() is not None and second.current().holder == "runner-b"  # type: ignore[union-attr]
    assert events(journal_location) == [("expired-taken-over", "dead-runner", "runner-b", None)]


def test_renewing_keeps_the_lease_alive(journal_location: str, clock: Clock) -> None:
    first, second = lock(journal_location, clock), lock(journal_location, clock)
    first.try_acquire("runner-a")
    clock.now += 50
    first.confirm("runner-a")
    clock.now += 50
    assert second.try_acquire("runner-b") is not None


def test_a_holder_whose_lease_was_broken_stops(journal_location: str, clock: Clock) -> None:
    first, operator = lock(journal_location, clock), lock(journal_location, clock)
    first.try_acquire("runner-a")
    broken = operator.break_lock("alice", "runner-a was killed")
    assert broken is not None and broken.holder == "runner-a"
    with pytest.raises(RefusedError, match="broken or taken over"):
        first.confirm("runner-a")
    assert events(journal_location) == [("broken", "runner-a", "alice", "runner-a was killed")]


def test_held_releases_on_exit_and_refuses_after_timeout(journal_location: str, clock: Clock) -> None:
    first, second = lock(journal_location, clock), lock(journal_location, clock)

    async def scenario() -> None:
        async with first.held("runner-a"):
            with pytest.raises(RefusedError, match="runner-a"):
                async with second.held("runner-b", timeout=0):
                    pass
        async with second.held("runner-b"):
            assert second.current() is not None

    asyncio.run(scenario())
    assert first.current() is None
