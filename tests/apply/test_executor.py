"""The executor: journal first, bounded concurrency, canary alone first, stops cleanly, order kept."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path

import pytest

from reconciler.apply.executor import Execution, execute
from reconciler.apply.journal import ISSUED, PENDING, Journal
from reconciler.errors import RefusedError
from reconciler.plan.model import PlanItem
from reconciler.providers.base import NO_FENCE, Batch, BatchResult, Fence, ItemResult, Outcome, Provider
from reconciler.state.desired import ScopeSpec, Target
from reconciler.state.live import ScopeLive
from tests.support.diff_factories import SCOPE, desired

TARGETS = [Target.email(f"user{n}@example.com") for n in range(10)]


class SlowProvider:
    """Records how many calls are in flight at once and what the journal held when each call left."""

    name = "msads-local"
    type = "msads"

    def __init__(self, journal: Journal) -> None:
        self.journal = journal
        self.in_flight = 0
        self.most_in_flight = 0
        self.pending_when_sent: list[int] = []

    async def read_scope(self, spec: ScopeSpec) -> ScopeLive:
        raise AssertionError("the executor never reads")

    def batches(self, spec: ScopeSpec, items: Sequence[PlanItem]) -> list[Batch]:
        raise AssertionError("the executor is given its batches")

    async def issue(self, spec: ScopeSpec, batch: Batch, fence: Fence = NO_FENCE) -> BatchResult:
        await fence()
        pending = self.journal.items(states=(PENDING,))
        self.pending_when_sent.append(sum(1 for i in pending if i.target in {x.target for x in batch.items}))
        self.in_flight += 1
        self.most_in_flight = max(self.most_in_flight, self.in_flight)
        await asyncio.sleep(0.01)
        self.in_flight -= 1
        return BatchResult(batch, tuple(ItemResult(i, Outcome.ISSUED) for i in batch.items), "T")

    async def aclose(self) -> None:
        pass


def batches() -> list[Batch]:
    return [Batch(SCOPE, "DispatchCoupons", (PlanItem(t, "m"),)) for t in TARGETS]


def run(
    journal: Journal,
    provider: SlowProvider,
    *,
    concurrency: int,
    before_call: Callable[[], None] = lambda: None,
    after_first: Callable[[BatchResult], Awaitable[None]] | None = None,
) -> Execution:
    run_id = journal.start_run("sum", "0.1", None, None)
    providers: dict[str, Provider] = {"msads-local": provider}
    return asyncio.run(
        execute(
            run_id,
            batches(),
            desired(TARGETS),
            providers,
            journal,
            concurrency=concurrency,
            before_call=before_call,
            after_first=after_first,
        )
    )


def test_every_intent_is_in_the_journal_before_its_call_leaves(tmp_path: Path) -> None:
    journal = Journal(tmp_path / "journal.sqlite")
    provider = SlowProvider(journal)
    run(journal, provider, concurrency=3)
    assert provider.pending_when_sent == [1] * len(TARGETS)
    assert {i.state for i in journal.items()} == {ISSUED}


def test_calls_in_flight_never_exceed_the_concurrency(tmp_path: Path) -> None:
    journal = Journal(tmp_path / "journal.sqlite")
    provider = SlowProvider(journal)
    execution = run(journal, provider, concurrency=3)
    assert provider.most_in_flight == 3
    assert [r.batch.items[0].target for r in execution.batches] == TARGETS


def test_the_canary_goes_alone_and_its_check_can_stop_the_rest(tmp_path: Path) -> None:
    journal = Journal(tmp_path / "journal.sqlite")
    provider = SlowProvider(journal)
    seen: list[int] = []

    async def canary(first: BatchResult) -> None:
        seen.append(provider.in_flight)
        raise RefusedError("canary not visible")

    execution = run(journal, provider, concurrency=5, after_first=canary)
    assert seen == [0]
    assert execution.stopped == "canary not visible"
    assert len(journal.items()) == 1


def test_a_lost_lock_stops_new_batches_and_keeps_what_was_sent(tmp_path: Path) -> None:
    journal = Journal(tmp_path / "journal.sqlite")
    provider = SlowProvider(journal)
    calls = {"n": 0}

    def before_call() -> None:
        calls["n"] += 1
        if calls["n"] > 4:
            raise RefusedError("lock lost")

    execution = run(journal, provider, concurrency=2, before_call=before_call)
    assert execution.stopped == "lock lost"
    assert len(execution.batches) == 4
    assert len(journal.items()) == 4


def test_a_journal_failure_propagates_after_the_calls_in_flight_are_recorded(tmp_path: Path) -> None:
    journal = Journal(tmp_path / "journal.sqlite")
    provider = SlowProvider(journal)
    real = journal.record_outcome
    count = {"n": 0}

    def flaky(batch_id: str, result: BatchResult) -> None:
        count["n"] += 1
        if count["n"] == 2:
            raise OSError("disk full")
        real(batch_id, result)

    journal.record_outcome = flaky  # type: ignore[method-assign]
    with pytest.raises(OSError, match="disk full"):
        run(journal, provider, concurrency=3)
    assert len(journal.items()) < len(TARGETS)  # nothing new started after the failure
    assert len(journal.items(states=(PENDING,))) == 1  # only the failed outcome stays PENDING: in doubt later
