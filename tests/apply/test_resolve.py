"""In-doubt resolution: decided by a fresh read, within a bounded lag window, recorded in the journal."""

from __future__ import annotations

import asyncio
from datetime import datetime

from reconciler.apply.journal import RESOLVED_ISSUED, RESOLVED_NOT_ISSUED, Journal
from reconciler.apply.resolve import ResolveSettings, resolve_in_doubt
from reconciler.manifest.model import Target
from reconciler.plan.model import PlanItem
from reconciler.providers.base import Batch, BatchResult, ItemResult, Outcome

from ..plan.diff_factories import SCOPE, desired
from .fakes import FakeProvider

A, B = Target.email("a@example.com"), Target.email("b@example.com")


class FakeTime:
    def __init__(self, start: float) -> None:
        self.now = start
        self.slept: list[float] = []

    def clock(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


def in_doubt(journal: Journal, *targets: Target) -> None:
    run = journal.start_run("sum", "0.1", None, None)
    batch = Batch(SCOPE, "DispatchCoupons", tuple(PlanItem(t, "m") for t in targets))
    result = BatchResult(batch, tuple(ItemResult(i, Outcome.IN_DOUBT) for i in batch.items))
    journal.record_outcome(journal.record_intent(run, batch), result)


def settings(time: FakeTime) -> ResolveSettings:
    return ResolveSettings(window_seconds=30, poll_seconds=5, clock=time.clock, sleep=time.sleep)


def test_visible_targets_resolve_issued_and_invisible_ones_not_issued_after_the_window(journal_location: str) -> None:
    journal = Journal(journal_location)
    in_doubt(journal, A, B)
    created = journal.items()[0].created_at
    time = FakeTime(datetime.fromisoformat(created).timestamp())
    provider = FakeProvider()
    provider.holders = {A}
    resolved = asyncio.run(
        resolve_in_doubt(journal, desired([A, B]), {"msads-local": provider}, settings=settings(time))
    )
    assert [(r.target, r.state) for r in resolved] == [(A, RESOLVED_ISSUED), (B, RESOLVED_NOT_ISSUED)]
    assert time.now - datetime.fromisoformat(created).timestamp() >= 30  # waited out the window for B
    states = {i.target: i.state for i in journal.items()}
    assert states == {A: RESOLVED_ISSUED, B: RESOLVED_NOT_ISSUED}
    assert journal.overlay({SCOPE})[SCOPE].in_doubt == {}


def test_a_lagging_read_is_polled_until_the_coupon_shows(journal_location: str) -> None:
    journal = Journal(journal_location)
    in_doubt(journal, A)
    time = FakeTime(datetime.fromisoformat(journal.items()[0].created_at).timestamp())
    provider = FakeProvider()
    provider.holders = {A}
    provider._invisible = {A: 3}  # shows on the third read
    resolved = asyncio.run(resolve_in_doubt(journal, desired([A]), {"msads-local": provider}, settings=settings(time)))
    assert [(r.target, r.state) for r in resolved] == [(A, RESOLVED_ISSUED)]
    assert provider.reads == 3


def test_old_in_doubt_items_not_visible_are_decided_on_the_first_read(journal_location: str) -> None:
    journal = Journal(journal_location)
    in_doubt(journal, A)
    time = FakeTime(datetime.fromisoformat(journal.items()[0].created_at).timestamp() + 3600)
    provider = FakeProvider()
    resolved = asyncio.run(resolve_in_doubt(journal, desired([A]), {"msads-local": provider}, settings=settings(time)))
    assert [(r.target, r.state) for r in resolved] == [(A, RESOLVED_NOT_ISSUED)]
    assert provider.reads == 1 and time.slept == []


def test_nothing_in_doubt_reads_nothing(journal_location: str) -> None:
    provider = FakeProvider()
    resolved = asyncio.run(resolve_in_doubt(Journal(journal_location), desired([A]), {"msads-local": provider}))
    assert resolved == [] and provider.reads == 0
