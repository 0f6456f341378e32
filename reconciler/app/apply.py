"""``couponctl apply`` as a use case: lock, resolve in-doubt items, diff afresh, bind to the reviewed plan, check the
policy, confirm, issue journal-first, then judge every item by the reads made after it (``verify``: only the scopes
whose in-doubt items need a read, or every scope issued in); each step is told to the apply's listeners
(reconciler.app.events)."""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime

from reconciler import __version__, aio
from reconciler.app.events import (
    ApplyListener,
    ApplyNote,
    ApplyRun,
    InDoubtResolved,
    ItemsVerified,
    LiveScopeRead,
    PlanSummary,
    ResolutionStage,
    exit_code_of,
)
from reconciler.app.plan import make_plan
from reconciler.app.session import Project, open_journal, open_providers, plan_endpoints, read_live, record_read
from reconciler.apply.approval import check_entitled, check_same_governance, overrides_in_force, required_tier
from reconciler.apply.binding import bind, check_endpoints, check_saved
from reconciler.apply.context import ci_actor, git_commit
from reconciler.apply.durability import check_journal_outlives_ci
from reconciler.apply.executor import Execution, execute, journal_failed_mid_apply, plan_batches
from reconciler.apply.fencing import LeaseFencing
from reconciler.apply.journal import Journal, Money
from reconciler.apply.lock import (
    ApplyLock,
    LeaseLostError,
    budget_lease_name,
    default_holder,
    scope_lease_name,
    scope_lease_names,
)
from reconciler.apply.report import ApplyReport
from reconciler.apply.resolve import Resolution, ResolveSettings, resolve_in_doubt
from reconciler.apply.verify import PaidTwice, scope_paid_twice, verdicts
from reconciler.config.model import Verify
from reconciler.errors import ExitCode, JournalError, RefusedError
from reconciler.governance.budgets import budgets_touched
from reconciler.governance.freezes import in_force
from reconciler.governance.model import LIMIT_NAMES, Override
from reconciler.governance.overrides import blocking, check_overrides
from reconciler.plan.model import Plan
from reconciler.plan.policy import limit_violations
from reconciler.plan.windows import not_due, windows_of
from reconciler.providers.base import BatchResult, Provider
from reconciler.providers.options import request_timeout_seconds
from reconciler.state.desired import Scope, Target
from reconciler.state.live import ScopeLive
from reconciler.state.schedule import Window


@dataclass(frozen=True)
class ApplyDecisions:
    """What the person applying decided. ``confirm`` is asked with the plan about to be issued; ``saved_plan`` is
    the reviewed plan to apply (None: a fresh one, confirmed), named ``saved_name`` in messages;
    ``overrides`` are those a fresh plan carries (a reviewed plan carries its own: apply accepts no other);
    ``allow_over_limit`` is the reason to override every per-apply limit of a fresh plan;
    ``environment`` the deployment environment apply runs in, checked against the plan's approval tier;
    ``lock_timeout`` how many seconds to wait for another apply's lock."""

    confirm: Callable[[Plan], bool]
    saved_plan: Plan | None = None
    saved_name: str = ""
    allow_over_limit: str | None = None
    lock_timeout: float = 0.0
    overrides: tuple[Override, ...] = ()
    environment: str | None = None

    def plan_overrides(self) -> tuple[Override, ...]:
        """The overrides the applied plan carries: the reviewed plan's, or those given with a fresh one.
        Refuses (exit 3) an override given beside a reviewed plan: the reviewer never saw it."""
        saved = self.saved_plan
        if saved is not None:
            if self.overrides or self.allow_over_limit:
                raise RefusedError(
                    f"{self.saved_name} is a reviewed plan: apply takes only the overrides it carries, and the "
                    "reviewer saw no other; nothing was issued. Make the plan with plan --override NAME --reason "
                    "TEXT and have it reviewed"
                )
            return saved.governance.overrides if saved.governance is not None else ()
        if self.allow_over_limit:
            limits = tuple(Override(name, self.allow_over_limit) for name in LIMIT_NAMES)
            return (*self.overrides, *(o for o in limits if o.name not in {x.name for x in self.overrides}))
        return self.overrides


@dataclass(frozen=True)
class ApplyResult:
    """The plan applied, and its report: None when there was nothing to issue."""

    plan: Plan
    report: ApplyReport | None

    @property
    def exit_code(self) -> int:
        """The report's; with nothing to issue, in doubt while items still in doubt block their targets."""
        if self.report is not None:
            return self.report.exit_code
        return ExitCode.IN_DOUBT if self.plan.in_doubt_count else ExitCode.OK


