"""The use cases behind the commands: validate, plan, apply, show. The CLI parses and reports; this works."""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import time
import uuid
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from contextlib import asynccontextmanager
from dataclasses import astuple, dataclass, replace
from datetime import datetime, timedelta
from pathlib import Path

from reconciler import __version__, aio
from reconciler.apply.binding import bind, check_endpoints, check_saved
from reconciler.apply.context import ci_actor, git_commit
from reconciler.apply.durability import check_journal_outlives_ci
from reconciler.apply.executor import ApplyProgress, Execution, execute, journal_failed_mid_apply, plan_batches
from reconciler.apply.fencing import LeaseFencing
from reconciler.apply.journal import Journal, Money, ReadLag
from reconciler.apply.late import not_issued_view, record_issued_late
from reconciler.apply.lock import ApplyLock, Lease, LeaseLostError, default_holder, scope_lease_name, scope_lease_names
from reconciler.apply.report import ApplyReport
from reconciler.apply.resolve import Resolution, ResolveSettings, resolve_in_doubt
from reconciler.apply.verify import paid_twice, verdicts
from reconciler.config import load_config
from reconciler.config_model import Config
from reconciler.errors import JournalError, PlanFileError, Problem, RefusedError
from reconciler.live import JournalView, LiveState, ScopeLive
from reconciler.manifest.build import load_desired
from reconciler.manifest.discover import find_manifests
from reconciler.manifest.model import DesiredState, Scope, ScopeSpec
from reconciler.plan.checksum import with_checksum
from reconciler.plan.diff import diff
from reconciler.plan.model import JournalStamp, Plan, PlanEndpoint
from reconciler.plan.serialize import plan_from_json
from reconciler.policy import policy_digest, violations
from reconciler.providers.base import BatchResult, Provider
from reconciler.providers.endpoints import connections
from reconciler.providers.registry import build_provider, request_timeout_seconds


@dataclass(frozen=True)
class Project:
    """A loaded couponctl.yaml and the desired state of its manifests; ``selection`` names the manifest files
    (relative to the root) when only some were loaded, None for the whole project."""

    config: Config
    desired: DesiredState
    selection: tuple[str, ...] | None = None


def load_project(directory: Path, paths: Sequence[Path] | None = None) -> Project:
    """Load and validate config and manifests, offline; raise with every problem at once. With ``paths`` only
    those manifests are loaded, and the project remembers which files they were."""
    config = load_config(directory)
    desired = load_desired(config, paths or None)
    if not paths:
        return Project(config, desired)
    files, _ = find_manifests(config.root, list(paths))
    return Project(config, desired, tuple(f.display for f in files))


def project_for_plan(directory: Path, saved: Plan) -> Project:
    """The project as the saved plan saw it: the whole of it, or exactly the manifest files of a partial plan."""
    if saved.selection is None:
        return load_project(directory)
    return load_project(directory, [Path(p) for p in saved.selection])


@asynccontextmanager
async def open_providers(
    project: Project, environ: Mapping[str, str] | None = None, *, write: bool = False
) -> AsyncIterator[dict[str, Provider]]:
    """The providers the declared scopes use, closed on exit; with ``write``, with their write credentials."""
    environ = os.environ if environ is None else environ
    names = sorted({scope.provider for scope in project.desired.scopes})
    providers: dict[str, Provider] = {}
    try:
        for name in names:
            providers[name] = build_provider(
                project.config.providers[name], project.config.sandbox, environ, write=write
            )
        yield providers
    finally:
        for provider in providers.values():
            await provider.aclose()


ScopeRead = Callable[[ScopeLive], None]


async def read_live(
    desired: DesiredState,
    providers: Mapping[str, Provider],
    scopes: Sequence[Scope] | None = None,
    on_scope: ScopeRead | None = None,
) -> LiveState:
    """Read the given scopes (default: every declared scope), scopes concurrently; ``on_scope`` is told as
    each scope is read."""
    specs = [desired.scopes[scope] for scope in sorted(desired.scopes if scopes is None else scopes)]

    async def read(spec: ScopeSpec) -> ScopeLive:
        live = await providers[spec.scope.provider].read_scope(spec)
        if on_scope is not None:
            on_scope(live)
        return live

    lives: list[ScopeLive] = await asyncio.gather(*(read(spec) for spec in specs))
    return LiveState({live.scope: live for live in lives})


