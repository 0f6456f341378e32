"""The executor: issue a bound plan batch by batch, journal first, never retrying blind."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Protocol

from reconciler import __version__
from reconciler.apply.journal import Journal
from reconciler.errors import CouponctlError, ExitCode
from reconciler.manifest.model import DesiredState
from reconciler.plan.model import Plan
from reconciler.providers.base import Batch, BatchResult, ItemResult, Outcome, Provider


class ApplyProgress(Protocol):
    """Told about each batch as it completes."""

    def batch_done(self, result: BatchResult, done_items: int, total_items: int) -> None: ...


@dataclass(frozen=True)
class ApplyReport:
    """What one apply did, item by item."""

    run_id: str
    plan_checksum: str
    results: tuple[ItemResult, ...]
    batches: tuple[BatchResult, ...]
    skipped: int

    def count(self, outcome: Outcome) -> int:
        return sum(1 for r in self.results if r.outcome is outcome)

    @property
    def exit_code(self) -> int:
        if self.count(Outcome.IN_DOUBT):
            return ExitCode.IN_DOUBT
        if self.count(Outcome.FAILED):
            return ExitCode.PARTIAL
        return ExitCode.OK

    @property
    def outcome(self) -> str:
        return {ExitCode.IN_DOUBT: "in_doubt", ExitCode.PARTIAL: "partial"}.get(self.exit_code, "success")


async def execute(
    plan: Plan,
    desired: DesiredState,
    providers: Mapping[str, Provider],
    journal: Journal,
    *,
    skipped: int = 0,
    progress: ApplyProgress | None = None,
    actor: str | None = None,
    git_commit: str | None = None,
) -> ApplyReport:
    """Issue every item of ``plan`` (already bound to review and to fresh live state).

    Per batch: the intent is committed to the journal, exactly one issuing call is made, the outcome is
    committed. A failure to journal stops the apply before any further call.
    """
    if plan.has_errors:
        raise CouponctlError("the plan has errors; nothing was issued")
    batches: list[Batch] = []
    for scope_plan in plan.scopes:
        if scope_plan.to_issue:
            spec = desired.scopes[scope_plan.scope]
            batches.extend(providers[scope_plan.scope.provider].batches(spec, scope_plan.to_issue))
    total = sum(len(b.items) for b in batches)
    run_id = journal.start_run(plan.checksum, __version__, actor, git_commit)
    results: list[ItemResult] = []
    batch_results: list[BatchResult] = []
    try:
        for batch in batches:
            spec = desired.scopes[batch.scope]
            batch_id = journal.record_intent(run_id, batch)
            result = await providers[batch.scope.provider].issue(spec, batch)
            journal.record_outcome(batch_id, result)
            batch_results.append(result)
            results.extend(result.results)
            if progress is not None:
                progress.batch_done(result, len(results), total)
    finally:
        report = ApplyReport(run_id, plan.checksum, tuple(results), tuple(batch_results), skipped)
        interrupted = len(results) < total
        journal.finish_run(run_id, "interrupted" if interrupted else report.outcome)
    return report
