"""What every use case shares: the project loaded, its providers opened, live state read and digested, the
journal opened and seen as the diff sees it, and where the providers connect."""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import signal
import tempfile
import threading
from collections.abc import AsyncIterator, Callable, Iterator, Mapping, Sequence
from contextlib import ExitStack, asynccontextmanager, contextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from types import FrameType

from reconciler.apply.journal import Journal, ReadLag
from reconciler.apply.late import not_issued_view, record_issued_late
from reconciler.config.load import load_config
from reconciler.config.model import Config
from reconciler.manifest import spill
from reconciler.manifest.build import load_desired
from reconciler.manifest.discover import find_manifests
from reconciler.manifest.spill import SpilledTargets
from reconciler.plan.model import Plan, PlanEndpoint
from reconciler.providers.base import Provider
from reconciler.providers.oauth import one_chain_per_refresh_token
from reconciler.providers.registry import build_provider, connections
from reconciler.state.desired import DesiredState, Scope, ScopeSpec
from reconciler.state.live import JournalView, LiveState, ScopeLive


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


def check_project(directory: Path, paths: Sequence[Path] | None = None) -> tuple[Project, int]:
    """``couponctl validate``: load and validate like :func:`load_project`, but in bounded memory: the targets
    are checked as they stream past and not kept (duplicates by an external sort in a temporary directory), so
    the project returned declares its scopes and no target. Also returns how many distinct targets it declares."""
    config = load_config(directory)
    with ExitStack() as stack:
        stack.enter_context(terminate_as_interrupt())

        def private_directory() -> Path:  # mode 0700, removed when the stack closes, however it closes
            return Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="couponctl-validate-")))

        sink = SpilledTargets(private_directory, run_records=spill.RUN_RECORDS, fan_in=spill.FAN_IN)
        desired = load_desired(config, paths or None, sink=sink)
    return Project(config, desired), sink.distinct


@contextmanager
def terminate_as_interrupt() -> Iterator[None]:
    """SIGTERM (a CI runner cancelling a job) raises KeyboardInterrupt while inside, so that what is cleaned up on
    Ctrl-C (validate's temporary files of addresses) is cleaned up on it too. Only the main thread owns signals."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def interrupt(signum: int, frame: FrameType | None) -> None:
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


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
        with one_chain_per_refresh_token():  # providers that share a refresh token share its rotation
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
    """What the journal knows of each scope, as the diff takes it: issued, in doubt, managed, read lags, and items
    resolved as not issued."""
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
    """The project's journal, opened (created and migrated when new)."""
    return Journal(config.journal)
