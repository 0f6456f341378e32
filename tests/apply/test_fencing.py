"""Fencing: lease generations, the conditional write before each issuing request, what a holder that lost its
lease can no longer do, a dead heartbeat noticed, and a takeover that waits out calls that may be in flight."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator, Sequence

import pytest

from reconciler.apply.executor import NOT_SENT, execute
from reconciler.apply.fencing import BatchFence, LeaseFencing
from reconciler.apply.journal import FAILED, ISSUED, PENDING, RESOLVED_NOT_ISSUED, Journal
from reconciler.apply.lock import ApplyLock, Lease, LeaseLostError, fence_bound
from reconciler.apply.resolve import ResolveSettings, resolve_in_doubt
from reconciler.errors import JournalError, RefusedError
from reconciler.plan.model import PlanItem
from reconciler.providers.base import NO_FENCE, Batch, BatchResult, Fence, ItemResult, Outcome
from reconciler.state.desired import ScopeSpec, Target
from reconciler.state.live import ScopeLive
from tests.support.diff_factories import SCOPE, desired
from tests.support.fake_provider import FakeProvider

A, B = Target.email("a@example.com"), Target.email("b@example.com")
LEASE = 60.0


class Clock:
    def __init__(self, now: float = 1_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def journal(journal_location: str, clock: Clock) -> Iterator[Journal]:
    opened = Journal(journal_location, clock=clock)
    yield opened
    opened.close()


def lock(journal_location: str, clock: Clock) -> ApplyLock:
    """A lock over its own connection to the journal, as another process would have."""
    return ApplyLock(Journal(journal_location).db, lease_seconds=LEASE, clock=clock)


def own_lock(journal: Journal, clock: Clock) -> ApplyLock:
    """The lock of the apply that writes ``journal``: fences commit in the journal's own transactions."""
    return ApplyLock(journal.db, lease_seconds=LEASE, clock=clock)


def intent(journal: Journal, *targets: Target) -> tuple[str, Batch]:
    run = journal.start_run("sum", "0.1", None, None)
    batch = Batch(SCOPE, "DispatchCoupons", tuple(PlanItem(t, "m") for t in targets))
    return journal.record_intent(run, batch, in_flight_seconds=10), batch


def stamps(journal: Journal, batch_id: str) -> list[tuple[object, ...]]:
    return journal.db.execute(
        "SELECT fenced_at, fence_generation, in_flight_until FROM items WHERE batch_id = ? ORDER BY id", (batch_id,)
    )


def test_every_acquisition_takes_a_new_generation_even_after_a_release(journal_location: str, clock: Clock) -> None:
    first, second = lock(journal_location, clock), lock(journal_location, clock)
    assert first.try_acquire("runner-a") is None
    assert first.generations == {"apply": 1}
    first.release("runner-a")
    assert second.try_acquire("runner-b") is None
    assert second.generations == {"apply": 2}
    clock.now += LEASE + 1
    assert first.try_acquire("runner-a") is None  # took over an expired lease
    assert first.generations == {"apply": 3}
    assert first.current() is not None and first.current().generation == 3  # type: ignore[union-attr]


def test_a_fence_names_the_generation_stamps_the_intents_and_extends_the_lease(
    journal: Journal, journal_location: str, clock: Clock
) -> None:
    holder = own_lock(journal, clock)
    holder.try_acquire("runner-a")
    batch_id, _ = intent(journal, A, B)
    assert stamps(journal, batch_id) == [(None, None, clock.now + 10)] * 2  # in flight if it left right away
    clock.now += 30
    holder.fence("runner-a", lambda now, generation: journal.mark_fenced(batch_id, now, generation, now + 7))
    assert stamps(journal, batch_id) == [(clock.now, 1, clock.now + 7)] * 2
    lease = holder.current()
    assert lease is not None and lease.expires_at == clock.now + LEASE


@pytest.mark.parametrize("how", ["taken over", "broken", "expired"])
def test_a_holder_that_lost_its_lease_cannot_fence_and_writes_nothing(
    journal: Journal, journal_location: str, clock: Clock, how: str
) -> None:
    first, other = own_lock(journal, clock), lock(journal_location, clock)
    first.try_acquire("runner-a")
    batch_id, _ = intent(journal, A)
    before = stamps(journal, batch_id)
    clock.now += LEASE + 1
    if how == "taken over":
        assert other.try_acquire("runner-b") is None
    elif how == "broken":
        clock.now -= 2  # still live when it is broken
        other.break_lock("alice", "paused")
    with pytest.raises(LeaseLostError, match="broken or taken over"):
        first.fence("runner-a", lambda now, generation: journal.mark_fenced(batch_id, now, generation, now))
    assert stamps(journal, batch_id) == before
    assert not first.renew("runner-a")


