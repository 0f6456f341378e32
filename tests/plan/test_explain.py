"""What changed between a reviewed, saved plan and a fresh diff, in sentences naming scope and target."""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal

from reconciler.plan.explain import explain_difference
from reconciler.plan.model import Plan, ScopePlan
from reconciler.state.desired import Scope, Target
from reconciler.state.live import FaceValue, IssuedCoupon
from tests.support.plan_factories import ALIYUN, MSADS, issue, plan, sample_plan, scope_plan, with_error

M = str(MSADS)


def msads_changed(source: Plan, **changes: object) -> Plan:
    scopes = tuple(replace(s, **changes) if s.scope == MSADS else s for s in source.scopes)  # type: ignore[arg-type]
    return replace(source, scopes=scopes)


def msads(source: Plan) -> ScopePlan:
    return next(s for s in source.scopes if s.scope == MSADS)


def test_identical_plans_have_nothing_to_explain() -> None:
    saved = sample_plan()
    later = replace(saved, created_at=saved.created_at.replace(hour=18))
    assert explain_difference(saved, later) == []


def test_items_added_and_no_longer_needed_are_named_per_scope_and_sorted() -> None:
    saved = sample_plan()
    fresh_items = (*msads(saved).to_issue[1:], issue(Target.email("new@example.com"), "spring27-emails"))
    fresh = msads_changed(saved, to_issue=fresh_items)
    assert explain_difference(saved, fresh) == [
        f"{M}: account:180535609 is no longer to issue: it holds a coupon now, or no manifest declares it.",
        f"{M}: email:new@example.com is new to issue (declared in spring27-emails).",
    ]


def test_an_amount_change_is_named() -> None:
    saved = sample_plan()
    aliyun = saved.scopes[0]
    fresh = replace(
        saved, scopes=(replace(aliyun, to_issue=(replace(aliyun.to_issue[0], amount=Decimal(150)),)), saved.scopes[1])
    )
    assert explain_difference(saved, fresh) == [f"{ALIYUN}: uid:1918000000883 amount changed from 100 to 150."]


def test_scopes_added_and_removed() -> None:
    saved = sample_plan()
    extra = scope_plan(Scope("msads-prod", "251186883", "WINBACK27-RET-50"), to_issue=(issue(Target.account(7)),))
    fresh = plan(msads(saved), extra)
    assert explain_difference(saved, fresh) == [
        f"{ALIYUN}: no longer in the plan (the saved plan had 1 item to issue).",
        f"{ALIYUN}: uid:1918000000883 is no longer to issue: it holds a coupon now, or no manifest declares it.",
        "msads-prod/251186883/WINBACK27-RET-50: account:7 is new to issue (declared in spring27-acquisition).",
        "msads-prod/251186883/WINBACK27-RET-50: new scope, not in the saved plan (1 item to issue).",
    ]


def test_face_value_inventory_and_money_changes_are_named() -> None:
    saved = sample_plan()
    fresh = msads_changed(saved, face_value=FaceValue(Decimal("50.00"), "USD"), available=2, exposure=Decimal("150.00"))
    assert explain_difference(saved, fresh) == [
        f"{M}: exposure changed from USD 300.00 to USD 150.00.",
        f"{M}: face value changed from USD 100.00 (Acquisition) to USD 50.00.",
        f"{M}: inventory changed from 1,000 available to 2 available.",
    ]


def test_new_and_resolved_problems_are_named() -> None:
    saved = sample_plan()
    lines = explain_difference(saved, with_error(saved))
    assert f"{M}: new error (inventory-shortfall): 3 coupons needed but only 2 available in the class" in lines
    assert f"{M}: inventory changed from 1,000 available to 2 available." in lines
    assert explain_difference(with_error(saved), saved)[-1] == (
        f"{M}: inventory changed from 2 available to 1,000 available."
    )
    assert f"{M}: error (inventory-shortfall) no longer raised: 3 coupons needed but only 2 available in the class" in (
        explain_difference(with_error(saved), saved)
    )


def test_held_coupon_changes_are_named_coupon_by_coupon() -> None:
    saved = sample_plan()
    holder = msads(saved).unmanaged[0]
    changed = replace(
        holder, coupons=(replace(holder.coupons[0], status="redeemed"), IssuedCoupon("SPR-0999", "dispatched"))
    )
    newcomer = replace(holder, target=Target.account(999000222))
    fresh = msads_changed(saved, unmanaged=(changed, newcomer), removed=())
    assert explain_difference(saved, fresh) == [
        f"{M}: account:999000111, an unmanaged holder: coupon SPR-0900 status changed from claimed to redeemed.",
        f"{M}: account:999000111, an unmanaged holder: now also holds coupon SPR-0999 (dispatched).",
        f"{M}: account:999000222 is now an unmanaged holder; it holds 1 coupon: SPR-0900 claimed.",
        f"{M}: email:ana@example.com is no longer a removed holder.",
    ]


def test_a_tool_version_change_comes_first() -> None:
    saved = sample_plan()
    fresh = replace(msads_changed(saved, satisfied=41), tool_version="0.2.0")
    assert explain_difference(saved, fresh) == [
        "The saved plan was made by couponctl 0.1.0, this one by 0.2.0.",
        f"{M}: satisfied targets changed from 40 to 41.",
    ]


def test_a_difference_without_a_sentence_of_its_own_is_still_explained() -> None:
    saved = sample_plan()
    fresh = msads_changed(saved, face_value=FaceValue(Decimal("100.0"), "USD", "Acquisition"))
    (line,) = explain_difference(saved, fresh)
    assert line.startswith("Other difference: ") and "faceValue" in line and "100.0" in line
