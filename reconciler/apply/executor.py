"""The executor: issue a bound plan batch by batch, journal first, never retrying blind."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Protocol

from reconciler.apply.journal import Journal, Money
from reconciler.apply.lock import LeaseLostError
from reconciler.errors import CouponctlError, ExitCode, JournalError
from reconciler.plan.model import Plan
from reconciler.providers.base import NO_FENCE, Batch, BatchResult, Fence, Outcome, Provider, same_results
from reconciler.state.desired import DesiredState, Scope

#: The code of items whose call was never sent because its fence was refused.
NOT_SENT = "NotSent"

#: How many items a message about a failed journal names one by one.
MAX_LISTED = 20

_ANSWERS = {
    Outcome.ISSUED: "the vendor answered: issued",
    Outcome.IN_DOUBT: "the outcome is unknown",
    Outcome.FAILED: "the vendor answered: not issued",
}


class JournalFailedError(JournalError):
    """The journal failed while an apply was under way (a killed connection, a full disk): the apply sent
    nothing more, and some outcomes may be missing from the journal. Exit 5, like any apply left in doubt."""

    exit_code = ExitCode.IN_DOUBT


def journal_failed_mid_apply(
    error: JournalError,
    *,
    run_id: str | None,
    unrecorded: Sequence[BatchResult] = (),
    unsent: int = 0,
    answered: int = 0,
    stage: str = "after",
) -> JournalFailedError:
    """The error an apply ends with when its journal fails: what may have been issued, and what to do next.

    ``stage``: "before" the apply's first issuing call, while "sending", or "after" every call was answered
    and recorded. While sending, ``unrecorded`` are the calls answered whose outcome the journal could not
    record, ``unsent`` counts the items whose intent was committed but whose call never left, and ``answered``
    the calls whose outcome was recorded.
    """
    if isinstance(error, JournalFailedError):
        return error
    lines = [f"{error}", "This apply stopped: it sends nothing more."]
    items = [(b.batch.scope, r) for b in unrecorded for r in b.results]
    if stage == "before":
        lines.append("Nothing was issued by this apply; in-doubt items of earlier runs, if any, stay in doubt.")
    elif items:
        lines.append(
            f"What may have been issued: {len(items)} item(s) of run {run_id} whose outcome the journal could not "
            "record (their intents stay PENDING in the journal, that is in doubt):"
        )
        for scope, result in items[:MAX_LISTED]:
            detail = f" ({result.code})" if result.outcome is Outcome.FAILED and result.code else ""
            lines.append(f"  {scope} {result.item.target}: {_ANSWERS[result.outcome]}{detail}")
        if len(items) > MAX_LISTED:
            lines.append(f"  ... and {len(items) - MAX_LISTED} more")
    elif stage == "sending" and not answered:
        lines.append(f"Nothing was issued by this apply (run {run_id}): it made no issuing call.")
    else:
        lines.append(f"Every call this apply (run {run_id}) made has its outcome recorded in the journal.")
    if unsent:
        lines.append(
            f"{unsent} item(s) were never sent: their intents were committed, but their calls did not leave (the "
            "journal failed before their fence); they stay PENDING, in doubt until a later apply reads."
        )
    lines.append(
        "Next: once the journal is reachable again, `couponctl journal in-doubt` lists what is in doubt; re-apply "
        "later: the next apply resolves those items by reading live state before it issues anything. Do not issue "
        "them again by hand."
    )
    failed = JournalFailedError("\n".join(lines))
    failed.__cause__ = error
    return failed


class BatchObserver(Protocol):
    """Told of each batch once its outcome is recorded (a batch whose fence was refused among them: not sent, its
    items FAILED NotSent), with the items done so far of all. The apply's run context tells its listeners."""

    def batch_sent(self, result: BatchResult, done_items: int, total_items: int) -> None: ...


class Fencing(Protocol):
    """Fences for issuing calls (reconciler.apply.fencing.LeaseFencing)."""

    def in_flight_seconds(self, batch: Batch) -> float: ...

    def fence(self, batch_id: str, batch: Batch) -> Fence: ...


