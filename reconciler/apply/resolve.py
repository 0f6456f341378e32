"""Resolve in-doubt items by reading live state, never by guessing.

An item is in doubt when its issuing call may have been processed (timeout, dropped connection, 5xx, a
crash between intent and outcome). A fresh read decides: the target holds a coupon -> RESOLVED_ISSUED; the
target still holds none once the lag window since the call has passed -> RESOLVED_NOT_ISSUED, and only then
may it be issued again. Within the window we poll, because the vendor's reads may lag its writes.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, replace

from reconciler.apply.journal import RESOLVED_ISSUED, RESOLVED_NOT_ISSUED, InDoubtItem, Journal
from reconciler.manifest.model import DesiredState, Scope, ScopeSpec, Target
from reconciler.providers.base import Provider

RESOLVER = "couponctl (read-back)"


@dataclass(frozen=True, slots=True)
class Resolution:
    scope: Scope
    target: Target
    state: str
    reason: str


@dataclass(frozen=True)
class ResolveSettings:
    """``clock``: what ages are measured on, by default the journal's (never the runner's own wall clock).
    ``guard`` runs in the transaction of every resolution and raises to write none: an apply's refuses once it no
    longer holds its lease."""

    window_seconds: float = 60.0
    poll_seconds: float = 2.0
    clock: Callable[[], float] | None = None
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep
    guard: Callable[[], None] | None = None


def _age(item: InDoubtItem, now: float) -> float:
    """How long the call can no longer have been in flight (its window runs from then)."""
    return now - item.since


async def resolve_in_doubt(
    journal: Journal,
    desired: DesiredState,
    providers: Mapping[str, Provider],
    *,
    settings: ResolveSettings | None = None,
    current_run: str | None = None,
) -> list[Resolution]:
    """Resolve every in-doubt item of the declared scopes; returns what was decided, sorted."""
    settings = settings or ResolveSettings()
    if settings.clock is None:
        settings = replace(settings, clock=journal.clock)
    overlays = journal.overlay(set(desired.scopes), current_run=current_run)
    resolutions: list[Resolution] = []
    for scope in sorted(overlays):
        pending = dict(overlays[scope].in_doubt)
        if pending:
            spec = desired.scopes[scope]
            resolutions.extend(await _resolve_scope(journal, spec, providers[scope.provider], pending, settings))
    return resolutions


async def _resolve_scope(
    journal: Journal,
    spec: ScopeSpec,
    provider: Provider,
    pending: dict[Target, list[InDoubtItem]],
    settings: ResolveSettings,
) -> list[Resolution]:
    decided: list[Resolution] = []
    clock = settings.clock or journal.clock
    while pending:
        now = clock()  # before the read: what it shows is at least this recent
        live = await provider.read_scope(spec)
        for target in sorted(pending):
            items = pending[target]
            if target in live.issued:
                reason = f"visible in a read of {spec.scope}"
                state = RESOLVED_ISSUED
            elif all(_age(item, now) >= settings.window_seconds for item in items):
                reason = f"not visible {settings.window_seconds:g}s after the call"
                state = RESOLVED_NOT_ISSUED
            else:
                continue
            journal.resolve([i.item_id for i in items], state, by=RESOLVER, reason=reason, guard=settings.guard)
            decided.append(Resolution(spec.scope, target, state, reason))
            del pending[target]
        if pending:
            youngest = min(_age(i, now) for items in pending.values() for i in items)
            await settings.sleep(max(0.0, min(settings.poll_seconds, settings.window_seconds - youngest)))
    return decided