def live_digest(live: LiveState) -> str:
    """sha256 of what the vendor showed for every scope read: holders, inventory, face value (hashed as it
    is walked: a scope of a million holders is never one string)."""
    digest = hashlib.sha256()
    for scope, state in sorted(live.scopes.items()):
        face = None if state.face_value is None else [str(state.face_value.amount), state.face_value.currency]
        digest.update(json.dumps([str(scope), state.exists, state.available, face]).encode())
        for target in sorted(state.issued):
            codes = ",".join(sorted(c.code for c in state.issued[target]))
            digest.update(f"\n{target.kind.value}:{target.value}={codes}".encode())
        digest.update(b"\n--\n")
    return digest.hexdigest()


def record_read(journal: Journal, live: LiveState, read_at: datetime) -> None:
    """Record in the journal what a read of these scopes, started at ``read_at``, observed: the read lag, and
    items resolved as not issued that were issued after all (ISSUED_LATE)."""
    journal.record_read({scope: state.issued.keys() for scope, state in live.scopes.items()}, read_at)
    record_issued_late(journal, live)


def journal_views(journal: Journal, scopes: set[Scope], current_run: str | None = None) -> dict[Scope, JournalView]:
    lags = journal.read_lags(scopes)
    late = journal.late_candidates(scopes)
    views: dict[Scope, JournalView] = {}
    for scope, o in journal.overlay(scopes, current_run=current_run).items():
        lag = lags.get(scope, ReadLag())
        views[scope] = JournalView(
            frozenset(o.issued),
            frozenset(o.in_doubt),
            frozenset(o.managed),
            read_lag_s=lag.lag_s,
            missing=lag.missing,
            missing_s=lag.missing_s,
            not_issued=not_issued_view(late.get(scope, {})),
        )
    return views


def plan_endpoints(project: Project) -> tuple[PlanEndpoint, ...]:
    """Where the providers of the declared scopes connect (reconciler.providers.endpoints), sorted."""
    names = sorted({scope.provider for scope in project.desired.scopes})
    return tuple(
        PlanEndpoint(c.provider, c.role, c.url, c.listed)
        for name in names
        for c in connections(project.config.providers[name])
    )


def open_journal(config: Config) -> Journal:
    return Journal(config.journal)


async def make_plan(
    project: Project,
    providers: Mapping[str, Provider],
    journal: Journal,
    on_scope: ScopeRead | None = None,
    *,
    record_reads: bool = False,
) -> Plan:
    """Read live state, diff it against the manifests and the journal, check the policy, checksum it. With
    ``record_reads`` (apply only: plan never writes the journal), the read lag the read observes is recorded."""
    config = project.config
    read_at = journal.now()
    live = await read_live(project.desired, providers, on_scope=on_scope)
    if record_reads:
        record_read(journal, live, read_at)
    now = journal.now()  # the journal's clock: a plan's age is judged on the clock it was dated by
    plan = diff(
        project.desired,
        live,
        created_at=now,
        journal=journal_views(journal, set(project.desired.scopes)),
        in_doubt_window_s=config.in_doubt_window_seconds,
    )
    plan = replace(
        plan,
        plan_id=uuid.uuid4().hex,
        expires_at=now + timedelta(seconds=config.plan_ttl_seconds) if config.plan_ttl_seconds else None,
        live_digest=live_digest(live),
        policy_digest=policy_digest(config.policy),
        violations=violations(config.policy, plan),
        selection=project.selection,
        journal=JournalStamp(*astuple(journal.identity())),
        endpoints=plan_endpoints(project),
    )
    return with_checksum(plan)


def plan_project(project: Project, on_scope: ScopeRead | None = None) -> Plan:
    """``couponctl plan``: read-only; never calls an issuing endpoint, never writes the journal."""

    async def run() -> Plan:
        journal = open_journal(project.config)
        try:
            async with open_providers(project) as providers:
                return await make_plan(project, providers, journal, on_scope)
        finally:
            journal.close()

    return aio.run(run())


