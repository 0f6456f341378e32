"""The use cases behind the commands: validate, plan, apply, show. The CLI parses and reports; this works."""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from reconciler.apply.binding import bind
from reconciler.apply.context import ci_actor, git_commit
from reconciler.apply.executor import ApplyProgress, ApplyReport, execute
from reconciler.apply.journal import Journal
from reconciler.config import load_config
from reconciler.config_model import Config
from reconciler.errors import RefusedError
from reconciler.live import LiveState, ScopeLive
from reconciler.manifest.build import load_desired
from reconciler.manifest.model import DesiredState
from reconciler.plan.checksum import with_checksum
from reconciler.plan.diff import diff
from reconciler.plan.model import Plan
from reconciler.plan.serialize import plan_from_json
from reconciler.providers.base import Provider
from reconciler.providers.registry import build_provider


@dataclass(frozen=True)
class Project:
    """A loaded couponctl.yaml and the desired state of its manifests."""

    config: Config
    desired: DesiredState


def load_project(directory: Path, paths: Sequence[Path] | None = None) -> Project:
    """Load and validate config and manifests, offline; raise with every problem at once."""
    config = load_config(directory)
    return Project(config, load_desired(config, paths or None))


@asynccontextmanager
async def open_providers(
    project: Project, environ: Mapping[str, str] | None = None
) -> AsyncIterator[dict[str, Provider]]:
    """The providers the declared scopes use, closed on exit."""
    environ = os.environ if environ is None else environ
    names = sorted({scope.provider for scope in project.desired.scopes})
    providers: dict[str, Provider] = {}
    try:
        for name in names:
            config = project.config.providers[name]
            providers[name] = build_provider(config, project.config.sandbox, environ)
        yield providers
    finally:
        for provider in providers.values():
            await provider.aclose()


async def read_live(desired: DesiredState, providers: Mapping[str, Provider]) -> LiveState:
    """Read every declared scope, scopes concurrently."""
    specs = [desired.scopes[scope] for scope in sorted(desired.scopes)]
    lives: list[ScopeLive] = await asyncio.gather(*(providers[spec.scope.provider].read_scope(spec) for spec in specs))
    return LiveState({live.scope: live for live in lives})


def open_journal(config: Config) -> Journal:
    return Journal(Path(config.journal))


async def make_plan(project: Project, providers: Mapping[str, Provider], journal: Journal) -> Plan:
    """Read live state and diff it against the manifests; the plan carries its checksum."""
    live = await read_live(project.desired, providers)
    managed = journal.managed_targets(set(project.desired.scopes))
    plan = diff(project.desired, live, created_at=datetime.now(UTC), managed=managed)
    return with_checksum(plan)


def plan_project(project: Project) -> Plan:
    """``couponctl plan``: read-only; never calls an issuing endpoint."""

    async def run() -> Plan:
        journal = open_journal(project.config)
        try:
            async with open_providers(project) as providers:
                return await make_plan(project, providers, journal)
        finally:
            journal.close()

    return asyncio.run(run())


def load_plan_file(path: Path) -> Plan:
    from reconciler.errors import PlanFileError, Problem

    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise PlanFileError([Problem(str(path), 0, 0, "", f"cannot read the plan file: {exc}")]) from exc
    return plan_from_json(text, str(path))


Confirm = Callable[[Plan], bool]


def apply_project(
    project: Project,
    *,
    saved_plan: Plan | None,
    saved_name: str = "",
    confirm: Confirm,
    progress: ApplyProgress | None = None,
) -> tuple[Plan, ApplyReport | None]:
    """``couponctl apply``: a fresh diff, bound to the saved plan when given, confirmed, then issued.

    Returns the plan applied and the report (None when there was nothing to do).
    """

    async def run() -> tuple[Plan, ApplyReport | None]:
        journal = open_journal(project.config)
        try:
            async with open_providers(project) as providers:
                fresh = await make_plan(project, providers, journal)
                skipped = 0
                if saved_plan is not None:
                    bound = bind(saved_plan, fresh, saved_name)
                    fresh, skipped = bound.plan, bound.skipped
                if fresh.has_errors:
                    raise RefusedError("the plan has errors (see above); nothing was issued")
                if not fresh.has_changes:
                    return fresh, None
                check_policy(project.config, fresh)
                if not confirm(fresh):
                    raise RefusedError("apply not confirmed; nothing was issued")
                report = await execute(
                    fresh,
                    project.desired,
                    providers,
                    journal,
                    skipped=skipped,
                    progress=progress,
                    actor=ci_actor(os.environ),
                    git_commit=git_commit(project.config.root),
                )
                return fresh, report
        finally:
            journal.close()

    return asyncio.run(run())


def check_policy(config: Config, plan: Plan) -> None:
    """Refuse a plan that exceeds the configured limits per apply."""
    policy = config.policy
    if policy.max_items is not None and plan.item_count > policy.max_items:
        raise RefusedError(
            f"the plan issues {plan.item_count} coupons, above the policy limit maxItems={policy.max_items}"
        )
    for currency, amount in plan.exposure().items():
        limit = policy.max_amount.get(currency)
        if limit is not None and amount > limit:
            raise RefusedError(
                f"the plan spends {currency} {amount}, above the policy limit maxAmount.{currency}={limit}"
            )
