"""The window of a budget's period at a moment: calendar months and quarters in a named time zone (their local
midnights as UTC instants, across daylight-saving changes), the last N days, the whole life."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from reconciler.governance.model import Period, PeriodKind
from reconciler.governance.periods import period_window

MONTH = Period(PeriodKind.MONTH)
QUARTER = Period(PeriodKind.QUARTER)
US = timedelta(microseconds=1)


def utc(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=UTC)


def local(zone: str, year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=ZoneInfo(zone))


def test_lifetime_is_open_at_both_ends() -> None:
    assert period_window(Period(PeriodKind.LIFETIME), utc(2027, 3, 1)) == (None, None)


def test_the_last_n_days_end_now_and_stay_open_after() -> None:
    now = utc(2027, 3, 1, 12, 30)
    assert period_window(Period(PeriodKind.DAYS, days=30), now) == (utc(2027, 1, 30, 12, 30), None)
    in_berlin = now.astimezone(ZoneInfo("Europe/Berlin"))  # the same instant, told in another zone
    assert period_window(Period(PeriodKind.DAYS, days=1, time_zone="Europe/Berlin"), in_berlin) == (
        utc(2027, 2, 28, 12, 30),
        None,
    )


@pytest.mark.parametrize("now", [utc(2027, 2, 1), utc(2027, 2, 14, 9), utc(2027, 3, 1) - US])
def test_a_utc_month_from_its_first_to_its_last_instant(now: datetime) -> None:
    assert period_window(MONTH, now) == (utc(2027, 2, 1), utc(2027, 3, 1))


def test_the_instant_after_a_month_belongs_to_the_next() -> None:
    assert period_window(MONTH, utc(2027, 3, 1)) == (utc(2027, 3, 1), utc(2027, 4, 1))
    assert period_window(MONTH, utc(2027, 12, 31, 23, 59)) == (utc(2027, 12, 1), utc(2028, 1, 1))


@pytest.mark.parametrize(
    ("now", "start", "end"),
    [
        (utc(2027, 1, 1), utc(2027, 1, 1), utc(2027, 4, 1)),
        (utc(2027, 4, 1) - US, utc(2027, 1, 1), utc(2027, 4, 1)),
        (utc(2027, 4, 1), utc(2027, 4, 1), utc(2027, 7, 1)),
        (utc(2027, 8, 15), utc(2027, 7, 1), utc(2027, 10, 1)),
        (utc(2027, 10, 1), utc(2027, 10, 1), utc(2028, 1, 1)),
        (utc(2028, 1, 1) - US, utc(2027, 10, 1), utc(2028, 1, 1)),
    ],
)
def test_a_utc_quarter_from_its_first_to_its_last_instant(now: datetime, start: datetime, end: datetime) -> None:
    assert period_window(QUARTER, now) == (start, end)


def test_a_zone_ahead_of_utc_has_moved_on_to_the_next_month_and_quarter() -> None:
    # 23:30 on 31 March in Auckland (NZDT, +13) is 10:30 UTC that day; a minute after its midnight it is April there.
    zone = "Pacific/Auckland"
    late = local(zone, 2027, 3, 31, 23, 30)
    assert late.astimezone(UTC) == utc(2027, 3, 31, 10, 30)
    month = Period(PeriodKind.MONTH, time_zone=zone)
    quarter = Period(PeriodKind.QUARTER, time_zone=zone)
    assert period_window(month, late) == (utc(2027, 2, 28, 11), utc(2027, 3, 31, 11))  # NZDT all month
    assert period_window(quarter, late) == (utc(2026, 12, 31, 11), utc(2027, 3, 31, 11))
    after = utc(2027, 3, 31, 11)  # 00:00 on 1 April in Auckland, while it is still 31 March in UTC
    assert period_window(quarter, after)[0] == after
    assert period_window(QUARTER, after) == (utc(2027, 1, 1), utc(2027, 4, 1))  # the UTC quarter is not over


def test_a_zone_behind_utc_is_still_in_the_month_and_quarter_utc_has_left() -> None:
    # 23:30 on 30 June in Los Angeles (PDT, -7) is 06:30 on 1 July in UTC: still the second quarter there.
    zone = "America/Los_Angeles"
    late = local(zone, 2027, 6, 30, 23, 30)
    assert late.astimezone(UTC) == utc(2027, 7, 1, 6, 30)
    month = Period(PeriodKind.MONTH, time_zone=zone)
    quarter = Period(PeriodKind.QUARTER, time_zone=zone)
    assert period_window(month, late) == (utc(2027, 6, 1, 7), utc(2027, 7, 1, 7))
    assert period_window(quarter, late) == (utc(2027, 4, 1, 7), utc(2027, 7, 1, 7))
    assert period_window(QUARTER, late) == (utc(2027, 7, 1), utc(2027, 10, 1))
    # December to January: the year turns later there than in UTC (PST, -8).
    new_year = local(zone, 2027, 12, 31, 23, 30)
    assert period_window(month, new_year) == (utc(2027, 12, 1, 8), utc(2028, 1, 1, 8))
    assert period_window(quarter, new_year + timedelta(minutes=30)) == (utc(2028, 1, 1, 8), utc(2028, 4, 1, 7))


def test_a_berlin_quarter_that_starts_the_day_after_clocks_spring_forward() -> None:
    # Berlin moved to summer time (CEST, +2) on Sunday 31 March 2024: the second quarter began at 00:00 CEST on
    # 1 April, which is 22:00 UTC on 31 March; the first had begun at 00:00 CET (+1), 23:00 UTC on 31 December.
    quarter = Period(PeriodKind.QUARTER, time_zone="Europe/Berlin")
    first = period_window(quarter, local("Europe/Berlin", 2024, 3, 31, 23, 59))
    assert first == (utc(2023, 12, 31, 23), utc(2024, 3, 31, 22))
    assert first[1] is not None and first[0] is not None
    assert first[1] - first[0] == timedelta(days=91, hours=-1)  # the quarter lost an hour
    second = period_window(quarter, utc(2024, 3, 31, 22))
    assert second == (utc(2024, 3, 31, 22), utc(2024, 6, 30, 22))
    assert period_window(quarter, utc(2024, 3, 31, 22) - US) == first


def test_a_berlin_month_that_starts_in_the_week_clocks_fall_back() -> None:
    # Berlin went back to CET (+1) on Sunday 27 October 2024: October began at 00:00 CEST (22:00 UTC, 30 September),
    # November at 00:00 CET (23:00 UTC, 31 October), so October was an hour longer than its 31 days.
    month = Period(PeriodKind.MONTH, time_zone="Europe/Berlin")
    october = period_window(month, local("Europe/Berlin", 2024, 10, 27, 2, 30))
    assert october == (utc(2024, 9, 30, 22), utc(2024, 10, 31, 23))
    assert october[1] is not None and october[0] is not None
    assert october[1] - october[0] == timedelta(days=31, hours=1)
    assert period_window(month, utc(2024, 10, 31, 23)) == (utc(2024, 10, 31, 23), utc(2024, 11, 30, 23))
    assert period_window(month, utc(2024, 10, 31, 22, 59)) == october  # 23:59 CET on 31 October


def test_a_month_whose_local_midnight_never_happened_starts_when_the_clocks_jumped() -> None:
    # Paraguay sprang forward at 00:00 on Sunday 1 October 2023, straight to 01:00 (-4 to -3): October there began
    # at the jump, 04:00 UTC, and September ended there.
    month = Period(PeriodKind.MONTH, time_zone="America/Asuncion")
    jump = utc(2023, 10, 1, 4)
    assert period_window(month, jump) == (jump, utc(2023, 11, 1, 3))
    assert period_window(month, jump - US) == (utc(2023, 9, 1, 4), jump)


def test_a_naive_moment_is_refused() -> None:
    with pytest.raises(ValueError, match="aware"):
        period_window(MONTH, datetime(2027, 3, 1))