def apply_project(project: Project, decisions: ApplyDecisions, listeners: Iterable[ApplyListener] = ()) -> ApplyResult:
    """``couponctl apply``: lock, resolve in-doubt items, diff afresh, bind to the reviewed plan, check the
    policy, confirm, issue journal-first, then re-read and report every item. The listeners hear every step, and
    last how it ended (ApplyFinished), refusals and failures included; what they raise never changes the apply."""
    run = ApplyRun(listeners)
    try:
        check_overrides(project.config.governance, decisions.plan_overrides())
        result = _apply(project, decisions, run)
    except Exception as failure:
        run.finish(exit_code_of(failure), failure=failure)
        raise
    run.finish(result.exit_code, report=result.report)
    return result


def _apply(project: Project, decisions: ApplyDecisions, run: ApplyRun) -> ApplyResult:
    check_journal_outlives_ci(project.config, {scope.provider for scope in project.desired.scopes}, os.environ)
    if decisions.saved_plan is not None:  # before any credential is used: only where the reviewer saw
        check_endpoints(decisions.saved_plan, decisions.saved_name, plan_endpoints(project))

    async def locked() -> ApplyResult:
        journal = open_journal(project.config)
        try:
            # No apply recorded, not only "created by this open": a plan opens the journal too, and an apply
            # stopped at this note must show it again.
            if journal.identity().runs == 0:
                run.warn(
                    ApplyNote(
                        f"note: the journal {journal.db.location} is new: it holds no record of earlier applies. If "
                        "there were some (another working copy, another runner, a lost file), stop: what they left "
                        "in doubt would be paid again"
                    )
                )
            budgets = budgets_touched(project.config.governance.budgets, project.desired)
            names = (*scope_lease_names(project.desired), *(budget_lease_name(b.name) for b in budgets))
            lock = ApplyLock(journal.db, lease_seconds=project.config.lock_lease_seconds, names=names)
            holder = default_holder()
            async with (
                open_providers(project, write=True) as providers,
                lock.held(holder, timeout=decisions.lock_timeout) as lease,
            ):
                timeouts = {name: request_timeout_seconds(project.config.providers[name]) for name in providers}
                fencing = LeaseFencing(lease, journal, timeouts, name_of=lambda batch: scope_lease_name(batch.scope))
                settings = ResolveSettings(window_seconds=project.config.in_doubt_window_seconds, guard=lease.guard)
                holding = _HoldingTheLock(project, decisions, run, journal, providers, fencing, settings)
                try:
                    return await holding.apply()
                except JournalError as exc:  # before the run started: nothing was sent (JournalFailedError passes)
                    raise journal_failed_mid_apply(exc, run_id=None, stage="before") from exc
        finally:
            journal.close()

    return aio.run(locked())


@dataclass
class _Reads:
    """What this apply's reads showed, kept for its report: per scope, the targets its plan's read (before issuing)
    showed holding more than one coupon; the canary items its canary's read showed; per scope, the latest read made
    after the last call (the in-doubt resolution's)."""

    held_before: dict[Scope, tuple[PaidTwice, ...]] = field(default_factory=dict)
    canary_seen: set[tuple[Scope, Target]] = field(default_factory=set)
    after: dict[Scope, ScopeLive] = field(default_factory=dict)


