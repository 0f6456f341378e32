"""Words shared by the renderers and the plan explanations: money, face values, counts and the per-scope
phrases, the same in the terminal, a pull-request comment, a drift report and a refusal message."""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal

from reconciler.governance.model import Governance
from reconciler.plan.model import HeldItem, Plan, PlanEndpoint, PlanItem, ScopePlan
from reconciler.plan.serialize import PlanSummary, summarize
from reconciler.state.live import FaceValue


def format_money(amount: Decimal, currency: str) -> str:
    """``USD 1,200.00``: two decimals at least, more when the amount has them (nothing is rounded away)."""
    exponent = amount.as_tuple().exponent
    places = max(2, -exponent) if isinstance(exponent, int) else 2
    return f"{currency} {amount:,.{places}f}"


def format_face_value(face: FaceValue | None) -> str:
    if face is None:
        return "unknown"
    kind = f" ({face.coupon_type})" if face.coupon_type else ""
    return f"{format_money(face.amount, face.currency)}{kind}"


def exposure_text(summary: PlanSummary) -> str:
    """Money per currency (amounts of zero left out), and how many scopes spend an unknown amount."""
    parts = [format_money(amount, currency) for currency, amount in summary.exposure.items() if amount]
    if summary.unpriced_scopes:
        parts.append(f"unknown for {plural(summary.unpriced_scopes, 'scope')}")
    return ", ".join(parts) or "none"


def verdict(plan: Plan) -> str:
    if plan.has_errors:
        return "Plan has errors: apply refused."
    refused = governance_refusal(plan.governance)
    if refused is not None:
        return refused
    if plan.violations:
        return f"Plan exceeds {plural(len(plan.violations), 'policy limit')}: apply refused unless allowed."
    later = f" {plan.scheduled_count:,} scheduled for later." if plan.scheduled_count else ""
    if not plan.has_changes:
        if plan.scheduled_count:
            return f"Nothing due now.{later} Live state matches what is due."
        return "No changes. Live state matches the manifests."
    return f"Plan: {plan.item_count:,} to issue ({exposure_text(summarize(plan))}).{later} Nothing will be revoked."


MAX_SELECTION_SHOWN = 5
UNLISTED_WARNING = (
    "not a documented vendor host nor loopback; credentials go there because the provider says "
    "allowUnlistedEndpoint: true. Check it is meant"
)


def governance_refusal(governance: Governance | None) -> str | None:
    """``Plan denied by 2 rules and breaches 1 budget: apply refused.``: the deny findings and the budget
    breaches no override names; None when governance refuses nothing."""
    if governance is None:
        return None
    rules = len({f.rule for f in governance.denials})
    budgets = len({b.name for b in governance.breaches})
    parts = [f"denied by {plural(rules, 'rule')}"] if rules else []
    if budgets:
        parts.append(f"breaches {plural(budgets, 'budget')}")
    return f"Plan {' and '.join(parts)}: apply refused." if parts else None


def endpoint_text(endpoint: PlanEndpoint) -> str:
    """``msads-prod api -> https://clientcenter.api.bingads.microsoft.com``."""
    return f"{endpoint.provider} {endpoint.role.split(':')[-1]} -> {endpoint.url}"


def selection_text(selection: Sequence[str]) -> str:
    """What a partial plan covers, in words shared by every renderer."""
    shown = ", ".join(selection[:MAX_SELECTION_SHOWN])
    more = f" and {len(selection) - MAX_SELECTION_SHOWN:,} more" if len(selection) > MAX_SELECTION_SHOWN else ""
    return (
        f"limited to {plural(len(selection), 'manifest file')} ({shown}{more}); what other manifests declare was "
        "not planned and is not applied"
    )


def plural(count: int, noun: str, plural_noun: str | None = None) -> str:
    return f"{count:,} {noun if count == 1 else plural_noun or noun + 's'}"


def satisfied_text(count: int) -> str:
    return f"{plural(count, 'target')} already {'holds' if count == 1 else 'hold'} a coupon"


def held_coupons_text(held: HeldItem, *, codes: bool) -> str:
    """``holds 2 coupons: C1 claimed, C2 redeemed`` (statuses only when ``codes`` is False)."""
    shown = ", ".join(f"{c.code} {c.status}" if codes else c.status for c in held.coupons)
    return f"holds {plural(len(held.coupons), 'coupon')}: {shown}"


def not_yet_visible_text(scope_plan: ScopePlan) -> str:
    count = scope_plan.not_yet_visible
    return f" ({count:,} issued per the journal, not yet visible at the vendor)" if count else ""


def inventory_text(scope_plan: ScopePlan) -> str:
    needed = len(scope_plan.to_issue)
    if scope_plan.available is None:
        return f"not reported by the vendor; {needed:,} needed"
    short = needed - scope_plan.available
    tail = f" (short by {short:,})" if short > 0 else ""
    return f"{scope_plan.available:,} available, {needed:,} needed{tail}"


def delivery_matters(scope_plan: ScopePlan) -> bool:
    """Delivery settings are worth a line only when they differ from the default (no feature, no email)."""
    return scope_plan.feature_id is not None or scope_plan.send_notification


def delivery_text(scope_plan: ScopePlan) -> str:
    feature = f"feature id {scope_plan.feature_id}, " if scope_plan.feature_id is not None else ""
    return f"{feature}notification emails {'on' if scope_plan.send_notification else 'off'}"


def amount_text(item: PlanItem, currency: str | None) -> str:
    """The amount to send (aliyun) with the scope's currency when known; empty when the class fixes it (msads)."""
    if item.amount is None:
        return ""
    return format_money(item.amount, currency) if currency else str(item.amount)


def item_text(item: PlanItem, currency: str | None, target: str | None = None) -> str:
    """``account:180535609  [manifest]`` or ``uid:1918000000883  CNY 100.00  [manifest]``."""
    amount = amount_text(item, currency)
    return f"{target or item.target}{'  ' + amount if amount else ''}  [{item.manifest}]"


def scope_exposure_text(scope_plan: ScopePlan) -> str:
    if scope_plan.exposure is None or scope_plan.currency is None:
        return "unknown (no face value)" if scope_plan.to_issue else "none"
    return format_money(scope_plan.exposure, scope_plan.currency)