def load_plan_file(path: Path) -> Plan:
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise PlanFileError([Problem(str(path), 0, 0, "", f"cannot read the plan file: {exc}")]) from exc
    return plan_from_json(text, str(path))


@dataclass(frozen=True)
class ApplyOptions:
    """How to apply. ``confirm`` is asked with the plan; ``allow_over_limit`` is the recorded reason."""

    confirm: Callable[[Plan], bool]
    saved_plan: Plan | None = None
    saved_name: str = ""
    allow_over_limit: str | None = None
    lock_timeout: float = 0.0
    progress: ApplyProgress | None = None
    on_scope: ScopeRead | None = None
    on_resolved: Callable[[list[Resolution]], None] = lambda resolutions: None
    on_note: Callable[[str], None] = lambda note: None


def apply_project(project: Project, options: ApplyOptions) -> tuple[Plan, ApplyReport | None]:
    """``couponctl apply``: lock, resolve in-doubt items, diff afresh, bind to the reviewed plan, check the
    policy, confirm, issue journal-first, then re-read and report every item. Returns the plan applied and
    the report (None when there was nothing to issue)."""

    check_journal_outlives_ci(project.config, {scope.provider for scope in project.desired.scopes}, os.environ)
    if options.saved_plan is not None:  # before any credential is used: only where the reviewer saw
        check_endpoints(options.saved_plan, options.saved_name, plan_endpoints(project))

    async def run() -> tuple[Plan, ApplyReport | None]:
        journal = open_journal(project.config)
        if journal.is_new:
            options.on_note(
                f"note: the journal {journal.db.location} is new: it holds no record of earlier applies. If there "
                "were some (another working copy, another runner, a lost file), stop: what they left in doubt "
                "would be paid again"
            )
        lock = ApplyLock(
            journal.db, lease_seconds=project.config.lock_lease_seconds, names=scope_lease_names(project.desired)
        )
        holder = default_holder()
        try:
            async with (
                open_providers(project, write=True) as providers,
                lock.held(holder, timeout=options.lock_timeout) as lease,
            ):
                timeouts = {name: request_timeout_seconds(project.config.providers[name]) for name in providers}
                fencing = LeaseFencing(lease, journal, timeouts, name_of=lambda batch: scope_lease_name(batch.scope))
                return await _apply_locked(project, options, journal, providers, fencing)
        finally:
            journal.close()

    return aio.run(run())


async def _apply_locked(
    project: Project,
    options: ApplyOptions,
    journal: Journal,
    providers: Mapping[str, Provider],
    fencing: LeaseFencing,
) -> tuple[Plan, ApplyReport | None]:
    try:
        return await _apply_holding_the_lock(project, options, journal, providers, fencing)
    except JournalError as exc:  # before the run started: nothing was sent (JournalFailedError passes as it is)
        raise journal_failed_mid_apply(exc, run_id=None, stage="before") from exc


