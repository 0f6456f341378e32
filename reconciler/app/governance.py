"""Governance of one plan: evaluate the rules, read the budgets from the journal, mark what the plan's overrides
name, and settle the approval tier. Plan and apply (under its lock) both call :func:`govern`."""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import replace

from reconciler.app.session import Project
from reconciler.apply.context import ci_actor, git_commit, git_context
from reconciler.apply.journal import Journal
from reconciler.config.redaction import scrub
from reconciler.errors import CouponctlError
from reconciler.governance.budgets import Spending, budget_statuses, spending_read
from reconciler.governance.digest import governance_digest
from reconciler.governance.model import Budget, BudgetStatus, GitContext, Governance, Override
from reconciler.governance.overrides import check_overrides
from reconciler.governance.rules import evaluate_rules
from reconciler.governance.tiers import environments_for, plan_tier
from reconciler.manifest.build import load_desired
from reconciler.plan.model import Plan
from reconciler.state.desired import DesiredState


def govern(
    project: Project,
    plan: Plan,
    journal: Journal,
    overrides: Sequence[Override] = (),
    *,
    git: GitContext | None = None,
    environ: Mapping[str, str] = os.environ,
) -> Governance:
    """What ``plan`` meets: rule findings, budget statuses (what the journal records as spent, this plan's share),
    the overrides it carries marked where they apply, and its approval tier."""
    config = project.config
    check_overrides(config.governance, overrides)
    _check_unmasked(overrides)
    context = git if git is not None else git_context(config.root, environ)
    budgets = _budgets(project, plan, journal)
    findings = evaluate_rules(config.governance.rules, plan, project.desired, budgets=budgets, git=context)
    named = {override.name for override in overrides}
    findings = tuple(replace(f, overridden=True) if f.rule in named else f for f in findings)
    budgets = tuple(replace(b, overridden=True) if b.name in named else b for b in budgets)
    tier = plan_tier(config.governance, findings, overrides)
    return Governance(
        digest=governance_digest(config.policy, config.governance),
        findings=findings,
        budgets=budgets,
        overrides=tuple(overrides),
        tier=tier,
        environments=environments_for(config.governance, tier) if tier is not None else (),
        git=context,
        shared_journal=journal.db.dialect != "sqlite",
    )


def _check_unmasked(overrides: Sequence[Override]) -> None:
    """Refuse an override whose reason holds a value couponctl masks: checked once the journal and the providers
    are open, when their secrets are known. Written masked, the saved plan would no longer match its checksum (and
    the reviewer would read ``***``)."""
    for override in overrides:
        if scrub(override.reason) != override.reason:
            raise CouponctlError(
                f"--override {override.name}: the reason holds the value of a secret couponctl masks (a ${{env:}} "
                "value or a credential); write the reason without it"
            )


def overrides_given(
    project: Project, names: Sequence[str], reason: str | None, environ: Mapping[str, str] = os.environ
) -> tuple[Override, ...]:
    """``--override NAME ... --reason TEXT`` as the overrides a plan carries, each with who planned it and at which
    commit (the reviewed commit the journal records); checked against what couponctl.yaml declares."""
    if not names:
        if reason is not None:
            raise CouponctlError("--reason is the reason of an override: give --override NAME with it")
        return ()
    if reason is None or not reason.strip():
        raise CouponctlError("--override needs --reason TEXT: the reason the reviewer reads and the journal records")
    actor = ci_actor(environ)
    commit = git_commit(project.config.root)
    overrides = tuple(Override(name, reason.strip(), actor, commit) for name in names)
    check_overrides(project.config.governance, overrides)
    return overrides


def _budgets(project: Project, plan: Plan, journal: Journal) -> tuple[BudgetStatus, ...]:
    """Each budget's status at the plan's moment (the journal's clock), from one read of the journal's spending
    over the widest period any budget needs. Apply calls this under its leases (one per budget it may add to)."""
    budgets = project.config.governance.budgets
    read = spending_read(budgets, plan.created_at)
    if read is None:
        return ()
    spending = journal.spending(read.since, read.until, boundaries=read.boundaries)
    return budget_statuses(budgets, plan, _judging(project, budgets, spending), spending, plan.created_at)


def _judging(project: Project, budgets: Sequence[Budget], spending: Sequence[Spending]) -> DesiredState:
    """The declarations the budgets judge by: the project's, but every manifest's for a partial project (PATHS)
    when a budget selects by labels and the journal holds items recorded before it kept labels. Such an item is
    judged by the manifest that declares its target today, which may lie outside the selection: judged by the
    selection alone, it would match no label selector, and a partial apply could spend what a whole one may not."""
    if project.selection is None or not any(budget.selector.labels for budget in budgets):
        return project.desired
    if all(row.labels is not None for row in spending):
        return project.desired
    whole, selected = load_desired(project.config), project.desired
    items = {
        scope: {**whole.items.get(scope, {}), **selected.items.get(scope, {})}
        for scope in {*whole.items, *selected.items}
    }
    # The selection may name manifests outside config.manifests: its own declarations and labels stand.
    return replace(whole, items=items, labels={**whole.labels, **selected.labels})
