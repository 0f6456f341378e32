"""The pure diff: every rule of the plan, one test each."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

from reconciler.plan.diff import diff
from reconciler.plan.model import Plan
from reconciler.state.desired import Expect, Target
from reconciler.state.live import IssuedCoupon, JournalView, LiveState, ScopeLive
from tests.support.diff_factories import SCOPE, desired, live

NOW = datetime(2027, 1, 1, tzinfo=UTC)
A1, A2 = Target.account(180535609), Target.account(180535610)
E1, E2 = Target.email("owner@example.com"), Target.email("ana@example.com")


def run(state_targets: list[Target], **live_kwargs: object) -> Plan:
    issued = live_kwargs.pop("issued", None)
    scope_live = live(issued, **live_kwargs)  # type: ignore[arg-type]
    return diff(desired(state_targets), LiveState({SCOPE: scope_live}), created_at=NOW)


def test_missing_targets_are_issued_in_target_order() -> None:
    plan = run([E1, A2, A1])
    assert [i.target for i in plan.scopes[0].to_issue] == [A1, A2, E1]
    assert plan.item_count == 3 and plan.has_changes


def test_targets_holding_a_coupon_are_satisfied_not_issued() -> None:
    plan = run([A1, E1], issued={A1: ["C1"], E1: ["C2"]})
    assert plan.scopes[0].to_issue == ()
    assert plan.scopes[0].satisfied == 2
    assert not plan.has_changes


def test_a_target_holding_two_coupons_is_warned_about() -> None:
    plan = run([A1], issued={A1: ["C1", "C2"]})
    assert [p.code for p in plan.scopes[0].warnings] == ["held-more-than-once"]
    assert not plan.has_errors


def test_undeclared_holders_are_unmanaged_information_never_actions() -> None:
    plan = run([A1], issued={A2: ["C9"]})
    scope = plan.scopes[0]
    assert [h.target for h in scope.unmanaged] == [A2]
    assert [i.target for i in scope.to_issue] == [A1]
    assert scope.removed == ()


def test_holders_couponctl_issued_to_but_no_longer_declared_are_removed_not_revoked() -> None:
    plan = diff(
        desired([A1]),
        LiveState({SCOPE: live({A1: ["C1"], A2: ["C2"]})}),
        created_at=NOW,
        journal={SCOPE: JournalView(issued=frozenset({A1, A2}), managed=frozenset({A1, A2}))},
    )
    scope = plan.scopes[0]
    assert [h.target for h in scope.removed] == [A2]
    assert "cannot be revoked" in scope.removed[0].note
    assert scope.unmanaged == () and scope.to_issue == ()


def test_a_declared_coupon_redeemed_by_another_account_is_not_unmanaged() -> None:
    plan = run([E1], issued={E1: ["C1"], A2: ["C1"]})
    assert plan.scopes[0].unmanaged == ()


def test_inventory_shortfall_is_a_plan_error() -> None:
    plan = run([A1, A2, E1], available=2)
    assert [p.code for p in plan.scopes[0].errors] == ["inventory-shortfall"]
    assert plan.has_errors


def test_inventory_exactly_enough_is_fine() -> None:
    assert not run([A1, A2], available=2).has_errors


def test_expect_mismatch_on_amount_and_currency_are_plan_errors() -> None:
    plan = diff(desired([A1], expect=Expect(Decimal(50), "EUR")), LiveState({SCOPE: live()}), created_at=NOW)
    assert [p.code for p in plan.scopes[0].errors] == ["expect-mismatch", "expect-mismatch"]


def test_expect_matching_is_no_error() -> None:
    plan = diff(desired([A1], expect=Expect(Decimal("100.0"), "usd")), LiveState({SCOPE: live()}), created_at=NOW)
    assert not plan.has_errors


def test_an_unknown_class_is_a_plan_error() -> None:
    plan = run([A1], exists=False, face=None, available=0)
    assert "class-not-found" in [p.code for p in plan.scopes[0].errors]


def test_a_scope_whose_live_state_is_missing_is_an_error() -> None:
    plan = diff(desired([A1]), LiveState({}), created_at=NOW)
    assert [p.code for p in plan.scopes[0].errors] == ["live-state-missing"]


def test_exposure_is_face_value_times_items_per_currency() -> None:
    plan = run([A1, A2, E1])
    assert plan.scopes[0].exposure == Decimal(300)
    assert plan.exposure() == {"USD": Decimal(300)}


def test_exposure_of_items_with_their_own_amounts_is_their_sum() -> None:
    plan = diff(desired([A1, A2], amounts=True), LiveState({SCOPE: live()}), created_at=NOW)
    assert plan.scopes[0].exposure == Decimal(20)


def test_no_changes_has_zero_exposure() -> None:
    plan = run([A1], issued={A1: ["C1"]})
    assert plan.exposure() == {"USD": Decimal(0)}


def test_diff_is_deterministic() -> None:
    assert run([E2, E1, A1]) == run([A1, E1, E2])


def test_plans_never_carry_a_full_coupon_code() -> None:
    plan = run([A1], issued={A1: ["SPRING-SECRET-0001", "SPRING-SECRET-0002"], A2: ["SPRING-SECRET-0003"]})
    text = repr(plan)
    assert "SPRING-SECRET" not in text
    assert plan.scopes[0].unmanaged[0].coupons[0].code == "****0003"
    assert "****0001, ****0002" in plan.scopes[0].warnings[0].message


def test_journal_issued_targets_not_yet_visible_count_as_satisfied() -> None:
    plan = diff(
        desired([A1, A2]),
        LiveState({SCOPE: live()}),
        created_at=NOW,
        journal={SCOPE: JournalView(issued=frozenset({A1}), managed=frozenset({A1}))},
    )
    scope = plan.scopes[0]
    assert [i.target for i in scope.to_issue] == [A2]
    assert scope.satisfied == 1 and scope.not_yet_visible == 1


def test_in_doubt_targets_are_blocked_not_issued_and_reserve_inventory() -> None:
    plan = diff(
        desired([A1, A2]),
        LiveState({SCOPE: live(available=1)}),
        created_at=NOW,
        journal={SCOPE: JournalView(in_doubt=frozenset({A1}), managed=frozenset({A1}))},
    )
    scope = plan.scopes[0]
    assert [i.target for i in scope.to_issue] == [A2]
    assert [i.target for i in scope.in_doubt] == [A1]
    assert [p.code for p in scope.errors] == ["inventory-shortfall"]


def test_an_in_doubt_target_that_live_state_shows_is_satisfied() -> None:
    plan = diff(
        desired([A1]),
        LiveState({SCOPE: live({A1: ["C1"]})}),
        created_at=NOW,
        journal={SCOPE: JournalView(in_doubt=frozenset({A1}), managed=frozenset({A1}))},
    )
    assert plan.scopes[0].in_doubt == () and plan.scopes[0].satisfied == 1


U1, U2, U3 = Target.uid(1918000000883), Target.uid(1918000000884), Target.uid(1918000000885)


def test_a_uid_holding_a_coupon_of_another_amount_is_a_mismatch_never_issued_again() -> None:
    scope_live = ScopeLive(
        SCOPE,
        True,
        None,
        None,
        {
            U1: (IssuedCoupon("C-1", "AVAILABLE", Decimal(50), "CNY"),),
            U2: (IssuedCoupon("C-2", "EXHAUSTED", Decimal(10), "CNY"),),
        },
        currency="CNY",
    )
    plan = diff(desired([U1, U2, U3], amounts=True), LiveState({SCOPE: scope_live}), created_at=NOW)
    scope = plan.scopes[0]
    assert [h.target for h in scope.mismatched] == [U1]
    assert "declared amount 10, holds 50" in scope.mismatched[0].note
    assert [i.target for i in scope.to_issue] == [U3]
    assert scope.satisfied == 1
    assert [p.code for p in scope.warnings] == ["amount-mismatch"]


def test_a_scope_without_a_face_value_takes_its_currency_for_exposure() -> None:
    scope_live = ScopeLive(SCOPE, True, None, None, {}, currency="CNY")
    plan = diff(desired([U1, U2], amounts=True), LiveState({SCOPE: scope_live}), created_at=NOW)
    assert plan.exposure() == {"CNY": Decimal(20)}
    assert plan.scopes[0].currency == "CNY"


def test_a_target_paid_twice_is_warned_about_with_masked_codes_and_dates_declared_or_not() -> None:
    first = IssuedCoupon("SECRETCODE1111", "claimed", issue_date=datetime(2027, 3, 2, 10, 0, 0, 900, tzinfo=UTC))
    second = IssuedCoupon("SECRETCODE2222", "dispatched", issued_at="2027-03-02 18:00:07")  # not an issue date
    third = IssuedCoupon("SECRETCODE3333", "claimed")
    holders = {A1: (second, first), E2: (third, IssuedCoupon("SECRETCODE4444", "claimed"))}
    plan = diff(desired([A1]), LiveState({SCOPE: ScopeLive(SCOPE, True, None, 10, holders)}), created_at=NOW)
    messages = [p.message for p in plan.scopes[0].warnings if p.code == "held-more-than-once"]
    assert messages == [
        "account:180535609 holds 2 coupons of this class: ****1111, ****2222"
        " (issued 2027-03-02T10:00:00Z, 2027-03-02 18:00:07)",
        "email:ana@example.com holds 2 coupons of this class: ****3333, ****4444 (issued date unknown, date unknown)",
    ]
    assert "SECRETCODE" not in str(plan)


def test_a_coupon_the_target_only_redeemed_does_not_make_it_paid_twice() -> None:
    own = IssuedCoupon("C0000001", "claimed")
    redeemed = IssuedCoupon("C0000002", "redeemed", received=False)  # emailed to someone else, redeemed here
    scope_live = ScopeLive(SCOPE, True, None, 10, {A1: (own, redeemed)})
    plan = diff(desired([A1]), LiveState({SCOPE: scope_live}), created_at=NOW)
    assert plan.scopes[0].warnings == ()