async def _apply_holding_the_lock(
    project: Project,
    options: ApplyOptions,
    journal: Journal,
    providers: Mapping[str, Provider],
    fencing: LeaseFencing,
) -> tuple[Plan, ApplyReport | None]:
    config, desired = project.config, project.desired
    lease = fencing.lease
    started = journal.now()
    saved = options.saved_plan
    if saved is not None:
        check_saved(saved, options.saved_name, journal, started, plan_ttl_seconds=config.plan_ttl_seconds)
    settings = ResolveSettings(window_seconds=config.in_doubt_window_seconds, guard=lease.guard)
    resolved_before = await resolve_in_doubt(journal, desired, providers, settings=settings)
    options.on_resolved(resolved_before)
    fresh = await make_plan(project, providers, journal, options.on_scope, record_reads=True)
    skipped = 0
    if saved is not None:
        bound = bind(saved, fresh, options.saved_name)
        fresh, skipped = bound.plan, bound.skipped
    if fresh.has_errors:
        errors = [f"  {s.scope}: error ({e.code}): {e.message}" for s in fresh.scopes for e in s.errors]
        raise RefusedError("the plan has errors; nothing was issued:\n" + "\n".join(errors))
    if not fresh.has_changes:
        return fresh, None
    if fresh.violations and not options.allow_over_limit:
        raise RefusedError(
            "the plan exceeds the policy: " + "; ".join(fresh.violations) + ". Nothing was issued; "
            'pass --allow-over-limit "REASON" to go ahead (the reason is recorded in the journal)'
        )
    if not options.confirm(fresh):
        raise RefusedError("apply not confirmed; nothing was issued")

    run_id = journal.start_run(
        fresh.checksum,
        __version__,
        ci_actor(os.environ),
        git_commit(config.root),
        override_reason=options.allow_over_limit if fresh.violations else None,
    )
    batches = plan_batches(fresh, desired, providers, config.canary_size)

    async def verify_canary(first: BatchResult) -> None:
        await _verify_canary(first, project, providers, settings)

    try:
        execution = await execute(
            run_id,
            batches,
            desired,
            providers,
            journal,
            concurrency=config.issue_concurrency,
            money={s.scope: Money(s.face_value.amount if s.face_value else None, s.currency) for s in fresh.scopes},
            before_call=lease.check,
            after_first=verify_canary if config.canary_size else None,
            progress=options.progress,
            fencing=fencing,
        )
        report = await _read_after_write(
            project, providers, journal, execution, settings, fresh, skipped, started, lease
        )
        journal.finish_run(run_id, report.outcome)
    except JournalError as exc:
        raise journal_failed_mid_apply(exc, run_id=run_id, stage="after") from exc
    return fresh, replace(report, resolved_before=tuple(resolved_before))


async def _verify_canary(
    first: BatchResult, project: Project, providers: Mapping[str, Provider], settings: ResolveSettings
) -> None:
    """The canary's issued items must show in a read (polled within the lag window) before the rest go."""
    issued = {r.item.target for r in first.results if r.outcome.value == "issued"}
    if not issued:
        raise RefusedError("the canary batch issued nothing; stopping before the rest")
    deadline = time.monotonic() + settings.window_seconds  # a duration of this process: its own monotonic clock
    while True:
        live = await read_live(project.desired, providers, [first.batch.scope])
        missing = issued - set(live.scopes[first.batch.scope].issued)
        if not missing:
            return
        if time.monotonic() >= deadline:
            raise RefusedError(
                f"the canary batch is not visible {settings.window_seconds:g}s after issuing "
                f"({len(missing)} of {len(issued)} missing); stopping before the rest"
            )
        await settings.sleep(settings.poll_seconds)


async def _read_after_write(
    project: Project,
    providers: Mapping[str, Provider],
    journal: Journal,
    execution: Execution,
    settings: ResolveSettings,
    plan: Plan,
    skipped: int,
    started: datetime,
    lease: Lease,
) -> ApplyReport:
    """Resolve this run's in-doubt items by reading (within the lag window), then re-read and judge each. An
    apply that lost its lease resolves nothing (it is no longer the one that may): it only reads."""
    resolutions: list[Resolution] = []
    lost = execution.lease_lost
    if not lost:
        try:
            lease.verify()  # it may have been lost while its last calls were under way (a pause)
            resolutions = await resolve_in_doubt(
                journal, project.desired, providers, settings=settings, current_run=execution.run_id
            )
        except LeaseLostError as exc:
            lost, execution = True, replace(execution, stopped=execution.stopped or str(exc), lease_lost=True)
    touched = sorted({b.batch.scope for b in execution.batches})
    read_at = journal.now()
    reread = await read_live(project.desired, providers, touched) if touched else LiveState()
    record_read(journal, reread, read_at)
    return ApplyReport(
        run_id=execution.run_id,
        plan_checksum=plan.checksum,
        plan_id=plan.plan_id,
        started_at=started.isoformat(),
        finished_at=journal.now().isoformat(),
        items=tuple(verdicts(execution.batches, reread.scopes, resolutions)),
        skipped=skipped,
        stopped=execution.stopped,
        paid_twice=paid_twice(reread.scopes),
        resolved_after=tuple(resolutions),
        lease_lost=lost,
    )
