"""The governance blocks of couponctl.yaml (``budgets``, ``rules``, ``policyFiles``, ``approvals``) as a
GovernanceConfig, with every problem located in the file that holds it. The schema has checked their shapes;
this checks what a schema cannot: time zones, tiers named before they are declared, one name for one thing."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import replace
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from reconciler.errors import Problem
from reconciler.governance.freeze_config import read_freezes
from reconciler.governance.model import (
    LIMIT_NAMES,
    Budget,
    Effect,
    GovernanceConfig,
    Level,
    Period,
    PeriodKind,
    Rule,
    Selector,
    Tier,
)
from reconciler.manifest.loader import Document, NodePath, field_name
from reconciler.state.desired import Position


def governance_config(document: Document, rules: Sequence[Rule] = ()) -> tuple[GovernanceConfig, list[Problem]]:
    """The governance ``document`` (couponctl.yaml, schema-valid) declares, with ``rules`` from policy files
    after its own; and the problems a schema cannot see."""
    data: Mapping[str, Any] = document.data if isinstance(document.data, dict) else {}
    own = tuple(_rule(document, ("rules", index), block) for index, block in enumerate(data.get("rules", ())))
    approvals = data.get("approvals", {})
    config = GovernanceConfig(
        rules=(*own, *rules),
        budgets=tuple(_budget(document, ("budgets", i), block) for i, block in enumerate(data.get("budgets", ()))),
        tiers=tuple(Tier(t["name"], tuple(t["environments"])) for t in approvals.get("tiers", ())),
        override_tier=approvals.get("overrides"),
        policy_files=tuple(data.get("policyFiles", ())),
    )
    freezes, problems = read_freezes(document, data.get("freezes", ()))
    config = replace(config, freezes=freezes)
    problems += _zone_problems(document, data) + _tier_problems(document, config) + _name_problems(document, config)
    problems += _environment_problems(document, config) + _selector_problems(document, data)
    return config, problems


def rule_from(document: Document, path: NodePath, block: Mapping[str, Any]) -> Rule:
    """One schema-valid rule block at ``path`` of ``document`` (couponctl.yaml or a policy file)."""
    return _rule(document, path, block)


def _rule(document: Document, path: NodePath, block: Mapping[str, Any]) -> Rule:
    line, column = document.at((*path, "when"))
    return Rule(
        name=block["name"],
        level=Level(block["on"]),
        when=block["when"],
        effect=Effect(block["effect"]),
        message=block.get("message", ""),
        position=Position(document.file, line, column),
        tier=block.get("tier"),
    )


def _budget(document: Document, path: NodePath, block: Mapping[str, Any]) -> Budget:
    selector = block.get("selector", {})
    line, column = document.at(path)
    return Budget(
        name=block["name"],
        selector=Selector(
            providers=tuple(selector.get("providers", ())),
            scopes=tuple(selector.get("scopes", ())),
            labels=dict(selector.get("labels", {})),
        ),
        period=_period(block.get("period", "lifetime"), block.get("timeZone", "UTC")),
        amounts={currency: Decimal(amount) for currency, amount in block["amount"].items()},
        position=Position(document.file, line, column),
        notify_at=Decimal(str(block["notifyAt"])) if "notifyAt" in block else None,
    )


def _period(text: str, time_zone: str) -> Period:
    if text.endswith("d"):
        return Period(PeriodKind.DAYS, days=int(text[:-1]), time_zone=time_zone)
    return Period(PeriodKind(text), time_zone=time_zone)


def _zone_problems(document: Document, data: Mapping[str, Any]) -> list[Problem]:
    problems = []
    for index, block in enumerate(data.get("budgets", ())):
        zone = block.get("timeZone")
        if zone is not None and not _known_zone(zone):
            message = "not a time zone this machine knows (an IANA name such as Europe/Berlin or UTC)"
            problems.append(document.problem(("budgets", index, "timeZone"), message))
    return problems


def _known_zone(name: str) -> bool:
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError):  # OSError: a directory of zones ("America"), a long name
        return False
    return True


def _tier_problems(document: Document, config: GovernanceConfig) -> list[Problem]:
    declared = {tier.name for tier in config.tiers}
    problems: list[Problem] = []
    for rule in config.rules:
        if rule.tier is not None and rule.tier not in declared:
            problems.append(
                Problem(
                    rule.position.file,
                    rule.position.line,
                    rule.position.column,
                    f"rules.{rule.name}.tier",
                    f"tier {rule.tier!r} is not one of approvals.tiers ({', '.join(sorted(declared)) or 'none'})",
                )
            )
    if config.override_tier is not None and config.override_tier not in declared:
        message = f"tier {config.override_tier!r} is not one of approvals.tiers"
        problems.append(document.problem(("approvals", "overrides"), message))
    seen: set[str] = set()
    for index, tier in enumerate(config.tiers):
        if tier.name in seen:
            problems.append(document.problem(("approvals", "tiers", index, "name"), f"tier {tier.name!r} twice"))
        seen.add(tier.name)
    return problems


def _selector_problems(document: Document, data: Mapping[str, Any]) -> list[Problem]:
    """A budget's providers are providers of couponctl.yaml: a misspelt one would select nothing, and the budget
    would let any amount through."""
    declared = sorted(data.get("providers") or {})
    problems: list[Problem] = []
    for index, block in enumerate(data.get("budgets", ())):
        for position, name in enumerate(block.get("selector", {}).get("providers", ())):
            if name not in declared:
                message = (
                    f"provider {name!r} is not one of providers: ({', '.join(declared) or 'none'}); the budget "
                    "would count nothing of it"
                )
                problems.append(document.problem(("budgets", index, "selector", "providers", position), message))
    return problems


def _environment_problems(document: Document, config: GovernanceConfig) -> list[Problem]:
    """An environment belongs to one tier: listed for a lower tier as well as a higher one, its reviewers would
    approve the higher tier's plans (a higher tier's environments may apply a lower tier's plans already). Names
    are compared as GitHub does, ignoring case."""
    problems: list[Problem] = []
    owner: dict[str, str] = {}
    for index, tier in enumerate(config.tiers):
        for position, environment in enumerate(tier.environments):
            first = owner.setdefault(environment.casefold(), tier.name)
            if first != tier.name:
                message = (
                    f"environment {environment!r} is entitled to tier {first!r} too: its reviewers would approve "
                    "plans of both; give each tier environments of its own (a higher tier's may apply a lower's plans)"
                )
                problems.append(document.problem(("approvals", "tiers", index, "environments", position), message))
    return problems


def _name_problems(document: Document, config: GovernanceConfig) -> list[Problem]:
    """An override names one thing: a rule, a budget, a freeze or a limit, never two of them. A budget's (or a
    freeze's) clash is located at its ``name`` (budgets[i].name); a rule's where the rule is."""
    problems: list[Problem] = []
    taken: dict[str, str] = {name: "a policy limit" for name in LIMIT_NAMES}
    named: Iterable[tuple[str, str, Position, str]] = (
        *(
            (b.name, "budget", _at(document, ("budgets", i, "name")), field_name(("budgets", i, "name")))
            for i, b in enumerate(config.budgets)
        ),
        *((r.name, "rule", r.position, r.name) for r in config.rules),
        *(
            (f.name, "freeze", _at(document, ("freezes", i, "name")), field_name(("freezes", i, "name")))
            for i, f in enumerate(config.freezes)
        ),
    )
    for name, what, where, field in named:
        if name in taken:
            problems.append(
                Problem(where.file, where.line, where.column, field, f"{what} {name!r}: the name of {taken[name]} too")
            )
        else:
            taken[name] = f"a {what} ({where})"
    return problems


def _at(document: Document, path: NodePath) -> Position:
    line, column = document.at(path)
    return Position(document.file, line, column)