@dataclass(frozen=True)
class Execution:
    """The batches sent, in order, with their results; ``stopped`` says why when not all were sent; ``lease_lost``
    when the apply stopped because it no longer held its lease."""

    run_id: str
    batches: tuple[BatchResult, ...]
    stopped: str | None = None
    lease_lost: bool = False


def plan_batches(plan: Plan, desired: DesiredState, providers: Mapping[str, Provider], canary: int) -> list[Batch]:
    """The provider's batches for every scope; the very first batch cut to ``canary`` items when > 0."""
    batches: list[Batch] = []
    for scope_plan in plan.scopes:
        if scope_plan.to_issue:
            spec = desired.scopes[scope_plan.scope]
            batches.extend(providers[scope_plan.scope.provider].batches(spec, scope_plan.to_issue))
    if canary > 0 and batches and len(batches[0].items) > canary:
        first = batches[0]
        batches[:1] = [replace(first, items=first.items[:canary]), replace(first, items=first.items[canary:])]
    return batches


async def execute(
    run_id: str,
    batches: list[Batch],
    desired: DesiredState,
    providers: Mapping[str, Provider],
    journal: Journal,
    *,
    concurrency: int = 1,
    money: Mapping[Scope, Money] | None = None,
    before_call: Callable[[], None] = lambda: None,
    after_first: Callable[[BatchResult], Awaitable[None]] | None = None,
    observer: BatchObserver | None = None,
    fencing: Fencing | None = None,
) -> Execution:
    """Send every batch, at most ``concurrency`` calls in flight (the providers' rate limits apply too).

    Per batch: ``before_call`` may veto (a lost lock raises), the intent is committed to the journal,
    exactly one issuing call is made, the outcome is committed. ``after_first`` checks the first batch (the
    canary) alone, before the rest go; it raises to stop the apply. ``observer`` is told of each batch whose outcome
    is recorded. With ``fencing`` every attempt of the call is fenced: a fence refused (LeaseLostError) means that
    batch was not sent (recorded FAILED, NotSent) and stops the apply with ``lease_lost``.

    A refusal from either hook stops the apply cleanly: no new batch starts, the ones in flight finish and
    are recorded, ``stopped`` says why. A journal failure (JournalError: a killed connection, a full disk) stops
    every sending too: the calls in flight finish, then :class:`JournalFailedError` names what may have been
    issued (the answers the journal could not record; their intents stay PENDING, in doubt for the next run).
    Anything else (an interrupt) propagates and leaves the unanswered intents PENDING, which the next run
    treats as in doubt. Results keep the batches' order.
    """
    sending = _Sending(run_id, batches, desired, providers, journal, money or {}, before_call, observer, fencing)
    return await sending.run(after_first, concurrency)


