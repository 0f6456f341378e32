"""Freezes as spans of time: dated, the last days of each month or quarter, days of the week, in their time zone
(across a daylight-saving change); which a plan shows."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from reconciler.governance.freezes import Freeze, Recurrence, Span, applying, in_force

SECOND = timedelta(seconds=1)


def test_a_dated_freeze_holds_from_its_start_until_just_before_its_end() -> None:
    start, end = datetime(2026, 12, 1, tzinfo=UTC), datetime(2027, 1, 1, tzinfo=UTC)
    freeze = Freeze("year-end", start=start, end=end)
    assert freeze.span_at(start - SECOND) is None
    assert freeze.span_at(start) == Span("year-end", start, end)
    assert freeze.span_at(end - SECOND) is not None
    assert freeze.span_at(end) is None


def test_the_last_days_of_a_quarter_in_berlin() -> None:
    freeze = Freeze("quarter-close", "Europe/Berlin", every=Recurrence.QUARTER_END, days=5)
    begins = datetime(2026, 12, 26, 23, 0, tzinfo=UTC)  # 27 December, local midnight (UTC+1)
    ends = datetime(2026, 12, 31, 23, 0, tzinfo=UTC)  # 1 January, local midnight
    assert freeze.span_at(begins - SECOND) is None
    assert freeze.span_at(begins) == Span("quarter-close", begins, ends)
    assert freeze.span_at(ends) is None
    assert freeze.next_after(ends) == Span(
        "quarter-close", datetime(2027, 3, 26, 23, 0, tzinfo=UTC), datetime(2027, 3, 31, 22, 0, tzinfo=UTC)
    )  # 27 March on winter time, 1 April on summer time (clocks change on 28 March 2027)


def test_the_last_days_of_a_month_across_the_daylight_saving_change() -> None:
    freeze = Freeze("month-close", "Europe/Berlin", every=Recurrence.MONTH_END, days=3)
    span = freeze.span_at(datetime(2026, 3, 30, 12, tzinfo=UTC))
    # 29 March 00:00 is still winter time (clocks go forward at 02:00); 1 April 00:00 is summer time
    assert span == Span(
        "month-close", datetime(2026, 3, 28, 23, 0, tzinfo=UTC), datetime(2026, 3, 31, 22, 0, tzinfo=UTC)
    )


def test_weekends_in_new_york() -> None:
    freeze = Freeze("weekend", "America/New_York", every=Recurrence.WEEKDAYS, weekdays=(5, 6))
    saturday = datetime(2026, 12, 5, 5, 0, tzinfo=UTC)  # Saturday 00:00 in New York (UTC-5)
    monday = datetime(2026, 12, 7, 5, 0, tzinfo=UTC)
    assert freeze.span_at(saturday - SECOND) is None
    assert freeze.span_at(saturday) == Span("weekend", saturday, monday)  # Saturday and Sunday: one span
    assert freeze.span_at(monday) is None
    assert freeze.next_after(saturday - SECOND) == Span("weekend", saturday, monday)


def test_a_plan_shows_freezes_in_force_or_beginning_before_its_items_would_be_issued() -> None:
    now = datetime(2026, 12, 20, tzinfo=UTC)
    later = Freeze("later", start=now + timedelta(days=3), end=now + timedelta(days=4))
    current = Freeze("current", start=now - SECOND, end=now + SECOND)
    past = Freeze("past", start=now - timedelta(days=3), end=now - timedelta(days=2))
    freezes = (later, current, past)
    assert [s.name for s in in_force(freezes, now)] == ["current"]
    assert [s.name for s in applying(freezes, now, now + timedelta(hours=1))] == ["current"]
    assert [s.name for s in applying(freezes, now, now + timedelta(days=3, seconds=1))] == ["later", "current"]
