"""A journal that fails mid-apply (a terminated backend, a full disk) stops every sending and says what may have
been issued, with exit 5: never an internal error."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

import pytest

from reconciler.apply.executor import JournalFailedError, execute
from reconciler.apply.journal import ISSUED, PENDING, Journal
from reconciler.errors import ExitCode, JournalError
from reconciler.plan.model import PlanItem
from reconciler.providers.base import NO_FENCE, Batch, BatchResult, Fence, ItemResult, Outcome, Provider
from reconciler.state.desired import ScopeSpec, Target
from reconciler.state.live import ScopeLive
from tests.support.diff_factories import SCOPE, desired
from tests.support.journal_faults import break_journal

TARGETS = [Target.email(f"user{n}@example.com") for n in range(10)]


class BreakingProvider:
    """Issues everything; its ``break_on``-th call breaks the journal while the call is in flight."""

    name = "msads-local"
    type = "msads"

    def __init__(self, journal: Journal, break_on: int) -> None:
        self.journal = journal
        self.break_on = break_on
        self.sent: list[Batch] = []

    async def read_scope(self, spec: ScopeSpec) -> ScopeLive:
        raise AssertionError("the executor never reads")

    def batches(self, spec: ScopeSpec, items: Sequence[PlanItem]) -> list[Batch]:
        raise AssertionError("the executor is given its batches")

    async def issue(self, spec: ScopeSpec, batch: Batch, fence: Fence = NO_FENCE) -> BatchResult:
        await fence()
        self.sent.append(batch)
        if len(self.sent) == self.break_on:
            break_journal(self.journal)
        await asyncio.sleep(0.01)
        return BatchResult(batch, tuple(ItemResult(i, Outcome.ISSUED) for i in batch.items), "T")

    async def aclose(self) -> None:
        pass


def test_a_journal_failure_mid_apply_stops_every_sending_and_names_what_may_have_been_issued(
    journal_location: str,
) -> None:
    journal = Journal(journal_location)
    run_id = journal.start_run("sum", "0.1", None, None)
    provider = BreakingProvider(journal, break_on=2)
    providers: dict[str, Provider] = {"msads-local": provider}
    batches = [Batch(SCOPE, "DispatchCoupons", (PlanItem(t, "m"),)) for t in TARGETS]
    with pytest.raises(JournalFailedError) as failed:
        asyncio.run(execute(run_id, batches, desired(TARGETS), providers, journal, concurrency=3))
    assert failed.value.exit_code == ExitCode.IN_DOUBT
    assert isinstance(failed.value.__cause__, JournalError)
    # The two calls in flight when it broke finished; nothing was sent after the failure was seen.
    assert len(provider.sent) == 2
    message = str(failed.value)
    sent = [b.items[0].target for b in provider.sent]
    assert all(f"{target}: the vendor answered: issued" in message for target in sent), message
    assert "couponctl journal in-doubt" in message and "re-apply later" in message
    assert "sends nothing more" in message
    journal.close()
    reopened = Journal(journal_location)
    states = {i.target: i.state for i in reopened.items(run_id=run_id)}
    assert states == {target: PENDING for target in sent}  # in doubt for the next run, which reads to decide
    reopened.close()


def test_an_apply_that_had_sent_nothing_says_so(journal_location: str) -> None:
    journal = Journal(journal_location)
    run_id = journal.start_run("sum", "0.1", None, None)
    provider = BreakingProvider(journal, break_on=0)
    break_journal(journal)
    batches = [Batch(SCOPE, "DispatchCoupons", (PlanItem(t, "m"),)) for t in TARGETS]
    with pytest.raises(JournalFailedError, match="Nothing was issued by this apply") as failed:
        asyncio.run(execute(run_id, batches, desired(TARGETS), {"msads-local": provider}, journal, concurrency=3))
    assert provider.sent == []  # no intent could be committed: no call left
    assert failed.value.exit_code == ExitCode.IN_DOUBT
    journal.close()


def test_outcomes_recorded_before_the_failure_stay_recorded(journal_location: str) -> None:
    journal = Journal(journal_location)
    run_id = journal.start_run("sum", "0.1", None, None)
    provider = BreakingProvider(journal, break_on=4)
    batches = [Batch(SCOPE, "DispatchCoupons", (PlanItem(t, "m"),)) for t in TARGETS]
    with pytest.raises(JournalFailedError):
        asyncio.run(execute(run_id, batches, desired(TARGETS), {"msads-local": provider}, journal, concurrency=1))
    journal.close()
    reopened = Journal(journal_location)
    states = [i.state for i in reopened.items(run_id=run_id)]
    assert states == [ISSUED, ISSUED, ISSUED, PENDING]  # one call at a time: the fourth's answer was lost
    reopened.close()


class FenceThatCannotBeWritten:
    """A provider whose fence meets a dead journal: the call must not leave."""

    name = "msads-local"
    type = "msads"

    def __init__(self) -> None:
        self.sent: list[Batch] = []

    async def read_scope(self, spec: ScopeSpec) -> ScopeLive:
        raise AssertionError("the executor never reads")

    def batches(self, spec: ScopeSpec, items: Sequence[PlanItem]) -> list[Batch]:
        raise AssertionError("the executor is given its batches")

    async def issue(self, spec: ScopeSpec, batch: Batch, fence: Fence = NO_FENCE) -> BatchResult:
        raise JournalError("the journal j failed: connection lost")  # as a fence would, before anything left

    async def aclose(self) -> None:
        pass


def test_an_intent_whose_fence_could_not_be_written_is_named_as_never_sent(journal_location: str) -> None:
    journal = Journal(journal_location)
    run_id = journal.start_run("sum", "0.1", None, None)
    provider = FenceThatCannotBeWritten()
    batches = [Batch(SCOPE, "DispatchCoupons", (PlanItem(t, "m"),)) for t in TARGETS[:3]]
    with pytest.raises(JournalFailedError) as failed:
        asyncio.run(execute(run_id, batches, desired(TARGETS), {"msads-local": provider}, journal, concurrency=1))
    message = str(failed.value)
    assert "connection lost" in message and "1 item(s) were never sent" in message
    assert "Nothing was issued by this apply" in message
    journal.close()
