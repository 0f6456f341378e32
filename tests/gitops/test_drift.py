"""detect_drift: unmanaged holders and void targets are drift; removed, pending and lagging targets are not."""

from __future__ import annotations

from decimal import Decimal

from reconciler.plan.drift import Drift, DriftKind, detect_drift
from reconciler.providers.registry import void_statuses
from reconciler.state.desired import DesiredItem, DesiredState, Expect, Position, Scope, ScopeSpec, Target
from reconciler.state.live import IssuedCoupon, JournalView, LiveState, ScopeLive
from tests.support.diff_factories import NOW, SCOPE, USD100, desired, live

ANA = Target.email("ana@example.com")
BO = Target.email("bo@example.com")
ACC = Target.account(180535609)
STRAY = Target.email("stray@example.net")


def check(state: DesiredState, scope_live: ScopeLive | None, journal: dict[Scope, JournalView] | None = None) -> Drift:
    lives = {} if scope_live is None else {scope_live.scope: scope_live}
    return detect_drift(state, LiveState(lives), checked_at=NOW, journal=journal, void_statuses=void_statuses())


def held(*coupons: tuple[str, str]) -> tuple[IssuedCoupon, ...]:
    return tuple(IssuedCoupon(code, status) for code, status in coupons)


def with_holders(holders: dict[Target, tuple[IssuedCoupon, ...]], *, scope: Scope = SCOPE) -> ScopeLive:
    return ScopeLive(scope, True, USD100, 100, holders)


def test_nothing_held_outside_the_manifests_is_no_drift() -> None:
    report = check(desired([ANA, BO]), live({ANA: ["CODE0000AAAA"], BO: ["CODE0000BBBB"]}))
    assert not report.has_drift and not report.has_errors
    assert report.exit_code == 0
    (scope,) = report.scopes
    assert scope.unmanaged == scope.void == scope.removed == ()


def test_a_coupon_issued_outside_the_manifests_is_unmanaged_drift_with_its_code_masked() -> None:
    report = check(desired([ANA]), live({ANA: ["CODE0000AAAA"], STRAY: ["CODE0000ZZZZ"]}))
    assert report.has_drift and report.exit_code == 2
    (item,) = report.scopes[0].unmanaged
    assert item.kind is DriftKind.UNMANAGED and item.target == STRAY
    assert [c.code for c in item.coupons] == ["****ZZZZ"]
    assert report.count(DriftKind.UNMANAGED) == 1


def test_a_holder_couponctl_issued_and_the_manifests_dropped_is_removed_information_not_drift() -> None:
    journal = {SCOPE: JournalView(issued=frozenset({BO}), managed=frozenset({BO}))}
    report = check(desired([ANA]), live({ANA: ["CODE0000AAAA"], BO: ["CODE0000BBBB"]}), journal)
    assert not report.has_drift and report.exit_code == 0
    (removed,) = report.scopes[0].removed
    assert removed.kind is DriftKind.REMOVED and removed.target == BO


def test_an_emailed_coupon_redeemed_by_an_undeclared_account_is_not_drift() -> None:
    coupon = IssuedCoupon("CODE0000AAAA", "redeemed")
    report = check(desired([ANA]), with_holders({ANA: (coupon,), ACC: (coupon,)}))
    assert not report.has_drift


def test_a_declared_target_whose_every_coupon_expired_is_void_drift() -> None:
    report = check(
        desired([ANA, BO]), with_holders({ANA: held(("CODE0000AAAA", "expired")), BO: held(("C2", "claimed"))})
    )
    assert report.exit_code == 2
    (item,) = report.scopes[0].void
    assert item.kind is DriftKind.VOID and item.target == ANA and item.manifest == "m1"
    assert [(c.code, c.status) for c in item.coupons] == [("****AAAA", "expired")]


def test_a_target_with_one_live_coupon_beside_a_void_one_is_not_void() -> None:
    report = check(desired([ANA]), with_holders({ANA: held(("C1AAAAAA", "expired"), ("C2BBBBBB", "redeemed"))}))
    assert report.scopes[0].void == () and report.count(DriftKind.VOID) == 0
    # ... but it was paid twice, and that is drift (invariant 10)
    assert [i.target for i in report.scopes[0].held_twice] == [ANA]


