"""Issued late: an item resolved as not issued whose coupon a later read shows after all is recorded ISSUED_LATE
(journal, ledger) by apply, and reported by plan and drift until then."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from reconciler.apply.journal import ISSUED_LATE, RESOLVED_NOT_ISSUED, Journal
from reconciler.apply.late import record_issued_late
from reconciler.plan.diff import diff, issued_late
from reconciler.plan.drift import DriftKind, detect_drift
from reconciler.plan.model import PlanItem
from reconciler.providers.base import Batch, BatchResult, ItemResult, Outcome
from reconciler.providers.registry import void_statuses
from reconciler.state.desired import Target
from reconciler.state.live import IssuedCoupon, JournalView, LiveState, ScopeLive
from tests.support.diff_factories import NOW, SCOPE, desired

A, B, C = (Target.email(f"{n}@example.com") for n in "abc")


@pytest.fixture
def journal(journal_location: str) -> Iterator[Journal]:
    opened = Journal(journal_location)
    yield opened
    opened.close()


def call(journal: Journal, target: Target, outcome: Outcome) -> int:
    run = journal.start_run("sum", "0.1", None, None)
    batch = Batch(SCOPE, "DispatchCoupons", (PlanItem(target, "m"),))
    journal.record_outcome(
        journal.record_intent(run, batch), BatchResult(batch, (ItemResult(batch.items[0], outcome),))
    )
    return journal.items()[-1].id


def holding(*codes: str, received: bool = True) -> tuple[IssuedCoupon, ...]:
    return tuple(IssuedCoupon(code, "dispatched", received=received) for code in codes)


def test_the_late_coupons_are_those_beyond_what_the_journal_accounts_for() -> None:
    # (resolved not issued, holding) per target
    not_issued = {A: (1, 1), B: (2, 0), C: (1, 0)}
    issued = {A: holding("C1", "C2"), B: holding("C3"), C: holding("C4", received=False)}
    found = {late.target: (late.late, late.held, late.accounted) for late in issued_late(issued, not_issued)}
    assert found == {A: (1, 2, 1), B: (1, 1, 0)}  # C only redeemed a coupon paid to another: not its own
    assert issued_late({A: holding("C1")}, {A: (1, 1)}) == ()  # as many as accounted for


def test_apply_records_them_issued_late_and_the_ledger_shows_it(journal: Journal) -> None:
    first = call(journal, A, Outcome.IN_DOUBT)
    journal.resolve([first], RESOLVED_NOT_ISSUED, by="couponctl (read-back)", reason="no witness needed")
    resolved_at = next(i for i in journal.items() if i.id == first).updated_at
    call(journal, A, Outcome.ISSUED)  # issued again: paid twice if the first was issued after all
    live = LiveState({SCOPE: ScopeLive(SCOPE, True, None, 10, {A: holding("C1")})})
    assert record_issued_late(journal, live) == []  # one coupon, one issued item: nothing late
    live = LiveState({SCOPE: ScopeLive(SCOPE, True, None, 10, {A: holding("C1", "C2")})})
    ((scope, late),) = record_issued_late(journal, live)
    assert scope == SCOPE and (late.target, late.late) == (A, 1)
    item = next(i for i in journal.items() if i.id == first)
    assert item.state == ISSUED_LATE and item.resolution_reason == "no witness needed"  # the resolution stays
    assert item.updated_at == resolved_at and item.resolved_by == "couponctl (read-back)"
    row = next(r for r in journal.ledger() if r["state"] == ISSUED_LATE)
    assert row["found_late_at"] and "holding 2 coupon(s); the journal accounted for 1" in str(row["found_late_reason"])
    assert journal.overlay({SCOPE})[SCOPE].issued == {A}
    assert record_issued_late(journal, live) == []  # recorded once


def test_plan_and_drift_report_it_until_apply_records_it() -> None:
    view = JournalView(issued=frozenset({A}), managed=frozenset({A}), not_issued={A: (1, 1)})
    live = LiveState({SCOPE: ScopeLive(SCOPE, True, None, 10, {A: holding("CODE0000AAAA", "CODE0000BBBB")})})
    plan = diff(desired([A]), live, created_at=NOW, journal={SCOPE: view})
    (late,) = [p for p in plan.scopes[0].warnings if p.code == "issued-late"]
    assert late.message.startswith("email:a@example.com: 1 call(s) resolved as not issued were issued after all")
    drift = detect_drift(desired([A]), live, checked_at=NOW, journal={SCOPE: view}, void_statuses=void_statuses())
    assert drift.exit_code == 2 and drift.count(DriftKind.ISSUED_LATE) == 1
    (item,) = drift.scopes[0].issued_late
    assert [c.code for c in item.coupons] == ["****AAAA", "****BBBB"]
    assert "issued-late" not in [p.code for p in drift.scopes[0].warnings]  # drift, not again a warning
