"""The executor: issue a bound plan batch by batch, journal first, never retrying blind."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, replace
from typing import Protocol

from reconciler.apply.journal import Journal, Money
from reconciler.errors import CouponctlError
from reconciler.manifest.model import DesiredState, Scope
from reconciler.plan.model import Plan
from reconciler.providers.base import Batch, BatchResult, Provider


class ApplyProgress(Protocol):
    """Told about each batch as it completes."""

    def batch_done(self, result: BatchResult, done_items: int, total_items: int) -> None: ...


@dataclass(frozen=True)
class Execution:
    """The batches sent, in order, with their results; ``interrupted`` when not all were sent."""

    run_id: str
    batches: tuple[BatchResult, ...]
    stopped: str | None = None

    @property
    def interrupted(self) -> bool:
        return self.stopped is not None


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
    progress: ApplyProgress | None = None,
) -> Execution:
    """Send every batch, at most ``concurrency`` calls in flight (the providers' rate limits apply too).

    Per batch: ``before_call`` may veto (a lost lock raises), the intent is committed to the journal,
    exactly one issuing call is made, the outcome is committed. ``after_first`` checks the first batch (the
    canary) alone, before the rest go; it raises to stop the apply.

    A refusal from either hook stops the apply cleanly: no new batch starts, the ones in flight finish and
    are recorded, ``stopped`` says why. Anything else (a journal failure, an interrupt) propagates and leaves
    the unanswered intents PENDING, which the next run treats as in doubt. Results keep the batches' order.
    """
    total = sum(len(b.items) for b in batches)
    results: dict[int, BatchResult] = {}
    stopped: list[str] = []

    async def send(number: int, batch: Batch) -> None:
        if stopped:
            return
        try:
            before_call()
        except CouponctlError as exc:
            stopped.append(str(exc))
            return
        batch_id = journal.record_intent(run_id, batch, (money or {}).get(batch.scope))
        result = await providers[batch.scope.provider].issue(desired.scopes[batch.scope], batch)
        journal.record_outcome(batch_id, result)
        results[number] = result
        if progress is not None:
            progress.batch_done(result, sum(len(r.results) for r in results.values()), total)

    def execution() -> Execution:
        return Execution(run_id, tuple(results[n] for n in sorted(results)), stopped[0] if stopped else None)

    rest = list(enumerate(batches))
    if after_first is not None and len(batches) > 1:
        await send(*rest.pop(0))
        if stopped:
            return execution()
        try:
            await after_first(results[0])
        except CouponctlError as exc:
            stopped.append(str(exc))
            return execution()
    gate = asyncio.Semaphore(max(1, concurrency))

    failures: list[BaseException] = []

    async def gated(number: int, batch: Batch) -> None:
        async with gate:
            if failures:
                return  # something broke: start nothing new
            try:
                await send(number, batch)
            except BaseException as exc:
                failures.append(exc)
                raise

    # Every task runs to its end (in-flight calls get their outcome recorded) before a failure propagates.
    await asyncio.gather(*(gated(number, batch) for number, batch in rest), return_exceptions=True)
    if failures:
        raise failures[0]
    return execution()
