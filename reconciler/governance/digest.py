"""The governance digest: sha256 of everything a plan was checked against (the per-apply limits, the rules, the
budgets, the approval tiers and the freezes), so that a plan checked against other rules is refused at apply."""

from __future__ import annotations

import hashlib
import json

from reconciler.config.model import Policy
from reconciler.governance.model import GovernanceConfig


def governance_digest(policy: Policy, governance: GovernanceConfig) -> str:
    """sha256 (hex) of the canonical JSON of what the plan is checked against; where a rule was written (its file
    and line) is not part of it, what it says is."""
    content: dict[str, object] = {
        "limits": {
            "maxItems": policy.max_items,
            "maxAmount": {currency: str(amount) for currency, amount in sorted(policy.max_amount.items())},
            "maxInventoryShare": None if policy.max_inventory_share is None else str(policy.max_inventory_share),
        },
        "rules": [
            {
                "name": r.name,
                "on": r.level.value,
                "when": r.when,
                "effect": r.effect.value,
                "tier": r.tier,
                "message": r.message,
            }
            for r in governance.rules
        ],
        "budgets": [
            {
                "name": b.name,
                "providers": list(b.selector.providers),
                "scopes": list(b.selector.scopes),
                "labels": dict(sorted(b.selector.labels.items())),
                "period": b.period.kind.value,
                "days": b.period.days,
                "timeZone": b.period.time_zone,
                "amount": {currency: str(amount) for currency, amount in sorted(b.amounts.items())},
            }
            for b in governance.budgets
        ],
        "tiers": [{"name": t.name, "environments": list(t.environments)} for t in governance.tiers],
        "overrideTier": governance.override_tier,
    }
    if governance.freezes:  # left out when none: a digest of a project without freezes is what it was before them
        content["freezes"] = [
            {
                "name": f.name,
                "timeZone": f.time_zone,
                "from": None if f.start is None else f.start.isoformat(),
                "until": None if f.end is None else f.end.isoformat(),
                "every": None if f.every is None else f.every.value,
                "days": f.days,
                "weekdays": list(f.weekdays),
            }
            for f in governance.freezes
        ]
    text = json.dumps(content, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()
