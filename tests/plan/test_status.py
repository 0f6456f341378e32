"""campaign_status: each count's definition, money per currency, dates per day, manifests and labels."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal

from reconciler.plan.status import CampaignStatus, Tally, campaign_status
from reconciler.providers.registry import void_statuses
from reconciler.state.desired import DesiredItem, DesiredState, Position, Scope, ScopeSpec, Target
from reconciler.state.live import FaceValue, IssuedCoupon, LiveState, ScopeLive

NOW = datetime(2027, 3, 10, 12, 0, tzinfo=UTC)
MS = Scope("msads-local", "251186883", "SPRING27-ACQ-100")
ALI = Scope("aliyun-local", "1001", "5001")
DAY1 = datetime(2027, 3, 1, 9, 30, tzinfo=UTC)
DAY2 = datetime(2027, 3, 2, 23, 59, tzinfo=UTC)


def email(n: int) -> Target:
    return Target.email(f"t{n}@example.com")


def state(ms: dict[Target, str], ali: dict[Target, str], labels: dict[str, dict[str, str]]) -> DesiredState:
    """``ms`` and ``ali`` map each target to the manifest that declares it."""
    manifests_ms = tuple(sorted(set(ms.values())))
    manifests_ali = tuple(sorted(set(ali.values())))
    return DesiredState(
        {MS: ScopeSpec(MS, "msads", manifests_ms), ALI: ScopeSpec(ALI, "aliyun", manifests_ali)},
        {
            MS: {t: DesiredItem(t, m, Position(f"{m}.yaml", 1, 1)) for t, m in ms.items()},
            ALI: {t: DesiredItem(t, m, Position(f"{m}.yaml", 1, 1), Decimal(50)) for t, m in ali.items()},
        },
        labels,
    )


def check(
    desired: DesiredState, ms: dict[Target, tuple[IssuedCoupon, ...]], ali: dict[Target, tuple[IssuedCoupon, ...]]
) -> CampaignStatus:
    live = LiveState(
        {
            MS: ScopeLive(MS, True, FaceValue(Decimal(100), "USD"), 10, ms),
            ALI: ScopeLive(ALI, True, None, None, ali, currency="CNY"),
        }
    )
    return campaign_status(desired, live, checked_at=NOW, void_statuses=void_statuses())


def sent(code: str, *, day: datetime | None = DAY1) -> IssuedCoupon:
    return IssuedCoupon(code, "dispatched", issue_date=day)


def claimed(code: str) -> IssuedCoupon:
    return IssuedCoupon(code, "claimed", issue_date=DAY1, claimed=True)


def redeemed(code: str, *, on: datetime | None = DAY2) -> IssuedCoupon:
    return IssuedCoupon(code, "redeemed", issue_date=DAY1, claimed=True, redeemed=True, redemption_date=on)


def counts(tally: Tally) -> tuple[int, ...]:
    return (tally.declared, tally.issued, tally.claimed, tally.redeemed, tally.expired, tally.void)


def test_each_declared_target_counts_once_in_every_stage_it_reached() -> None:
    desired = state({email(n): "spring" for n in range(6)}, {}, {})
    report = check(
        desired,
        {
            email(0): (sent("A"),),
            email(1): (claimed("B"),),
            email(2): (redeemed("C"),),
            email(3): (IssuedCoupon("D", "expired", issue_date=DAY1),),
            # email(4) holds nothing; email(5) was paid twice, one of them redeemed: one target, redeemed
            email(5): (sent("E"), redeemed("F")),
        },
        {},
    )
    (spring,) = report.manifests
    assert counts(spring.tally) == (6, 5, 3, 2, 1, 0)
    assert counts(report.total.tally) == (6, 5, 3, 2, 1, 0)


def test_money_counts_coupons_issued_value_and_spend_per_currency() -> None:
    desired = state({email(1): "spring", email(2): "spring"}, {Target.uid(7): "ali", Target.uid(8): "ali"}, {})
    report = check(
        desired,
        {email(1): (sent("A"), sent("B")), email(2): (redeemed("C"),)},
        {
            Target.uid(7): (IssuedCoupon("1", "EXHAUSTED", Decimal(50), "CNY", claimed=True, redeemed=True),),
            Target.uid(8): (IssuedCoupon("2", "ABANDONED", Decimal(50), "CNY", claimed=True),),
        },
    )
    total = report.total.tally
    assert total.issued_value == {"CNY": Decimal(50), "USD": Decimal(300)}  # the voided 50 CNY is not committed
    assert total.spend == {"CNY": Decimal(50), "USD": Decimal(100)}
    ali = next(g for g in report.manifests if g.name == "ali")
    assert counts(ali.tally) == (2, 2, 2, 1, 0, 1)


def test_a_coupon_redeemed_by_an_account_it_was_not_issued_to_does_not_count_for_that_account() -> None:
    account = Target.account(180535609)
    desired = state({email(1): "spring", account: "spring"}, {}, {})
    coupon = redeemed("A")
    report = check(desired, {email(1): (coupon,), account: (replace(coupon, received=False),)}, {})
    assert counts(report.total.tally) == (2, 1, 1, 1, 0, 0)
    assert report.total.tally.spend == {"USD": Decimal(100)}


def test_issues_and_redemptions_are_counted_per_utc_day_and_undated_ones_apart() -> None:
    desired = state({email(n): "spring" for n in range(4)}, {}, {})
    report = check(
        desired,
        {
            email(0): (redeemed("A"),),
            email(1): (redeemed("B", on=None),),
            email(2): (sent("C", day=DAY2),),
            email(3): (sent("D", day=None),),
        },
        {},
    )
    tally = report.total.tally
    assert tally.issued_by_day == {date(2027, 3, 1): 2, date(2027, 3, 2): 1}
    assert tally.redeemed_by_day == {date(2027, 3, 2): 1}
    assert (tally.undated_issued, tally.undated_redeemed) == (1, 1)


def test_labels_group_every_manifest_that_carries_them() -> None:
    desired = state(
        {email(1): "spring", email(2): "winback"},
        {Target.uid(7): "ali"},
        {"spring": {"team": "growth"}, "winback": {"team": "growth", "q": "2"}, "ali": {"team": "cn"}},
    )
    report = check(desired, {email(1): (redeemed("A"),)}, {})
    assert [(g.name, g.manifests) for g in report.labels] == [
        ("q=2", ("winback",)),
        ("team=cn", ("ali",)),
        ("team=growth", ("spring", "winback")),
    ]
    growth = report.labels[2].tally
    assert counts(growth) == (2, 1, 1, 1, 0, 0)
    assert growth.spend == {"USD": Decimal(100)}


def test_a_scope_the_read_did_not_return_counts_as_nothing_issued() -> None:
    desired = state({email(1): "spring"}, {}, {})
    report = campaign_status(desired, LiveState({}), checked_at=NOW, void_statuses=void_statuses())
    assert counts(report.total.tally) == (1, 0, 0, 0, 0, 0)


def test_a_coupon_in_another_currency_than_the_face_value_without_its_own_amount_is_unpriced() -> None:
    """The class's face value is USD 100; a coupon the vendor shows in EUR, without an amount, is not EUR 100."""
    desired = state({email(1): "spring", email(2): "spring"}, {}, {})
    euro = IssuedCoupon("E", "redeemed", None, "EUR", issue_date=DAY1, claimed=True, redeemed=True)
    dollar = IssuedCoupon("D", "redeemed", None, "USD", issue_date=DAY1, claimed=True, redeemed=True)
    total = check(desired, {email(1): (euro,), email(2): (dollar,)}, {}).total.tally
    assert total.issued_value == {"USD": Decimal(100)} and total.spend == {"USD": Decimal(100)}
    assert total.unpriced == 1


def test_a_vendor_date_at_the_edge_of_the_calendar_is_counted_not_a_traceback() -> None:
    """.NET's DateTime.MinValue (0001-01-01) is what Microsoft's APIs send for "no date"; in UTC+8 it is a day
    before the calendar begins. Such a date counts as undated; 0001-01-01 and 9999-12-31 in UTC still count."""
    beijing = timezone(timedelta(hours=8))
    desired = state({email(1): "spring", email(2): "spring", email(3): "spring"}, {}, {})
    report = check(
        desired,
        {
            email(1): (sent("A", day=datetime(1, 1, 1, tzinfo=beijing)),),
            email(2): (redeemed("B", on=datetime(1, 1, 1, tzinfo=UTC)),),
            email(3): (sent("C", day=datetime(9999, 12, 31, 23, tzinfo=UTC)),),
        },
        {},
    )
    total = report.total.tally
    assert total.undated_issued == 1 and total.issued_by_day == {date(2027, 3, 1): 1, date(9999, 12, 31): 1}
    assert total.redeemed_by_day == {date(1, 1, 1): 1}