def test_resolutions_guarded_by_a_lost_lease_write_nothing(
    journal: Journal, journal_location: str, clock: Clock
) -> None:
    first, other = own_lock(journal, clock), lock(journal_location, clock)
    first.try_acquire("runner-a")
    _, _ = intent(journal, A)
    (item,) = journal.items()
    guard = Lease(first, "runner-a").guard
    assert journal.resolve([item.id], RESOLVED_NOT_ISSUED, by="t", reason="r", guard=guard) == 1
    _, _ = intent(journal, B)
    (pending,) = journal.items(states=(PENDING,))
    clock.now += LEASE + 1
    other.try_acquire("runner-b")
    with pytest.raises(LeaseLostError):
        journal.resolve([pending.id], RESOLVED_NOT_ISSUED, by="t", reason="r", guard=guard)
    assert [i.state for i in journal.items(states=(PENDING,))] == [PENDING]


class Monotonic:
    """A monotonic clock that moves ``step`` seconds at each reading."""

    def __init__(self, step: float) -> None:
        self.now = 0.0
        self.step = step

    def __call__(self) -> float:
        self.now += self.step
        return self.now


def held_lease(journal: Journal, clock: Clock) -> Lease:
    holder = own_lock(journal, clock)
    holder.try_acquire("runner-a")
    return Lease(holder, "runner-a")


def test_a_batch_fence_fences_again_once_the_bound_has_passed(
    journal: Journal, journal_location: str, clock: Clock
) -> None:
    lease = held_lease(journal, clock)
    batch_id, _ = intent(journal, A)
    monotonic = Monotonic(step=0.1)
    fence = BatchFence(lease, journal, batch_id, name="apply", in_flight_seconds=10, monotonic=monotonic)
    asyncio.run(fence())
    assert fence.fences == 1
    asyncio.run(fence.still_fresh())  # within the bound: no new write
    assert fence.fences == 1
    monotonic.now += fence_bound(LEASE) + 1
    asyncio.run(fence.still_fresh())
    assert fence.fences == 2


def test_a_fence_that_cannot_be_written_within_the_bound_refuses(
    journal: Journal, journal_location: str, clock: Clock
) -> None:
    lease = held_lease(journal, clock)
    batch_id, _ = intent(journal, A)
    slow = Monotonic(step=fence_bound(LEASE) + 0.5)  # each write seems to take longer than the bound
    fence = BatchFence(lease, journal, batch_id, name="apply", in_flight_seconds=10, monotonic=slow)
    with pytest.raises(LeaseLostError, match="longer than the fence bound"):
        asyncio.run(fence())
    with pytest.raises(LeaseLostError):
        lease.check()


def test_a_dead_heartbeat_is_noticed(journal_location: str, clock: Clock) -> None:
    holder = ApplyLock(Journal(journal_location).db, lease_seconds=0.06, clock=clock)

    def broken(holder: str) -> bool:
        raise RuntimeError("bug")

    async def scenario() -> None:
        async with holder.held("runner-a") as lease:
            lease.check()
            holder.renew = broken  # type: ignore[method-assign]
            await asyncio.sleep(0.1)
            with pytest.raises(LeaseLostError, match="heartbeat died"):
                lease.check()

    asyncio.run(scenario())


def test_a_heartbeat_whose_journal_failed_stops_the_apply_with_the_journal_s_error(
    journal_location: str, clock: Clock
) -> None:
    holder = ApplyLock(Journal(journal_location).db, lease_seconds=0.06, clock=clock)

    def dead(holder: str) -> bool:
        raise JournalError("the journal x failed: connection lost")

    async def scenario() -> None:
        async with holder.held("runner-a") as lease:
            holder.renew = dead  # type: ignore[method-assign]
            await asyncio.sleep(0.1)
            with pytest.raises(JournalError, match="connection lost"):
                lease.check()

    asyncio.run(scenario())


