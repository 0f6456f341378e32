"""``couponctl status``: read every declared scope and report what its coupons did (reconciler.plan.status).
Read-only, like ``drift``: it never calls an issuing endpoint and never opens the journal."""

from __future__ import annotations

from datetime import UTC, datetime

from reconciler import aio
from reconciler.app.session import Project, open_providers, read_live
from reconciler.plan.status import CampaignStatus, campaign_status
from reconciler.providers.registry import void_statuses


def check_status(project: Project, *, now: datetime | None = None) -> CampaignStatus:
    """Read every declared scope and count, per manifest and per label, what its declared targets did."""

    async def run() -> CampaignStatus:
        async with open_providers(project) as providers:
            live = await read_live(project.desired, providers)
        return campaign_status(
            project.desired, live, checked_at=now or datetime.now(UTC), void_statuses=void_statuses()
        )

    return aio.run(run())
