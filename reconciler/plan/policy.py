"""Policy: the blast-radius limits of one apply, checked against a plan."""

from __future__ import annotations

import hashlib
import json
from decimal import Decimal

from reconciler.config.model import Policy
from reconciler.plan.model import Plan


def policy_digest(policy: Policy) -> str:
    """sha256 of the limits in force, so that a plan is bound to the policy it was checked against."""
    content = {
        "maxItems": policy.max_items,
        "maxAmount": {currency: str(amount) for currency, amount in sorted(policy.max_amount.items())},
        "maxInventoryShare": None if policy.max_inventory_share is None else str(policy.max_inventory_share),
    }
    return hashlib.sha256(json.dumps(content, sort_keys=True).encode()).hexdigest()


def violations(policy: Policy, plan: Plan) -> tuple[str, ...]:
    """Every limit the plan exceeds, in words."""
    return tuple(message for _, message in limit_violations(policy, plan))


def limit_violations(policy: Policy, plan: Plan) -> tuple[tuple[str, str], ...]:
    """Every limit the plan exceeds: the limit's name (``maxItems``, ``maxAmount``, ``maxInventoryShare``: what
    an override names) and the violation in words."""
    found: list[tuple[str, str]] = []
    if policy.max_items is not None and plan.item_count > policy.max_items:
        found.append(("maxItems", f"{plan.item_count:,} coupons to issue, above maxItems={policy.max_items:,}"))
    for currency, amount in plan.exposure().items():
        limit = policy.max_amount.get(currency)
        if limit is not None and amount > limit:
            found.append(("maxAmount", f"{currency} {amount} to spend, above maxAmount.{currency}={limit}"))
    share = policy.max_inventory_share
    if share is not None:
        for scope_plan in plan.scopes:
            available = scope_plan.available
            needed = len(scope_plan.to_issue)
            if needed and available and Decimal(needed) / Decimal(available) > share:
                found.append(
                    (
                        "maxInventoryShare",
                        f"{scope_plan.scope}: {needed:,} of {available:,} remaining coupons "
                        f"({Decimal(needed) / Decimal(available):.0%}), above maxInventoryShare={share}",
                    )
                )
    return tuple(found)