class TakenOverMidRun:
    """Issues through the fence; another runner takes the lease over during its ``take_over_at``-th call."""

    name = "msads-local"
    type = "msads"

    def __init__(self, other: ApplyLock, clock: Clock, take_over_at: int) -> None:
        self.other, self.clock, self.take_over_at = other, clock, take_over_at
        self.sent: list[Batch] = []

    async def read_scope(self, spec: ScopeSpec) -> ScopeLive:
        raise AssertionError("the executor never reads")

    def batches(self, spec: ScopeSpec, items: Sequence[PlanItem]) -> list[Batch]:
        raise AssertionError("the executor is given its batches")

    async def issue(self, spec: ScopeSpec, batch: Batch, fence: Fence = NO_FENCE) -> BatchResult:
        if len(self.sent) + 1 == self.take_over_at:
            self.clock.now += LEASE + 1  # paused past its lease, then another runner takes it
            assert self.other.try_acquire("runner-b") is None
        await fence()
        self.sent.append(batch)
        return BatchResult(batch, tuple(ItemResult(i, Outcome.ISSUED) for i in batch.items), "T")

    async def aclose(self) -> None:
        pass


def test_an_apply_whose_lease_is_taken_over_sends_nothing_more_and_records_what_it_did_not_send(
    journal: Journal, journal_location: str, clock: Clock
) -> None:
    lease = held_lease(journal, clock)
    provider = TakenOverMidRun(lock(journal_location, clock), clock, take_over_at=3)
    targets = [Target.email(f"u{n}@example.com") for n in range(6)]
    batches = [Batch(SCOPE, "DispatchCoupons", (PlanItem(t, "m"),)) for t in targets]
    run_id = journal.start_run("sum", "0.1", None, None)
    fencing = LeaseFencing(lease, journal, {"msads-local": 5.0})
    execution = asyncio.run(
        execute(run_id, batches, desired(targets), {"msads-local": provider}, journal, fencing=fencing)
    )
    assert len(provider.sent) == 2  # the third call's fence was refused: nothing after the takeover left
    assert execution.lease_lost and execution.stopped is not None
    states = [(i.state, i.code) for i in journal.items(run_id=run_id)]
    assert states == [(ISSUED, None), (ISSUED, None), (FAILED, NOT_SENT)]


def test_a_takeover_resolves_nothing_as_not_issued_while_a_call_may_be_in_flight(journal: Journal) -> None:
    run = journal.start_run("sum", "0.1", None, None)
    batch = Batch(SCOPE, "DispatchCoupons", (PlanItem(A, "m"),))
    batch_id = journal.record_intent(run, batch, in_flight_seconds=100)  # fenced now: may leave until +bound
    start = journal.clock()

    class Time:
        now = start + 50  # the lease ran out; the call may still be in flight for 50 s

        def clock(self) -> float:
            return self.now

        async def sleep(self, seconds: float) -> None:
            self.now += seconds

    time = Time()
    settings = ResolveSettings(window_seconds=30, poll_seconds=5, clock=time.clock, sleep=time.sleep)
    resolved = asyncio.run(resolve_in_doubt(journal, desired([A]), {"msads-local": FakeProvider()}, settings=settings))
    assert [r.state for r in resolved] == [RESOLVED_NOT_ISSUED]
    assert time.now >= start + 100 + 30  # in flight until +100, then the window
    assert journal.items()[0].state == RESOLVED_NOT_ISSUED
    assert batch_id


def test_confirm_still_refuses_as_before(journal_location: str, clock: Clock) -> None:
    first, operator = lock(journal_location, clock), lock(journal_location, clock)
    first.try_acquire("runner-a")
    operator.break_lock("alice", "dead")
    with pytest.raises(RefusedError, match="broken or taken over"):
        first.confirm("runner-a")


def test_the_journal_and_its_leases_measure_time_on_the_database_s_clock(journal_location: str) -> None:
    journal = Journal(journal_location)
    try:
        assert journal.clock == journal.db.now
        assert ApplyLock(journal.db).clock == journal.db.now
        if journal.db.dialect == "postgresql":
            (server,) = journal.db.execute("SELECT EXTRACT(EPOCH FROM clock_timestamp())::float8")[0]
            assert abs(journal.db.now() - float(server)) < 5
    finally:
        journal.close()