def test_void_statuses_are_per_provider_type_and_case_insensitive() -> None:
    scope = Scope("reseller", "3944837183", "295873")
    spec = ScopeSpec(scope, "aliyun", ("r1",))
    uid = Target.uid(1918000000883)
    state = DesiredState({scope: spec}, {scope: {uid: DesiredItem(uid, "r1", Position("r.yaml", 1, 1), Decimal(5))}})
    for status, void in (("ABANDONED", True), ("Expired", True), ("AVAILABLE", False), ("EXHAUSTED", False)):
        report = check(state, with_holders({uid: held(("ALIYUN-CODE-1", status))}, scope=scope))
        assert bool(report.scopes[0].void) is void, status
    # msads does not call a redeemed coupon void; an unknown provider type has no void status at all
    assert not check(desired([ANA]), with_holders({ANA: held(("CODE0000AAAA", "ABANDONED"))})).has_drift
    custom = detect_drift(
        desired([ANA]),
        LiveState({SCOPE: with_holders({ANA: held(("CODE0000AAAA", "voided"))})}),
        checked_at=NOW,
        void_statuses={"msads": frozenset({"VOIDED"})},
    )
    assert custom.has_drift


def test_a_class_the_vendor_does_not_know_is_an_error_exit_1_even_with_drift_elsewhere() -> None:
    report = check(desired([ANA]), live(exists=False))
    assert report.has_errors and report.exit_code == 1
    assert [p.code for p in report.scopes[0].errors] == ["class-not-found"]
    missing = check(desired([ANA]), None)
    assert [p.code for p in missing.scopes[0].errors] == ["live-state-missing"]


def test_an_inventory_shortfall_is_about_issuing_not_drift() -> None:
    report = check(desired([ANA, BO]), live(available=0))
    assert not report.has_errors and report.exit_code == 0
    assert report.scopes[0].pending == 2


def test_an_expect_mismatch_is_an_error() -> None:
    state = desired([ANA], expect=Expect(Decimal(50), "USD"))
    assert check(state, live({ANA: ["CODE0000AAAA"]})).exit_code == 1


def test_targets_issued_per_the_journal_but_not_visible_yet_are_information() -> None:
    journal = {SCOPE: JournalView(issued=frozenset({BO}), managed=frozenset({BO}))}
    report = check(desired([ANA, BO]), live({ANA: ["CODE0000AAAA"]}), journal)
    assert not report.has_drift
    assert report.scopes[0].not_visible == 1 and report.scopes[0].pending == 0


def test_a_target_held_twice_is_drift_not_a_mere_warning() -> None:
    report = check(desired([ANA]), live({ANA: ["CODE0000AAAA", "CODE0000BBBB"]}))
    assert report.has_drift and report.exit_code == 2
    (item,) = report.scopes[0].held_twice
    assert item.kind is DriftKind.HELD_TWICE and item.target == ANA
    assert [c.code for c in item.coupons] == ["****AAAA", "****BBBB"]
    assert report.scopes[0].warnings == ()  # reported once, as drift


def test_an_undeclared_target_paid_twice_is_drift_and_a_coupon_it_only_redeemed_does_not_count() -> None:
    emailed = IssuedCoupon("CODE0000CCCC", "redeemed")
    own = IssuedCoupon("CODE0000DDDD", "claimed")
    redeemed_only = IssuedCoupon("CODE0000CCCC", "redeemed", received=False)
    report = check(desired([ANA]), with_holders({ANA: (emailed,), ACC: (own, redeemed_only)}))
    assert report.scopes[0].held_twice == ()  # ACC claimed one and redeemed ANA's: paid once
    other = IssuedCoupon("CODE0000EEEE", "claimed")
    twice = check(desired([ANA]), with_holders({ANA: (emailed,), STRAY: (own, other)}))
    assert [i.target for i in twice.scopes[0].held_twice] == [STRAY] and twice.exit_code == 2


def test_same_inputs_same_report_scopes_sorted() -> None:
    other = Scope("msads-local", "251186883", "AAA-FIRST")
    a, b = desired([ANA]), desired([BO], scope=other)
    state = DesiredState({**a.scopes, **b.scopes}, {**a.items, **b.items})
    lives = LiveState({SCOPE: live({ANA: ["X1234567"]}), other: live({STRAY: ["Y1234567"]}, scope=other)})
    first = detect_drift(state, lives, checked_at=NOW, void_statuses=void_statuses())
    assert first == detect_drift(state, lives, checked_at=NOW, void_statuses=void_statuses())
    assert [s.scope for s in first.scopes] == [other, SCOPE]
