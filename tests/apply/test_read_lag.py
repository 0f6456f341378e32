"""The read lag apply's reads observe, recorded in the journal, and the plan's warning when inDoubtWindow does
not cover it (issue 12: a 3 s window under 10 s of lag paid twice)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta

import pytest

from reconciler.apply.journal import Journal, ReadLag
from reconciler.plan.diff import lag_margin, read_lag_problems
from reconciler.plan.model import PlanItem
from reconciler.providers.base import Batch, BatchResult, ItemResult, Outcome
from reconciler.state.desired import Scope, Target
from reconciler.state.live import JournalView

SCOPE = Scope("msads-local", "251186883", "SPRING27-ACQ-100")
OTHER = Scope("msads-local", "251186883", "WINBACK27-RET-50")
A, B, C = (Target.email(f"{n}@example.com") for n in "abc")


@pytest.fixture
def journal(journal_location: str) -> Iterator[Journal]:
    opened = Journal(journal_location)
    yield opened
    opened.close()


def issue(journal: Journal, *targets: Target, outcome: Outcome = Outcome.ISSUED, scope: Scope = SCOPE) -> datetime:
    """Record the targets issued (answered); returns when the answer was recorded."""
    run = journal.start_run("sum", "0.1", None, None)
    batch = Batch(scope, "DispatchCoupons", tuple(PlanItem(t, "m") for t in targets))
    journal.record_outcome(
        journal.record_intent(run, batch), BatchResult(batch, tuple(ItemResult(i, outcome) for i in batch.items))
    )
    return datetime.fromisoformat(journal.items()[-1].updated_at)


def test_reads_record_how_long_they_missed_each_issued_coupon(journal: Journal) -> None:
    answered = issue(journal, A, B, C)
    # a read that started before the answer observes nothing
    assert journal.record_read({SCOPE: set()}, answered - timedelta(seconds=1)) == 0
    assert journal.read_lags({SCOPE}) == {}
    # A shows at the first read after its answer; B and C are missed 2 s after theirs
    journal.record_read({SCOPE: {A}}, answered + timedelta(seconds=2))
    assert journal.read_lags({SCOPE})[SCOPE] == ReadLag(0.0, 2, 2.0)
    # missed again 7 s after: the latest read counts
    journal.record_read({SCOPE: {A}}, answered + timedelta(seconds=7))
    assert journal.read_lags({SCOPE})[SCOPE] == ReadLag(0.0, 2, 7.0)
    # B shows: reads had missed it 7 s after its answer; C is still missing
    journal.record_read({SCOPE: {A, B}}, answered + timedelta(seconds=9))
    assert journal.read_lags({SCOPE})[SCOPE] == ReadLag(7.0, 1, 9.0)
    journal.record_read({SCOPE: {A, B, C}}, answered + timedelta(seconds=12))
    assert journal.read_lags({SCOPE})[SCOPE] == ReadLag(9.0, 0, None)
    # once shown, an item is not looked at again: a later read that misses it changes nothing
    assert journal.record_read({SCOPE: set()}, answered + timedelta(seconds=60)) == 0
    assert journal.read_lags({SCOPE})[SCOPE] == ReadLag(9.0, 0, None)


def test_only_answered_issues_of_the_scopes_read_are_observed(journal: Journal) -> None:
    answered = issue(journal, A)
    issue(journal, B, outcome=Outcome.IN_DOUBT)  # no answer: nothing says when it was issued, if it was
    issue(journal, C, scope=OTHER)
    assert journal.record_read({SCOPE: set()}, answered + timedelta(seconds=3)) == 1
    assert journal.read_lags({SCOPE, OTHER}) == {SCOPE: ReadLag(None, 1, 3.0)}


@pytest.mark.parametrize(
    ("view", "window", "warned"),
    [
        (JournalView(read_lag_s=10.0), 3.0, ["set it to at least 15s"]),
        (JournalView(read_lag_s=10.0), 15.0, []),  # 10 s plus half of it
        (JournalView(read_lag_s=0.5), 1.4, ["set it to at least 2s"]),  # at least 1 s of margin
        (JournalView(read_lag_s=0.5), 1.5, []),
        (JournalView(read_lag_s=0.0), 0.5, []),  # every coupon showed at the first read: no lag seen
        (JournalView(), 0.5, []),
        (JournalView(missing=2, missing_s=4.0), 3.0, ["2 coupon(s) couponctl issued were still missing"]),
        (JournalView(missing=2, missing_s=2.0), 3.0, []),  # within the window: not yet a sign of anything
    ],
)
def test_the_plan_warns_when_in_doubt_window_does_not_cover_the_lag_seen(
    view: JournalView, window: float, warned: list[str]
) -> None:
    problems = list(read_lag_problems(view, window))
    assert [p.code for p in problems] == ["read-lag"] * len(warned)
    assert all(text in p.message for p, text in zip(problems, warned, strict=True))
    assert lag_margin(10) == 5 and lag_margin(0.2) == 1
