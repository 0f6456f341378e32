"""``couponctl plan`` as a use case: read live state, diff it against the manifests and the journal, check the
policy, checksum it; and the saved plan read back from its file."""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from dataclasses import astuple, replace
from datetime import timedelta
from pathlib import Path

from reconciler import aio
from reconciler.app.governance import govern
from reconciler.app.session import (
    Project,
    ScopeRead,
    journal_views,
    live_digest,
    open_journal,
    open_providers,
    plan_endpoints,
    read_live,
    record_read,
)
from reconciler.apply.journal import Journal
from reconciler.errors import PlanFileError, Problem
from reconciler.governance.freezes import applying
from reconciler.governance.model import Override
from reconciler.plan.checksum import with_checksum
from reconciler.plan.diff import diff
from reconciler.plan.model import JournalStamp, Plan
from reconciler.plan.policy import policy_digest, violations
from reconciler.plan.serialize import plan_from_json
from reconciler.providers.base import Provider


async def make_plan(
    project: Project,
    providers: Mapping[str, Provider],
    journal: Journal,
    on_scope: ScopeRead | None = None,
    *,
    record_reads: bool = False,
    overrides: Sequence[Override] = (),
) -> Plan:
    """Read live state, diff it against the manifests and the journal, check the policy and the governance (rules,
    budgets, tiers; ``overrides`` are the reviewed overrides the plan carries), checksum it. With ``record_reads``
    (apply only: plan never writes the journal), the read lag the read observes is recorded."""
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
    due = [t.at for s in plan.scopes for t in s.scheduled]
    horizon = max([plan.expires_at or now, *due])  # when the plan's items would be issued at the latest
    plan = replace(plan, freezes=tuple(applying(config.governance.freezes, now, horizon)))
    return with_checksum(replace(plan, governance=govern(project, plan, journal, overrides)))


def plan_project(project: Project, on_scope: ScopeRead | None = None, overrides: Sequence[Override] = ()) -> Plan:
    """``couponctl plan``: read-only; never calls an issuing endpoint, never writes the journal. ``overrides``
    (``plan --override``) are carried by the plan, for the reviewer to see."""

    async def run() -> Plan:
        journal = open_journal(project.config)
        try:
            async with open_providers(project) as providers:
                return await make_plan(project, providers, journal, on_scope, overrides=overrides)
        finally:
            journal.close()

    return aio.run(run())


def load_plan_file(path: Path) -> Plan:
    """A saved plan, read back; a PlanFileError when the file cannot be read or is not a plan."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise PlanFileError([Problem(str(path), 0, 0, "", f"cannot read the plan file: {exc}")]) from exc
    return plan_from_json(text, str(path))
