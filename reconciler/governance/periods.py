"""The window of a budget's period at a moment: the instants, in UTC, between which spending counts.

A calendar month or quarter is the one containing the moment in the period's IANA time zone, from its first local
midnight to the next period's, each converted to UTC: a month of a zone that changes to or from daylight saving
time in it is an hour shorter or longer than its days, and a local midnight that does not exist (a zone that
springs forward at midnight) is the instant the clocks jumped, the first instant of that day."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from reconciler.governance.model import Period, PeriodKind

#: A window: [start, end) in UTC; None at either end: open on that side.
Window = tuple[datetime | None, datetime | None]


def period_window(period: Period, now: datetime) -> Window:
    """The [start, end) of ``period`` at ``now`` (an aware datetime): lifetime is (None, None); a month or quarter
    the calendar one containing ``now`` in ``period.time_zone``; the last N days (``now`` - N days, None)."""
    if now.tzinfo is None or now.utcoffset() is None:
        raise ValueError("a period's window is computed at an aware moment, not a naive one")
    if period.kind is PeriodKind.LIFETIME:
        return None, None
    if period.kind is PeriodKind.DAYS:
        if period.days is None or period.days < 1:
            raise ValueError(f"a period of days needs a number of days at least 1, not {period.days}")
        return now.astimezone(UTC) - timedelta(days=period.days), None
    zone = ZoneInfo(period.time_zone)
    local = now.astimezone(zone)
    months = 1 if period.kind is PeriodKind.MONTH else 3
    first = (local.month - 1) // months * months + 1  # the period's first month: 1, 4, 7 or 10 for a quarter
    start = _local_midnight(local.year, first, zone)
    following = first + months
    end = _local_midnight(local.year + (following - 1) // 12, (following - 1) % 12 + 1, zone)
    return start, end


def _local_midnight(year: int, month: int, zone: ZoneInfo) -> datetime:
    """The first instant of the month's first day in ``zone``, in UTC. fold=0 takes the first of two midnights
    (clocks set back across midnight) and, for a midnight the clocks skipped, the offset before the jump: the
    instant of the jump itself."""
    return datetime(year, month, 1, tzinfo=zone).astimezone(UTC)
