"""Bind apply to the governance the plan was reviewed under: the same rules, budgets, tiers and limits (the
governance digest), only the overrides the plan carries, and an environment entitled to the plan's approval tier."""

from __future__ import annotations

from reconciler.errors import RefusedError
from reconciler.governance.model import Governance, GovernanceConfig
from reconciler.governance.tiers import entitled, environments_for, higher_tier
from reconciler.plan.model import Plan


def check_same_governance(saved: Plan, saved_name: str, fresh: Plan) -> None:
    """Refuse (exit 3) a reviewed plan checked against other rules, budgets, tiers or limits than those in force:
    what the reviewer saw judged would no longer be what judges the apply."""
    reviewed = saved.governance.digest if saved.governance is not None else None
    current = fresh.governance.digest if fresh.governance is not None else None
    if reviewed != current:
        raise RefusedError(
            f"{saved_name} was checked against other rules, budgets, approval tiers or limits than couponctl.yaml "
            f"now declares (governance digest {(reviewed or 'none')[:12]}, now {(current or 'none')[:12]}); nothing "
            "was issued. Make and review a new plan"
        )


def required_tier(config: GovernanceConfig, saved: Plan | None, fresh: Plan) -> str | None:
    """The tier apply needs: the higher of the reviewed plan's and the fresh plan's (the budgets and rules are
    evaluated again under the lock, and may ask for more than the reviewer saw, never for less)."""
    tiers = [p.governance.tier for p in (saved, fresh) if p is not None and p.governance is not None]
    return higher_tier(config, [t for t in tiers if t is not None])


def check_entitled(config: GovernanceConfig, tier: str | None, environment: str | None) -> None:
    """Refuse (exit 3) when approval tiers are declared and ``environment`` (apply --environment) is not one that
    may apply a plan of ``tier``."""
    if tier is None:
        return
    if entitled(config, tier, environment):
        return
    allowed = ", ".join(environments_for(config, tier))
    given = f"environment {environment!r} is not" if environment else "no --environment was given, and it is not"
    raise RefusedError(
        f"this plan needs approval tier {tier!r}: {given} entitled to apply it (entitled: {allowed}); nothing was "
        "issued. Run apply in an environment of that tier (its required reviewers approve it) with --environment NAME"
    )


def overrides_in_force(governance: Governance | None) -> str | None:
    """The reasons of the overrides a plan carries, each once, for the run's ``override_reason`` (None: none); the
    run's ``overrides`` record which names each reason overrides."""
    if governance is None or not governance.overrides:
        return None
    return "; ".join(dict.fromkeys(o.reason for o in governance.overrides))
