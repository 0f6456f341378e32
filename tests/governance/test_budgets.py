"""Budgets against what the journal records: spent and in doubt in each kind of period, what a plan adds and what
remains; selectors by provider, scope and the labels recorded when the money went out; what cannot be priced.
The journal is written directly, on a controlled clock, on SQLite and PostgreSQL alike."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from reconciler.apply.journal import Journal, Money
from reconciler.governance.budgets import (
    Spending,
    breach_lines,
    budget_statuses,
    budgets_touched,
    spending_read,
)
from reconciler.governance.model import Budget, BudgetStatus, Period, PeriodKind, Selector
from reconciler.plan.model import Plan, PlanItem
from reconciler.providers.base import Batch, BatchResult, ItemResult, Outcome
from reconciler.state.desired import DesiredItem, DesiredState, Position, Scope, ScopeSpec, Target
from reconciler.state.live import FaceValue
from tests.support.plan_factories import plan, scope_plan

SPRING = Scope("msads-local", "251186883", "SPRING27-ACQ-100")
WINBACK = Scope("msads-local", "251186883", "WINBACK27-RET-50")
RESELLER = Scope("aliyun-local", "3944837183", "295873")
USD100 = FaceValue(Decimal(100), "USD")
USD50 = FaceValue(Decimal(50), "USD")
MANIFEST_OF = {SPRING: "spring", WINBACK: "winback", RESELLER: "reseller"}
LABELS: dict[str, Mapping[str, str]] = {
    "spring": {"team": "growth", "program": "spring27"},
    "winback": {"team": "retention"},
    "reseller": {"team": "channel"},
}
#: Now, on the journal's clock: 10:00 UTC on 15 May 2027 (12:00 in Berlin, CEST).
NOW = datetime(2027, 5, 15, 10, tzinfo=UTC)
AT = Position("couponctl.yaml", 1, 1)


class Clock:
    def __init__(self) -> None:
        self.now = NOW.timestamp()

    def __call__(self) -> float:
        return self.now

    def at(self, moment: datetime) -> None:
        self.now = moment.timestamp()


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def journal(journal_location: str, clock: Clock) -> Iterator[Journal]:
    opened = Journal(journal_location, clock=clock)
    yield opened
    opened.close()


def email(n: int) -> Target:
    return Target.email(f"t{n}@example.com")


def desired(labels: Mapping[str, Mapping[str, str]] = LABELS, targets: int = 20) -> DesiredState:
    """Each scope declared by its one manifest, with targets t0..t19 (the reseller's at their own amounts)."""
    specs = {
        scope: ScopeSpec(scope, "aliyun" if scope is RESELLER else "msads", (name,))
        for scope, name in MANIFEST_OF.items()
    }
    items = {
        scope: {
            email(n): DesiredItem(email(n), name, AT, Decimal("0.10") if scope is RESELLER else None)
            for n in range(targets)
        }
        for scope, name in MANIFEST_OF.items()
    }
    return DesiredState(specs, items, labels)


def record(
    journal: Journal,
    clock: Clock,
    at: datetime,
    scope: Scope,
    targets: range,
    outcome: Outcome | None,
    *,
    labels: Mapping[str, Mapping[str, str]] | None = LABELS,
    amount: Decimal | None = None,
    money: Money | None = None,
) -> None:
    """Items of ``scope`` whose intent was recorded at ``at`` (by the manifests' ``labels`` then) and whose call
    answered ``outcome`` (None: no answer, PENDING). The scope's money is its face value unless ``money`` says."""
    clock.at(at)
    run = journal.start_run(f"sum-{at.isoformat()}-{scope}", "0.1", None, None)
    items = tuple(PlanItem(email(n), MANIFEST_OF[scope], amount) for n in targets)
    batch = Batch(scope, "DispatchCoupons", items)
    face = {SPRING: Money(Decimal(100), "USD"), WINBACK: Money(Decimal(50), "USD"), RESELLER: Money(None, "CNY")}
    batch_id = journal.record_intent(run, batch, money or face[scope], labels=labels)
    if outcome is not None:
        journal.record_outcome(batch_id, BatchResult(batch, tuple(ItemResult(i, outcome) for i in items)))


def budget(
    name: str,
    amounts: Mapping[str, str],
    period: Period = Period(PeriodKind.LIFETIME),  # noqa: B008 - a frozen value
    selector: Selector = Selector(),  # noqa: B008 - a frozen value
) -> Budget:
    return Budget(name, selector, period, {c: Decimal(a) for c, a in amounts.items()}, AT)


def statuses(
    journal: Journal, budgets: list[Budget], the_plan: Plan, state: DesiredState | None = None
) -> dict[tuple[str, str], BudgetStatus]:
    """What a plan shows at NOW: the journal read once for every budget, as governance reads it."""
    read = spending_read(budgets, NOW)
    assert read is not None
    rows = journal.spending(read.since, read.until, boundaries=read.boundaries)
    found = budget_statuses(budgets, the_plan, state or desired(), rows, NOW)
    return {(s.name, s.currency): s for s in found}


def adding(*scopes: tuple[Scope, int]) -> Plan:
    """A plan made at NOW to issue ``count`` new targets (t100...) of each scope."""
    parts = []
    for scope, count in scopes:
        amount = Decimal("0.10") if scope is RESELLER else None
        items = tuple(PlanItem(email(100 + n), MANIFEST_OF[scope], amount) for n in range(count))
        face = {SPRING: USD100, WINBACK: USD50, RESELLER: None}[scope]
        parts.append(scope_plan(scope, to_issue=items, face_value=face, currency="CNY" if scope is RESELLER else None))
    return plan(*parts, created_at=NOW)


def test_lifetime_counts_what_was_issued_and_what_is_in_doubt_never_what_failed(journal: Journal, clock: Clock) -> None:
    long_ago = datetime(2020, 1, 1, tzinfo=UTC)
    record(journal, clock, long_ago, SPRING, range(0, 3), Outcome.ISSUED)  # 300 spent
    record(journal, clock, long_ago, SPRING, range(3, 5), Outcome.FAILED)  # nothing paid
    record(journal, clock, NOW - timedelta(hours=1), WINBACK, range(0, 2), Outcome.IN_DOUBT)  # 100 in doubt
    record(journal, clock, NOW - timedelta(minutes=1), WINBACK, range(2, 3), None)  # 50 in doubt: no answer yet
    found = statuses(journal, [budget("all", {"USD": "600"})], adding((SPRING, 1)))
    status = found["all", "USD"]
    assert (status.spent, status.in_doubt, status.adds) == (Decimal(300), Decimal(150), Decimal(100))
    assert status.remaining == Decimal(50) and not status.breach
    assert (status.period, status.period_start, status.period_end) == ("lifetime", None, None)

    tight = statuses(journal, [budget("tight", {"USD": "500"})], adding((SPRING, 1)))["tight", "USD"]
    assert tight.remaining == Decimal(-50) and tight.breach  # the items in doubt count as spent


def test_in_doubt_items_count_until_resolved_and_then_as_what_the_read_decided(journal: Journal, clock: Clock) -> None:
    record(journal, clock, NOW - timedelta(days=1), SPRING, range(0, 4), Outcome.IN_DOUBT)
    limit = [budget("b", {"USD": "1000"})]
    before = statuses(journal, limit, adding())["b", "USD"]
    assert (before.spent, before.in_doubt) == (Decimal(0), Decimal(400))
    items = journal.items()
    journal.resolve([items[0].id, items[1].id], "RESOLVED_ISSUED", by="t", reason="read shows it")
    journal.resolve([items[2].id], "RESOLVED_NOT_ISSUED", by="t", reason="read proves absence")
    after = statuses(journal, limit, adding())["b", "USD"]
    assert (after.spent, after.in_doubt) == (Decimal(200), Decimal(100))
    journal.mark_issued_late([items[2].id], "a read showed it after all")
    late = statuses(journal, limit, adding())["b", "USD"]
    assert (late.spent, late.in_doubt) == (Decimal(300), Decimal(100))


def test_a_calendar_month_in_berlin_counts_from_its_local_midnight(journal: Journal, clock: Clock) -> None:
    start = datetime(2027, 4, 30, 22, tzinfo=UTC)  # 00:00 CEST on 1 May
    record(journal, clock, start - timedelta(microseconds=1), SPRING, range(0, 1), Outcome.ISSUED)  # April
    record(journal, clock, start, SPRING, range(1, 3), Outcome.ISSUED)  # May's first instant
    record(journal, clock, NOW, WINBACK, range(0, 1), Outcome.IN_DOUBT)
    month = Period(PeriodKind.MONTH, time_zone="Europe/Berlin")
    status = statuses(journal, [budget("may", {"USD": "1000"}, month)], adding((WINBACK, 2)))["may", "USD"]
    assert (status.spent, status.in_doubt, status.adds, status.remaining) == (
        Decimal(200),
        Decimal(50),
        Decimal(100),
        Decimal(650),
    )
    assert (status.period_start, status.period_end) == (start, datetime(2027, 5, 31, 22, tzinfo=UTC))
    assert status.period == "calendar month (Europe/Berlin)"


def test_a_calendar_quarter_in_los_angeles_ends_at_its_local_midnight(journal: Journal, clock: Clock) -> None:
    start = datetime(2027, 4, 1, 7, tzinfo=UTC)  # 00:00 PDT on 1 April
    record(journal, clock, start - timedelta(seconds=1), SPRING, range(0, 5), Outcome.ISSUED)  # 23:59:59 on 31 March
    record(journal, clock, start + timedelta(seconds=1), SPRING, range(5, 6), Outcome.ISSUED)
    record(journal, clock, NOW, RESELLER, range(0, 3), Outcome.ISSUED, amount=Decimal("0.10"))
    quarter = Period(PeriodKind.QUARTER, time_zone="America/Los_Angeles")
    found = statuses(journal, [budget("q2", {"USD": "150", "CNY": "0.5"}, quarter)], adding((RESELLER, 2)))
    usd, cny = found["q2", "USD"], found["q2", "CNY"]
    assert (usd.spent, usd.adds, usd.remaining, usd.breach) == (Decimal(100), Decimal(0), Decimal(50), False)
    # Decimal amounts, never floats: 0.1 + 0.1 + 0.1 is 0.3, and the plan's 0.2 leaves exactly 0.
    assert (cny.spent, cny.adds, cny.remaining, cny.breach) == (Decimal("0.3"), Decimal("0.2"), Decimal(0), False)
    assert (usd.period_start, usd.period_end) == (start, datetime(2027, 7, 1, 7, tzinfo=UTC))


def test_the_last_n_days_end_now(journal: Journal, clock: Clock) -> None:
    record(journal, clock, NOW - timedelta(days=7, seconds=1), SPRING, range(0, 1), Outcome.ISSUED)
    record(journal, clock, NOW - timedelta(days=7), SPRING, range(1, 2), Outcome.ISSUED)
    record(journal, clock, NOW - timedelta(days=6), SPRING, range(2, 3), None)
    week = Period(PeriodKind.DAYS, days=7)
    status = statuses(journal, [budget("week", {"USD": "250"}, week)], adding((SPRING, 1)))["week", "USD"]
    assert (status.spent, status.in_doubt, status.adds) == (Decimal(100), Decimal(100), Decimal(100))
    assert status.remaining == Decimal(-50) and status.breach
    assert (status.period_start, status.period_end) == (NOW - timedelta(days=7), None)
    assert status.period == "last 7 days"


def test_one_read_serves_budgets_of_every_period_each_its_own_items(journal: Journal, clock: Clock) -> None:
    moments = [
        datetime(2026, 12, 31, 23, 59, tzinfo=UTC),  # last year
        datetime(2027, 3, 31, 22, 59, tzinfo=UTC),  # Q1 in UTC; 00:59 CEST on 1 April in Berlin: Q2 there
        datetime(2027, 4, 20, tzinfo=UTC),  # Q2, April
        datetime(2027, 5, 10, tzinfo=UTC),  # May, within the last 7 days
    ]
    for n, moment in enumerate(moments):
        record(journal, clock, moment, SPRING, range(n, n + 1), Outcome.ISSUED)
    budgets = [
        budget("life", {"USD": "10000"}),
        budget("q", {"USD": "10000"}, Period(PeriodKind.QUARTER, time_zone="Europe/Berlin")),
        budget("q-utc", {"USD": "10000"}, Period(PeriodKind.QUARTER)),
        budget("m", {"USD": "10000"}, Period(PeriodKind.MONTH, time_zone="Europe/Berlin")),
        budget("d", {"USD": "10000"}, Period(PeriodKind.DAYS, days=7)),
    ]
    read = spending_read(budgets, NOW)
    assert read is not None and read.since is None and read.until is None  # the widest: the lifetime
    found = statuses(journal, budgets, adding())
    assert {name: found[name, "USD"].spent for name, _ in found} == {
        "life": Decimal(400),
        "q": Decimal(300),
        "q-utc": Decimal(200),
        "m": Decimal(100),
        "d": Decimal(100),
    }


def test_the_journal_reads_only_the_window_asked_and_groups_alike_items(journal: Journal, clock: Clock) -> None:
    record(journal, clock, NOW - timedelta(days=40), SPRING, range(0, 5), Outcome.ISSUED)
    record(journal, clock, NOW - timedelta(days=2), SPRING, range(5, 9), Outcome.ISSUED)
    record(journal, clock, NOW - timedelta(days=1), SPRING, range(9, 12), Outcome.ISSUED)
    rows = journal.spending(NOW - timedelta(days=30), NOW)
    assert rows == [
        Spending(SPRING, "spring", LABELS["spring"], "USD", Decimal(100), in_doubt=False, count=7),
    ]
    assert journal.spending(None, NOW - timedelta(days=30))[0].count == 5


def test_selectors_by_provider_scope_glob_and_labels(journal: Journal, clock: Clock) -> None:
    record(journal, clock, NOW, SPRING, range(0, 2), Outcome.ISSUED)
    record(journal, clock, NOW, WINBACK, range(0, 2), Outcome.ISSUED)
    record(journal, clock, NOW, RESELLER, range(0, 2), Outcome.ISSUED, amount=Decimal(7))
    budgets = [
        budget("msads", {"USD": "1000", "CNY": "1000"}, selector=Selector(providers=("msads-local",))),
        budget("spring-glob", {"USD": "1000"}, selector=Selector(scopes=("*/SPRING27-*",))),
        budget("retention", {"USD": "1000"}, selector=Selector(labels={"team": "retention"})),
        budget("two-labels", {"USD": "1000"}, selector=Selector(labels={"team": "growth", "program": "spring27"})),
        budget("no-match", {"USD": "1000"}, selector=Selector(labels={"team": "growth", "program": "other"})),
        budget("case", {"USD": "1000"}, selector=Selector(scopes=("*/spring27-*",))),  # globs are case-sensitive
        budget("cny", {"CNY": "1000"}),
    ]
    found = statuses(journal, budgets, adding((SPRING, 1), (WINBACK, 1), (RESELLER, 1)))
    assert {key: (s.spent, s.adds) for key, s in found.items()} == {
        ("msads", "CNY"): (Decimal(0), Decimal(0)),
        ("msads", "USD"): (Decimal(300), Decimal(150)),
        ("spring-glob", "USD"): (Decimal(200), Decimal(100)),
        ("retention", "USD"): (Decimal(100), Decimal(50)),
        ("two-labels", "USD"): (Decimal(200), Decimal(100)),
        ("no-match", "USD"): (Decimal(0), Decimal(0)),
        ("case", "USD"): (Decimal(0), Decimal(0)),
        ("cny", "CNY"): (Decimal(14), Decimal("0.10")),
    }


def test_a_relabelled_manifest_does_not_move_past_spending(journal: Journal, clock: Clock) -> None:
    record(journal, clock, NOW - timedelta(days=3), SPRING, range(0, 4), Outcome.ISSUED)  # labelled growth then
    relabelled = {**LABELS, "spring": {"team": "retention"}}  # a later pull request moved it to retention
    budgets = [
        budget("growth", {"USD": "1000"}, selector=Selector(labels={"team": "growth"})),
        budget("retention", {"USD": "1000"}, selector=Selector(labels={"team": "retention"})),
    ]
    found = statuses(journal, budgets, adding((SPRING, 1)), desired(relabelled))
    assert (found["growth", "USD"].spent, found["growth", "USD"].adds) == (Decimal(400), Decimal(0))
    assert (found["retention", "USD"].spent, found["retention", "USD"].adds) == (Decimal(0), Decimal(100))


def test_items_recorded_before_labels_are_judged_by_today_s_declaration_of_their_target(
    journal: Journal, clock: Clock
) -> None:
    record(journal, clock, NOW, SPRING, range(0, 3), Outcome.ISSUED, labels=None)  # t0..t2: still declared
    record(journal, clock, NOW, SPRING, range(50, 52), Outcome.ISSUED, labels=None)  # declared by no manifest
    budgets = [
        budget("growth", {"USD": "10000"}, selector=Selector(labels={"team": "growth"})),
        budget("everything", {"USD": "10000"}),
    ]
    found = statuses(journal, budgets, adding())
    assert found["growth", "USD"].spent == Decimal(300)
    assert found["everything", "USD"].spent == Decimal(500)


def test_money_recorded_without_a_currency_is_not_counted(journal: Journal, clock: Clock) -> None:
    record(journal, clock, NOW, SPRING, range(0, 2), Outcome.ISSUED, money=Money(Decimal(100), None))
    record(journal, clock, NOW, SPRING, range(2, 3), Outcome.ISSUED)
    assert statuses(journal, [budget("b", {"USD": "1000"})], adding())["b", "USD"].spent == Decimal(100)


def test_an_item_to_issue_whose_money_is_unknown_is_a_breach_of_every_budget_selecting_it(journal: Journal) -> None:
    unknown = plan(
        scope_plan(SPRING, to_issue=(PlanItem(email(1), "spring"),), face_value=None),
        scope_plan(WINBACK, to_issue=(PlanItem(email(2), "winback"),), face_value=None, currency="USD"),
        created_at=NOW,
    )
    budgets = [
        budget("all", {"USD": "1000", "CNY": "1000"}),
        budget("winback", {"USD": "1000"}, selector=Selector(scopes=("*WINBACK*",))),
        budget("channel", {"CNY": "1000"}, selector=Selector(labels={"team": "channel"})),
    ]
    found = statuses(journal, budgets, unknown)
    # The spring item's currency is unknown too: it could be any; the winback one is in USD.
    assert {key: (s.unpriced, s.breach) for key, s in found.items()} == {
        ("all", "CNY"): (1, True),
        ("all", "USD"): (2, True),
        ("winback", "USD"): (1, True),
        ("channel", "CNY"): (0, False),
    }
    assert found["all", "USD"].adds == Decimal(0) and found["all", "USD"].remaining == Decimal(1000)
    lines = breach_lines([found["winback", "USD"]])
    assert lines == [
        "budget winback (lifetime) USD: limit 1000, spent 0, in doubt 0, this plan adds 0, remaining 1000; "
        "1 item(s) to issue whose money is unknown cannot be counted"
    ]


def test_a_budget_already_over_without_this_plan_adding_is_no_breach_of_this_plan(
    journal: Journal, clock: Clock
) -> None:
    record(journal, clock, NOW, SPRING, range(0, 3), Outcome.ISSUED)
    found = statuses(journal, [budget("b", {"USD": "100"})], adding((RESELLER, 1)))
    assert found["b", "USD"].remaining == Decimal(-200)
    assert not found["b", "USD"].breach  # it adds nothing the budget counts: nothing to refuse


def test_no_budget_reads_nothing() -> None:
    assert spending_read([], NOW) is None


def test_an_apply_leases_the_budgets_its_manifests_may_add_to() -> None:
    budgets = [
        budget("all", {"USD": "1"}),
        budget("aliyun", {"CNY": "1"}, selector=Selector(providers=("aliyun-local",))),
        budget("growth", {"USD": "1"}, selector=Selector(labels={"team": "growth"})),
        budget("elsewhere", {"USD": "1"}, selector=Selector(scopes=("msads-prod/*",))),
    ]
    state = desired()
    assert [b.name for b in budgets_touched(budgets, state)] == ["all", "aliyun", "growth"]
    only_winback = DesiredState(
        {WINBACK: state.scopes[WINBACK]}, {WINBACK: state.items[WINBACK]}, {"winback": LABELS["winback"]}
    )
    assert [b.name for b in budgets_touched(budgets, only_winback)] == ["all"]
