"""Approval tiers: which tier a plan needs, and which deployment environments may apply it."""

from __future__ import annotations

from collections.abc import Sequence

from reconciler.governance.model import Effect, Finding, GovernanceConfig, Override


def plan_tier(config: GovernanceConfig, findings: Sequence[Finding], overrides: Sequence[Override]) -> str | None:
    """The highest tier among the first (every plan's), what tier rules ask for, and, when the plan carries an
    override, ``override_tier`` (the highest tier when that is not set: an override is approved by the most
    trusted reviewers unless the config says otherwise); None when no tiers are declared. A tier finding is never
    overridden: an override cannot lower the approval a plan needs."""
    if not config.tiers:
        return None
    order = [tier.name for tier in config.tiers]
    wanted = [order[0], *(f.tier for f in findings if f.effect is Effect.TIER and f.tier in order)]
    if overrides:
        wanted.append(config.override_tier or order[-1])
    return higher_tier(config, [name for name in wanted if name is not None])


def higher_tier(config: GovernanceConfig, names: Sequence[str]) -> str | None:
    """The highest of ``names`` in the declared order (names not declared are ignored); None when none is."""
    order = [tier.name for tier in config.tiers]
    known = [name for name in names if name in order]
    return max(known, key=order.index) if known else None


def entitled(config: GovernanceConfig, tier: str, environment: str | None) -> bool:
    """True when ``environment`` may apply a plan of ``tier``: it is listed for that tier or a higher one (an
    environment approved for more may apply less)."""
    if environment is None:
        return False
    order = [t.name for t in config.tiers]
    if tier not in order:
        return False
    return any(environment in t.environments for t in config.tiers[order.index(tier) :])


def environments_for(config: GovernanceConfig, tier: str) -> tuple[str, ...]:
    """The environments that may apply a plan of ``tier``: its own first, then the higher tiers'."""
    order = [t.name for t in config.tiers]
    if tier not in order:
        return ()
    found: list[str] = []
    for t in config.tiers[order.index(tier) :]:
        found += [e for e in t.environments if e not in found]
    return tuple(found)
