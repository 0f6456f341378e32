"""In-doubt resolution: decided by a fresh read, within a bounded lag window, recorded in the journal."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

from reconciler.apply.journal import RESOLVED_ISSUED, RESOLVED_NOT_ISSUED, Journal
from reconciler.apply.resolve import STILL_IN_DOUBT, Resolution, ResolveSettings, resolve_in_doubt
from reconciler.plan.model import PlanItem
from reconciler.providers.base import Batch, BatchResult, ItemResult, Outcome
from reconciler.state.desired import ScopeSpec, Target
from reconciler.state.live import IssuedCoupon, ScopeLive
from tests.support.diff_factories import SCOPE, desired
from tests.support.fake_provider import FakeProvider

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


# --- issue 12: an absence counts only with evidence that the read covers the call ---------------------------


class DatedProvider(FakeProvider):
    """Shows exactly the coupons a test sets, dated or not."""

    def __init__(self) -> None:
        super().__init__()
        self.coupons: dict[Target, tuple[IssuedCoupon, ...]] = {}

    async def read_scope(self, spec: ScopeSpec) -> ScopeLive:
        self.reads += 1
        return ScopeLive(spec.scope, True, None, 1000, dict(self.coupons))


C, D = Target.email("c@example.com"), Target.email("d@example.com")


def issued(journal: Journal, *targets: Target, outcome: Outcome = Outcome.ISSUED) -> float:
    """A run that issued the targets (or left them in doubt); returns when its answer was recorded."""
    run = journal.start_run("sum", "0.1", None, None)
    batch = Batch(SCOPE, "DispatchCoupons", tuple(PlanItem(t, "m") for t in targets))
    journal.record_outcome(
        journal.record_intent(run, batch), BatchResult(batch, tuple(ItemResult(i, outcome) for i in batch.items))
    )
    return datetime.fromisoformat(journal.items()[-1].updated_at).timestamp()


def coupon(code: str, at: float | None = None) -> tuple[IssuedCoupon, ...]:
    return (IssuedCoupon(code, "dispatched", issue_date=None if at is None else datetime.fromtimestamp(at, UTC)),)


def resolve(journal: Journal, provider: FakeProvider, time: FakeTime, *targets: Target) -> list[Resolution]:
    return asyncio.run(
        resolve_in_doubt(journal, desired(list(targets)), {"msads-local": provider}, settings=settings(time))
    )


def test_a_read_that_misses_a_coupon_couponctl_issued_proves_no_absence(journal_location: str) -> None:
    journal = Journal(journal_location)
    issued(journal, A)  # answered: A holds a coupon
    called = issued(journal, B, outcome=Outcome.IN_DOUBT)
    time = FakeTime(called + 3600)
    provider = DatedProvider()  # the read shows neither A nor B: it is behind, or incomplete
    (still,) = resolve(journal, provider, time, A, B)
    assert (still.target, still.state, still.decided) == (B, STILL_IN_DOUBT, False)
    assert "misses 1 coupon(s) couponctl issued in this scope" in still.reason
    assert {i.target: i.state for i in journal.items()} == {A: "ISSUED", B: "IN_DOUBT"}  # nothing written
    assert provider.reads == 1 and time.slept == []  # an hour old: one read, no waiting
    provider.coupons = {A: coupon("CODE0000AAAA")}  # now it shows A, and still not B
    (decided,) = resolve(journal, provider, time, A, B)
    assert (decided.target, decided.state) == (B, RESOLVED_NOT_ISSUED)
    assert "the read shows all 1 coupon(s) couponctl issued in the scope" in decided.reason


def test_a_coupon_the_vendor_dates_after_the_call_witnesses_it_before_the_lag_seen_has_passed(
    journal_location: str,
) -> None:
    journal = Journal(journal_location)
    earlier = issued(journal, A)
    journal.record_read({SCOPE: set()}, datetime.fromtimestamp(earlier + 40, UTC))  # reads missed A for 40 s ...
    journal.record_read({SCOPE: {A}}, datetime.fromtimestamp(earlier + 41, UTC))  # ... then showed it
    called = issued(journal, B, outcome=Outcome.IN_DOUBT)
    time = FakeTime(called + 29.5)
    provider = DatedProvider()
    provider.coupons = {A: coupon("CODE0000AAAA", earlier)}
    (waiting,) = resolve(journal, provider, time, A, B)
    assert waiting.state == STILL_IN_DOUBT  # polled to the end of the window; then 40 s of lag + 20 s hold it
    assert "read lag observed through msads-local (40.0s) plus its margin has not passed" in waiting.reason
    for not_a_witness in (called + 4, called + 3600 * 24):  # too close to the call's end; an issue date in the future
        provider.coupons = {A: coupon("CODE0000AAAA", earlier), C: coupon("CODE0000CCCC", not_a_witness)}
        assert [r.state for r in resolve(journal, provider, time, A, B)] == [STILL_IN_DOUBT]
    provider.coupons = {A: coupon("CODE0000AAAA", earlier), C: coupon("CODE0000CCCC", called + 6)}
    (decided,) = resolve(journal, provider, time, A, B)
    assert decided.state == RESOLVED_NOT_ISSUED
    assert "coupon ****CCCC of email:c@example.com, issued" in decided.reason
    assert "by the vendor's date" in decided.reason
    assert time.now - called < 60  # decided before the lag rule would have


def test_a_target_couponctl_sent_to_after_the_call_ended_witnesses_it(journal_location: str) -> None:
    journal = Journal(journal_location)
    earlier = issued(journal, A)
    journal.record_read({SCOPE: set()}, datetime.fromtimestamp(earlier + 40, UTC))
    journal.record_read({SCOPE: {A}}, datetime.fromtimestamp(earlier + 41, UTC))  # 40 s of lag seen
    called = issued(journal, B, outcome=Outcome.IN_DOUBT)
    issued(journal, C)  # a later call: its coupon showing proves the read has caught up past B's call
    time = FakeTime(called + 31)
    provider = DatedProvider()
    provider.coupons = {A: coupon("CODE0000AAAA")}
    assert "misses 1 coupon(s)" in resolve(journal, provider, time, A, B, C)[0].reason  # C is known: not shown
    provider.coupons = {A: coupon("CODE0000AAAA"), C: coupon("CODE0000CCCC", called - 60)}  # dated before the call
    (held,) = resolve(journal, provider, time, A, B, C)
    assert held.state == STILL_IN_DOUBT  # C holds a coupon older than B's call: it witnesses nothing
    provider.coupons = {A: coupon("CODE0000AAAA"), C: coupon("CODE0000CCCC")}
    (decided,) = resolve(journal, provider, time, A, B, C)
    assert decided.state == RESOLVED_NOT_ISSUED
    assert "email:c@example.com, sent a coupon by a call made after this call ended" in decided.reason


def test_without_a_witness_the_absence_counts_once_the_lag_seen_plus_its_margin_has_passed(
    journal_location: str,
) -> None:
    journal = Journal(journal_location)
    earlier = issued(journal, A)
    journal.record_read({SCOPE: set()}, datetime.fromtimestamp(earlier + 40, UTC))
    journal.record_read({SCOPE: {A}}, datetime.fromtimestamp(earlier + 41, UTC))  # 40 s: margin 20 s
    called = issued(journal, B, outcome=Outcome.IN_DOUBT)
    provider = DatedProvider()
    provider.coupons = {A: coupon("CODE0000AAAA")}
    assert resolve(journal, provider, FakeTime(called + 59), A, B)[0].state == STILL_IN_DOUBT
    (decided,) = resolve(journal, provider, FakeTime(called + 60), A, B)
    assert decided.state == RESOLVED_NOT_ISSUED and "(40.0s) plus its margin" in decided.reason


def test_a_pending_call_of_a_dead_run_ended_when_another_run_first_wrote_in_the_scope(journal_location: str) -> None:
    journal = Journal(journal_location)
    earlier = issued(journal, A)
    journal.record_read({SCOPE: set()}, datetime.fromtimestamp(earlier + 100, UTC))
    journal.record_read({SCOPE: {A}}, datetime.fromtimestamp(earlier + 101, UTC))  # lag rule: 150 s
    dead = journal.start_run("sum", "0.1", None, None)
    journal.record_intent(dead, Batch(SCOPE, "DispatchCoupons", (PlanItem(B, "m"),)))  # no answer: the run died
    intent = datetime.fromisoformat(journal.items()[-1].created_at).timestamp()
    provider = DatedProvider()
    provider.coupons = {A: coupon("CODE0000AAAA"), C: coupon("CODE0000CCCC", intent + 10)}
    time = FakeTime(intent + 60)
    # no other run has written since: the call may have lasted until this resolution began; C, dated 10 s after
    # the intent, is no witness
    assert resolve(journal, provider, time, A, B, C)[0].state == STILL_IN_DOUBT
    issued(journal, D)  # another run writes in the scope: the dead run had lost the lock by then
    provider.coupons = {A: coupon("CODE0000AAAA"), D: coupon("CODE0000DDDD")}
    (decided,) = resolve(journal, provider, time, A, B, C, D)
    assert (decided.target, decided.state) == (B, RESOLVED_NOT_ISSUED)
    assert "email:d@example.com, sent a coupon by a call made after this call ended" in decided.reason


def test_what_stays_in_doubt_is_returned_with_why_and_polling_stops_at_the_window(journal_location: str) -> None:
    journal = Journal(journal_location)
    issued(journal, A)
    called = issued(journal, B, outcome=Outcome.IN_DOUBT)
    time = FakeTime(called)
    provider = DatedProvider()  # never shows A: the scope's reads are incomplete
    (still,) = resolve(journal, provider, time, A, B)
    assert still.state == STILL_IN_DOUBT and time.now - called >= 30
    assert provider.reads == 1 + len(time.slept) and sum(time.slept) <= 30.001  # polled the window, no longer
    assert journal.items()[-1].state == "IN_DOUBT" and journal.items()[-1].resolved_by is None