class _Sending:
    """The state of one :func:`execute`: the results so far and what stopped it."""

    def __init__(
        self,
        run_id: str,
        batches: list[Batch],
        desired: DesiredState,
        providers: Mapping[str, Provider],
        journal: Journal,
        money: Mapping[Scope, Money],
        before_call: Callable[[], None],
        observer: BatchObserver | None,
        fencing: Fencing | None,
    ) -> None:
        self.run_id = run_id
        self.batches = batches
        self.desired = desired
        self.providers = providers
        self.journal = journal
        self.money = money
        self.before_call = before_call
        self.observer = observer
        self.fencing = fencing
        self.total = sum(len(b.items) for b in batches)
        self.results: dict[int, BatchResult] = {}
        self.stopped: list[str] = []
        self.journal_errors: list[JournalError] = []
        self.unrecorded: list[BatchResult] = []
        self.unsent: list[Batch] = []
        self.lease_lost: list[LeaseLostError] = []
        self.failures: list[BaseException] = []

    async def run(self, after_first: Callable[[BatchResult], Awaitable[None]] | None, concurrency: int) -> Execution:
        rest = list(enumerate(self.batches))
        if after_first is not None and len(self.batches) > 1:
            await self.send(*rest.pop(0))
            if self.stopped or self.journal_errors:
                return self.execution()
            try:
                await after_first(self.results[0])
            except CouponctlError as exc:
                self.stopped.append(str(exc))
                return self.execution()
        gate = asyncio.Semaphore(max(1, concurrency))
        # Every task runs to its end (in-flight calls get their outcome recorded) before a failure propagates.
        await asyncio.gather(*(self.gated(gate, number, batch) for number, batch in rest), return_exceptions=True)
        if self.failures:
            raise self.failures[0]
        return self.execution()

    async def gated(self, gate: asyncio.Semaphore, number: int, batch: Batch) -> None:
        async with gate:
            if self.failures or self.journal_errors:
                return  # something broke: start nothing new
            try:
                await self.send(number, batch)
            except BaseException as exc:
                self.failures.append(exc)
                raise

    def done(self, number: int, result: BatchResult) -> None:
        self.results[number] = result
        if self.observer is not None:
            self.observer.batch_sent(result, sum(len(r.results) for r in self.results.values()), self.total)

    def not_sent(self, number: int, batch_id: str, batch: Batch, lost: LeaseLostError) -> None:
        """A fence refused: this batch was not sent (its earlier attempts, if any, were throttled: not
        processed). Recorded as FAILED when the journal still takes writes; otherwise it stays PENDING."""
        self.stopped.append(str(lost))
        self.lease_lost.append(lost)
        result = BatchResult(batch, same_results(batch.items, Outcome.FAILED, NOT_SENT, f"not sent: {lost}"))
        with contextlib.suppress(JournalError):
            self.journal.record_outcome(batch_id, result)
        self.done(number, result)

    def may_send(self) -> bool:
        """Whether another batch may start: nothing stopped the apply and ``before_call`` does not veto."""
        if self.stopped or self.journal_errors:
            return False
        try:
            self.before_call()
        except JournalError as exc:
            self.journal_errors.append(exc)
            return False
        except LeaseLostError as exc:
            self.stopped.append(str(exc))
            self.lease_lost.append(exc)
            return False
        except CouponctlError as exc:
            self.stopped.append(str(exc))
            return False
        return True

    async def send(self, number: int, batch: Batch) -> None:
        if not self.may_send():
            return
        fencing = self.fencing
        in_flight = fencing.in_flight_seconds(batch) if fencing is not None else None
        try:
            batch_id = self.journal.record_intent(
                self.run_id,
                batch,
                self.money.get(batch.scope),
                in_flight_seconds=in_flight,
                labels=self.desired.labels,
            )
        except JournalError as exc:  # not committed, or not known to be: nothing is sent for it
            self.journal_errors.append(exc)
            return
        fence = fencing.fence(batch_id, batch) if fencing is not None else NO_FENCE
        try:
            result = await self.providers[batch.scope.provider].issue(self.desired.scopes[batch.scope], batch, fence)
        except LeaseLostError as exc:
            self.not_sent(number, batch_id, batch, exc)
            return
        except JournalError as exc:  # the fence could not be written: not sent
            self.journal_errors.append(exc)
            self.unsent.append(batch)
            return
        try:
            self.journal.record_outcome(batch_id, result)
        except JournalError as exc:
            self.journal_errors.append(exc)
            self.unrecorded.append(result)
            return
        self.done(number, result)

    def execution(self) -> Execution:
        if self.journal_errors:
            raise journal_failed_mid_apply(
                self.journal_errors[0],
                run_id=self.run_id,
                unrecorded=self.unrecorded,
                unsent=sum(len(b.items) for b in self.unsent),
                answered=len(self.results),
                stage="sending",
            )
        batches_done = tuple(self.results[n] for n in sorted(self.results))
        return Execution(
            self.run_id, batches_done, self.stopped[0] if self.stopped else None, lease_lost=bool(self.lease_lost)
        )