@dataclass(frozen=True)
class _HoldingTheLock:
    """An apply that holds its lease: what it was told and whom it tells, and what it opened to do the work."""

    project: Project
    decisions: ApplyDecisions
    run: ApplyRun
    journal: Journal
    providers: Mapping[str, Provider]
    fencing: LeaseFencing
    settings: ResolveSettings
    reads: _Reads = field(default_factory=_Reads)

    async def apply(self) -> ApplyResult:
        config, desired, journal, decisions = self.project.config, self.project.desired, self.journal, self.decisions
        started = journal.now()
        saved = decisions.saved_plan
        if saved is not None:
            check_saved(saved, decisions.saved_name, journal, started, plan_ttl_seconds=config.plan_ttl_seconds)
        resolved_before = await resolve_in_doubt(journal, desired, self.providers, settings=self.settings)
        self.run.emit(InDoubtResolved(ResolutionStage.BEFORE_ISSUING, tuple(resolved_before)))
        overrides = decisions.plan_overrides()
        fresh = await make_plan(
            self.project, self.providers, journal, self._scope_read, record_reads=True, overrides=overrides
        )
        skipped = 0
        if saved is not None:
            check_same_governance(saved, decisions.saved_name, fresh)
            bound = bind(saved, fresh, decisions.saved_name)
            fresh, skipped = bound.plan, bound.skipped
        governance = fresh.governance
        if governance is not None and governance.budgets and not governance.shared_journal:
            self.run.warn(
                ApplyNote(
                    f"note: the budgets were read from {journal.db.location}, a journal only this runner sees: they "
                    "are only truthful across runners that share one journal (PostgreSQL: README)"
                )
            )
        summary = PlanSummary.of(fresh, skipped=skipped, override_reason=overrides_in_force(governance))
        self.run.planned(summary)
        if fresh.has_errors:
            errors = [f"  {s.scope}: error ({e.code}): {e.message}" for s in fresh.scopes for e in s.errors]
            raise RefusedError("the plan has errors; nothing was issued:\n" + "\n".join(errors))
        if not fresh.has_changes:
            return ApplyResult(fresh, None)
        self._check_not_blocked(fresh)
        check_entitled(config.governance, required_tier(config.governance, saved, fresh), decisions.environment)
        if not decisions.confirm(fresh):
            raise RefusedError("apply not confirmed; nothing was issued")
        windows = windows_of([i for s in fresh.scopes for i in s.to_issue], desired.schedules)
        self._check_still_due(windows)  # the confirm may have waited past a window's end or into a freeze
        self._check_not_blocked(fresh)

        run_id = journal.start_run(
            fresh.checksum,
            __version__,
            ci_actor(os.environ),
            git_commit(config.root),
            override_reason=summary.override_reason,
            overrides=fresh.governance.overrides if fresh.governance is not None else (),
            reviewed_commit=saved.governance.git.commit if saved is not None and saved.governance is not None else None,
        )
        batches = plan_batches(fresh, desired, self.providers, config.canary_size)
        self.run.start(run_id, summary, tuple(s.scope for s in fresh.scopes if s.to_issue), len(batches))
        try:
            execution = await execute(
                run_id,
                batches,
                desired,
                self.providers,
                journal,
                concurrency=config.issue_concurrency,
                money={s.scope: Money(s.face_value.amount if s.face_value else None, s.currency) for s in fresh.scopes},
                before_call=lambda: self._before_batch(fresh, windows),
                after_first=self._verify_canary if config.canary_size else None,
                observer=self.run,
                fencing=self.fencing,
            )
            report = await self._read_after_write(execution, fresh, skipped, started)
            journal.finish_run(run_id, report.outcome)
        except JournalError as exc:
            raise journal_failed_mid_apply(exc, run_id=run_id, stage="after") from exc
        return ApplyResult(fresh, replace(report, resolved_before=tuple(resolved_before)))

    def _check_not_blocked(self, fresh: Plan) -> None:
        """Refuse (exit 3) while a freeze is in force, judged on the journal's clock under the lock, or while the
        policy blocks the plan, unless an override names it."""
        config, saved = self.project.config, self.decisions.saved_plan
        frozen = in_force(config.governance.freezes, self.journal.now())
        blocked = blocking(fresh.governance, limit_violations(config.policy, fresh), frozen)
        if blocked:
            how = (
                "an override must be part of the reviewed plan: plan --override NAME --reason TEXT (the reviewer "
                "sees it; the journal records it)"
                if saved is not None
                else 'pass --override NAME --reason TEXT, or --allow-over-limit "REASON" for the per-apply limits '
                "(recorded in the journal); in CI, apply a reviewed plan that carries the override"
            )
            what = (
                "a freeze is in force"
                if any(line.startswith("freeze ") for line in blocked)
                else "the plan exceeds the policy"
            )
            raise RefusedError(f"{what}; nothing was issued: {'; '.join(blocked)}. To go ahead, {how}")

    def _check_still_due(self, windows: Mapping[str, Window]) -> None:
        """Refuse (exit 3) when, on the journal's clock now, an item to issue is outside its manifest's window
        (``windows``: those of the manifests of the items to issue)."""
        late = not_due(windows, self.journal.now()) if windows else []
        if late:
            raise RefusedError(
                f"the issue window of {', '.join(late)} is not open any more (spec.schedule, on the journal's "
                "clock); nothing was issued. Plan again"
            )

    def _before_batch(self, fresh: Plan, windows: Mapping[str, Window]) -> None:
        """Before each batch, on the journal's clock (a long apply): the lease is still held, every item's window is
        still open (``windows``: those of the manifests of the items to issue) and no freeze its plan does not
        override has begun; else the rest are not sent. Without windows or freezes, the clock is not read."""
        self.fencing.lease.check()
        freezes = self.project.config.governance.freezes
        if not windows and not freezes:
            return
        now = self.journal.now()
        late = not_due(windows, now)
        frozen = blocking(fresh.governance, (), in_force(freezes, now))
        if late or frozen:
            reasons = [f"the issue window of {', '.join(late)} closed"] if late else []
            raise RefusedError(f"{'; '.join([*reasons, *frozen])}: stopping before the rest")

    def _scope_read(self, live: ScopeLive) -> None:
        self.reads.held_before[live.scope] = scope_paid_twice(live)
        self.run.emit(LiveScopeRead(live))

    async def _verify_canary(self, first: BatchResult) -> None:
        """The canary's issued items must show in a read (polled within the lag window) before the rest go."""
        settings = self.settings
        issued = {r.item.target for r in first.results if r.outcome.value == "issued"}
        if not issued:
            raise RefusedError("the canary batch issued nothing; stopping before the rest")
        deadline = time.monotonic() + settings.window_seconds  # a duration of this process: its own monotonic clock
        while True:
            live = await read_live(self.project.desired, self.providers, [first.batch.scope])
            missing = issued - set(live.scopes[first.batch.scope].issued)
            if not missing:
                self.reads.canary_seen.update((first.batch.scope, target) for target in issued)
                return
            if time.monotonic() >= deadline:
                raise RefusedError(
                    f"the canary batch is not visible {settings.window_seconds:g}s after issuing "
                    f"({len(missing)} of {len(issued)} missing); stopping before the rest"
                )
            await settings.sleep(settings.poll_seconds)

    async def _read_after_write(self, execution: Execution, plan: Plan, skipped: int, started: datetime) -> ApplyReport:
        """Resolve in-doubt items by reading (this run's within the lag window), then judge each item by the reads
        made after it: the resolution's, the canary's, and under ``verify: full`` a read of every scope issued in. An
        apply that lost its lease resolves nothing (it is no longer the one that may): it only reads."""
        journal, lease = self.journal, self.fencing.lease
        resolutions: list[Resolution] = []
        lost = execution.lease_lost
        if not lost:
            try:
                lease.verify()  # it may have been lost while its last calls were under way (a pause)
                settings = replace(self.settings, on_read=self._resolution_read)
                resolutions = await resolve_in_doubt(
                    journal, self.project.desired, self.providers, settings=settings, current_run=execution.run_id
                )
            except LeaseLostError as exc:
                lost, execution = True, replace(execution, stopped=execution.stopped or str(exc), lease_lost=True)
        self.run.emit(InDoubtResolved(ResolutionStage.AFTER_ISSUING, tuple(resolutions), execution.run_id))
        touched = sorted({b.batch.scope for b in execution.batches})
        if self.project.config.verify is Verify.FULL and touched:
            read_at = journal.now()
            reread = await read_live(self.project.desired, self.providers, touched)
            record_read(journal, reread, read_at)
            after = dict(reread.scopes)
        else:  # the resolution's reads are recorded already
            after = {scope: self.reads.after[scope] for scope in touched if scope in self.reads.after}
        finished_at = journal.now()
        items = tuple(verdicts(execution.batches, after, resolutions, self.reads.canary_seen))
        held_twice = tuple(
            paid
            for scope in touched
            for paid in (scope_paid_twice(after[scope]) if scope in after else self.reads.held_before.get(scope, ()))
        )
        self.run.emit(ItemsVerified(execution.run_id, items, held_twice))
        return ApplyReport(
            run_id=execution.run_id,
            plan_checksum=plan.checksum,
            plan_id=plan.plan_id,
            started_at=started.isoformat(),
            finished_at=finished_at.isoformat(),
            items=items,
            skipped=skipped,
            stopped=execution.stopped,
            paid_twice=held_twice,
            resolved_after=tuple(resolutions),
            lease_lost=lost,
        )

    def _resolution_read(self, live: ScopeLive) -> None:
        """A read the in-doubt resolution after issuing made: the latest of its scope is what the report judges by."""
        self.reads.after[live.scope] = live
