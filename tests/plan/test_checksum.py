"""The checksum covers what a plan says, not when it was made, and any change to it."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import replace
from datetime import timedelta
from decimal import Decimal

import pytest

from reconciler.plan.checksum import checksum_content, plan_checksum, verify_checksum, with_checksum
from reconciler.plan.model import Plan, PlanProblem, ScopePlan, Severity
from reconciler.plan.serialize import plan_from_json, plan_to_json
from reconciler.state.desired import Target
from reconciler.state.live import FaceValue
from tests.support.plan_factories import issue, sample_plan


def change_scope(change: Callable[[ScopePlan], ScopePlan], index: int = 1) -> Callable[[Plan], Plan]:
    """A plan edit that changes one scope (by default the second, msads, one) and nothing else."""
    return lambda p: replace(p, scopes=tuple(change(s) if n == index else s for n, s in enumerate(p.scopes)))


def test_checksum_is_sha256_hex() -> None:
    assert re.fullmatch(r"[0-9a-f]{64}", plan_checksum(sample_plan()))


def test_two_identical_diffs_made_at_different_times_have_the_same_checksum() -> None:
    earlier = sample_plan()
    later = replace(earlier, created_at=earlier.created_at + timedelta(days=3))
    assert plan_checksum(earlier) == plan_checksum(later)


def test_the_checksum_does_not_cover_itself() -> None:
    made = with_checksum(sample_plan())
    assert plan_checksum(made) == made.checksum
    assert "checksum" not in checksum_content(made) and "createdAt" not in checksum_content(made)


def test_coupons_in_another_vendor_order_hash_the_same() -> None:
    made = sample_plan()
    holder = made.scopes[1].unmanaged[0]
    two = replace(holder, coupons=(*holder.coupons, replace(holder.coupons[0], code="SPR-0000")))
    swapped = replace(two, coupons=tuple(reversed(two.coupons)))
    one_way = change_scope(lambda s: replace(s, unmanaged=(two,)))(made)
    other_way = change_scope(lambda s: replace(s, unmanaged=(swapped,)))(made)
    assert plan_checksum(one_way) == plan_checksum(other_way)


@pytest.mark.parametrize(
    "change",
    [
        change_scope(lambda s: replace(s, to_issue=(*s.to_issue, issue(Target.account(1))))),
        change_scope(lambda s: replace(s, to_issue=s.to_issue[1:])),
        change_scope(lambda s: replace(s, to_issue=(replace(s.to_issue[0], manifest="other"), *s.to_issue[1:]))),
        change_scope(lambda s: replace(s, to_issue=(replace(s.to_issue[0], amount=Decimal(99)),)), index=0),
        change_scope(lambda s: replace(s, face_value=FaceValue(Decimal("50.00"), "USD"))),
        change_scope(lambda s: replace(s, available=999)),
        change_scope(lambda s: replace(s, satisfied=41)),
        change_scope(lambda s: replace(s, send_notification=True)),
        change_scope(
            lambda s: replace(
                s,
                unmanaged=(replace(s.unmanaged[0], coupons=(replace(s.unmanaged[0].coupons[0], status="redeemed"),)),),
            )
        ),
        change_scope(lambda s: replace(s, problems=(PlanProblem(Severity.ERROR, "x", "y"),))),
        lambda p: replace(p, tool_version="0.2.0"),
        lambda p: replace(p, scopes=p.scopes[1:]),
    ],
    ids=[
        "item-added",
        "item-removed",
        "item-manifest",
        "item-amount",
        "face-value",
        "inventory",
        "satisfied",
        "notification",
        "coupon-status",
        "problem",
        "tool-version",
        "scope-removed",
    ],
)
def test_any_change_to_what_the_plan_says_changes_the_checksum(change: Callable[[Plan], Plan]) -> None:
    made = sample_plan()
    assert plan_checksum(change(made)) != plan_checksum(made)


def test_with_checksum_returns_a_copy_that_verifies() -> None:
    made = sample_plan()
    checked = with_checksum(made)
    assert made.checksum == "" and checked.checksum == plan_checksum(made)
    assert replace(checked, checksum="") == made
    assert verify_checksum(checked)


def test_a_plan_without_a_checksum_never_verifies() -> None:
    assert not verify_checksum(sample_plan())


def test_an_altered_plan_does_not_verify() -> None:
    checked = with_checksum(sample_plan())
    altered = change_scope(lambda s: replace(s, to_issue=(*s.to_issue, issue(Target.account(7)))))(checked)
    assert not verify_checksum(altered)


def test_the_checksum_survives_a_save_and_load() -> None:
    checked = with_checksum(sample_plan())
    assert verify_checksum(plan_from_json(plan_to_json(checked), "p.json"))
