"""Overrides: what a plan may override (a deny rule, a budget, a freeze, a per-apply limit), and what still blocks
it."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import MAXYEAR, UTC, datetime

from reconciler.errors import CouponctlError
from reconciler.governance.budgets import breach_lines
from reconciler.governance.freezes import Span
from reconciler.governance.model import LIMIT_NAMES, Effect, Governance, GovernanceConfig, Override


def check_overrides(config: GovernanceConfig, overrides: Sequence[Override]) -> None:
    """Refuse an override that names nothing overridable: an unknown name, a tier rule (an override cannot lower
    the approval a plan needs), a name given twice, or one without a reason."""
    rules = {rule.name: rule for rule in config.rules}
    budgets = {budget.name for budget in config.budgets}
    freezes = {freeze.name for freeze in config.freezes}
    seen: set[str] = set()
    for override in overrides:
        name = override.name
        if not override.reason.strip():
            raise CouponctlError(f"--override {name}: give the reason the reviewer will read (--reason TEXT)")
        if name in seen:
            raise CouponctlError(f"--override {name} is given twice")
        seen.add(name)
        rule = rules.get(name)
        if rule is not None and rule.effect is Effect.TIER:
            raise CouponctlError(
                f"--override {name}: a tier rule cannot be overridden; the plan needs the approval it asks for"
            )
        if rule is None and name not in budgets and name not in freezes and name not in LIMIT_NAMES:
            overridable = [*(r for r in rules if rules[r].effect is not Effect.TIER), *budgets, *freezes]
            known = ", ".join(sorted(overridable))
            raise CouponctlError(
                f"--override {name}: no rule, budget, freeze or limit of couponctl.yaml has this name (rules, budgets "
                f"and freezes: {known or 'none'}; limits: {', '.join(LIMIT_NAMES)})"
            )


def blocking(
    governance: Governance | None, limits: Sequence[tuple[str, str]], freezes: Sequence[Span] = ()
) -> list[str]:
    """What stops apply, in words: freezes in force (``freezes``, judged on the journal's clock under the lock) and
    per-apply limits exceeded (``limits``: name and violation) that no override names, deny findings and budget
    breaches that no override names."""
    named = {o.name for o in governance.overrides} if governance is not None else set()
    found = [freeze_line(span) for span in freezes if span.name not in named]
    found += [f"{message} (limit {name})" for name, message in limits if name not in named]
    if governance is None:
        return found
    for finding in governance.denials:
        subject = " ".join(str(part) for part in (finding.scope, finding.target) if part is not None)
        found.append(f"rule {finding.rule} denies{' ' + subject if subject else ''}: {finding.message}")
    found += breach_lines(governance.breaches)  # read afresh from the journal, at apply under the budgets' leases
    return found


def freeze_line(span: Span) -> str:
    until = "indefinitely" if span.end.year == MAXYEAR else f"until {format_instant(span.end)}"
    return f"freeze {span.name} is in force (from {format_instant(span.start)} {until})"


def format_instant(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")
