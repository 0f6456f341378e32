"""``couponctl drift``: read every declared scope and report its drift (reconciler.plan.drift). Read-only: it never
calls an issuing endpoint and never writes the journal."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from reconciler import aio
from reconciler.app.session import Project, journal_views, open_journal, open_providers, read_live
from reconciler.plan.drift import Drift, detect_drift
from reconciler.providers.registry import void_statuses
from reconciler.state.desired import Scope
from reconciler.state.live import JournalView


def check_drift(project: Project, *, now: datetime | None = None) -> Drift:
    """Read every declared scope and report its drift. Read-only: no issuing call, no journal write (a journal
    file that does not exist yet is not created)."""

    async def run() -> Drift:
        views = _journal_views(project)
        async with open_providers(project) as providers:
            live = await read_live(project.desired, providers)
        checked_at = now or datetime.now(UTC)
        return detect_drift(project.desired, live, checked_at=checked_at, journal=views, void_statuses=void_statuses())

    return aio.run(run())


def _journal_views(project: Project) -> dict[Scope, JournalView]:
    location = project.config.journal
    if "://" not in location and "${" not in location and not Path(location).exists():
        return {}
    journal = open_journal(project.config)
    try:
        return journal_views(journal, set(project.desired.scopes))
    finally:
        journal.close()
