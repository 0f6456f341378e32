"""A lease per scope: disjoint scope sets are held at once, overlapping ones exclude each other, all of a set is
taken at once or none (no deadlock), the whole journal's lease excludes every scope's, and every rule of a lease
(fencing, breaking) holds per scope."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator

import pytest

from reconciler.apply.journal import Journal
from reconciler.apply.lock import LOCK_NAME, ApplyLock, Lease, LeaseLostError

S1, S2, S3 = "msads-local/251186883/SPRING27-ACQ-100", "msads-local/251186883/WINBACK27-RET-50", "aliyun/1/2"


class Clock:
    def __init__(self) -> None:
        self.now = 1_000_000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def journals(journal_location: str) -> Iterator[list[Journal]]:
    opened: list[Journal] = []
    yield opened
    for journal in opened:
        journal.close()


MakeLock = Callable[..., ApplyLock]


@pytest.fixture
def lock(journal_location: str, clock: Clock, journals: list[Journal]) -> MakeLock:
    def make(*names: str) -> ApplyLock:
        """A lock over its own connection to the journal, as another runner would have."""
        journal = Journal(journal_location)
        journals.append(journal)
        return ApplyLock(journal.db, lease_seconds=60, clock=clock, names=names or (LOCK_NAME,))

    return make


def test_disjoint_scope_sets_are_held_at_once_each_with_its_generation(lock: MakeLock) -> None:
    a, b = lock(S1), lock(S2, S3)
    assert a.try_acquire("runner-a") is None
    assert b.try_acquire("runner-b") is None
    assert a.generations == {S1: 1} and b.generations == {S2: 1, S3: 1}
    holders = {lease.name: lease.holder for lease in a.leases()}
    assert holders == {S1: "runner-a", S2: "runner-b", S3: "runner-b"}


def test_an_overlapping_set_is_refused_naming_the_scope_and_takes_nothing(lock: MakeLock) -> None:
    a, b, c = lock(S1), lock(S1, S2), lock(S2)
    assert a.try_acquire("runner-a") is None
    blocker = b.try_acquire("runner-b")
    assert blocker is not None and blocker.holder == "runner-a" and blocker.name == S1
    assert c.try_acquire("runner-c") is None  # runner-b took none of its set: S2 was free
    assert {lease.name for lease in a.leases()} == {S1, S2}


def test_the_whole_journal_s_lease_and_scope_leases_exclude_each_other(lock: MakeLock) -> None:
    scopes, whole = lock(S1), lock()
    assert scopes.try_acquire("runner-a") is None
    blocker = whole.try_acquire("sandbox reseed")
    assert blocker is not None and blocker.name == S1
    scopes.release("runner-a")
    assert whole.try_acquire("sandbox reseed") is None
    blocker = lock(S3).try_acquire("runner-b")
    assert blocker is not None and blocker.name == LOCK_NAME and blocker.holder == "sandbox reseed"


def test_sets_taken_in_any_order_never_deadlock(lock: MakeLock) -> None:
    a, b = lock(S1), lock(S2)
    c, d = lock(S1, S2), lock(S2, S1)
    done: list[str] = []

    async def apply(which: ApplyLock, holder: str) -> None:
        async with which.held(holder, timeout=10, poll=0.01):
            await asyncio.sleep(0.02)
            done.append(holder)

    async def scenario() -> None:
        assert a.try_acquire("runner-a") is None and b.try_acquire("runner-b") is None
        waiting = [asyncio.create_task(apply(c, "runner-c")), asyncio.create_task(apply(d, "runner-d"))]
        await asyncio.sleep(0.05)
        assert done == []  # both wait, holding nothing
        a.release("runner-a")
        await asyncio.sleep(0.05)
        assert done == []  # half of each set is free: still neither takes any
        b.release("runner-b")
        await asyncio.wait_for(asyncio.gather(*waiting), timeout=10)

    asyncio.run(scenario())
    assert sorted(done) == ["runner-c", "runner-d"]


def test_losing_any_of_its_scope_leases_stops_an_apply_s_fences(lock: MakeLock) -> None:
    mine, operator = lock(S1, S2), lock(S2)
    assert mine.try_acquire("runner-a") is None
    lease = Lease(mine, "runner-a")
    lease.fence(lambda now, generation: None, S1)
    broken = operator.break_leases("alice", "runner-a is stuck on S2")
    assert [b.name for b in broken] == [S2]  # only the scope asked for
    with pytest.raises(LeaseLostError):
        lease.fence(lambda now, generation: None, S1)
    assert {le.name for le in mine.leases()} == {S1}


def test_a_fence_names_the_generation_of_its_own_scope(lock: MakeLock) -> None:
    first = lock(S1)
    assert first.try_acquire("runner-a") is None
    first.release("runner-a")
    mine = lock(S1, S2)
    assert mine.try_acquire("runner-b") is None
    seen: list[int] = []
    lease = Lease(mine, "runner-b")
    for name in (S1, S2):
        lease.fence(lambda now, generation: seen.append(generation), name)
    assert seen == [2, 1]  # S1 was taken once before
