"""Freezes: windows of couponctl.yaml during which apply refuses unless the reviewed plan carries an override
naming the freeze. A freeze is dated (``from``, ``until``) or recurring in its time zone: the last N days of each
month or quarter, or whole days of the week. Every span is half-open, ``[start, end)``, in UTC. Pure: the caller
gives ``now`` (the journal's clock)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from enum import StrEnum
from zoneinfo import ZoneInfo

WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")


class Recurrence(StrEnum):
    MONTH_END = "monthEnd"
    QUARTER_END = "quarterEnd"
    WEEKDAYS = "weekdays"


@dataclass(frozen=True, slots=True)
class Span:
    """One occurrence of a freeze: ``[start, end)``."""

    name: str
    start: datetime
    end: datetime

    def holds(self, now: datetime) -> bool:
        return self.start <= now < self.end


@dataclass(frozen=True, slots=True)
class Freeze:
    """A dated freeze has ``start`` and ``end``; a recurring one ``every`` with ``days`` (the last N days of each
    month or quarter) or ``weekdays`` (0 = Monday)."""

    name: str
    time_zone: str = "UTC"
    start: datetime | None = None
    end: datetime | None = None
    every: Recurrence | None = None
    days: int = 0
    weekdays: tuple[int, ...] = ()

    def span_at(self, now: datetime) -> Span | None:
        """The occurrence in force at ``now``, if any."""
        return next((s for s in self._around(now) if s.holds(now)), None)

    def next_after(self, now: datetime) -> Span | None:
        """The first occurrence that starts after ``now``."""
        return next((s for s in self._around(now) if s.start > now), None)

    def _around(self, now: datetime) -> list[Span]:
        """The occurrences that may hold ``now`` or be the next one after it, in order."""
        if self.every is None:
            return [Span(self.name, self.start, self.end)] if self.start and self.end else []
        zone = ZoneInfo(self.time_zone)
        today = now.astimezone(zone).date()
        if self.every is Recurrence.WEEKDAYS:
            return self._weekday_spans(today, zone)
        months = 3 if self.every is Recurrence.QUARTER_END else 1
        first = _period_start(today, months)
        spans = []
        for _ in range(2):  # this period and the next
            following = _add_months(first, months)
            spans.append(
                Span(self.name, _midnight(following - timedelta(days=self.days), zone), _midnight(following, zone))
            )
            first = following
        return spans

    def _weekday_spans(self, today: date, zone: ZoneInfo) -> list[Span]:
        """Runs of consecutive frozen days from the day before ``today`` on, within two weeks."""
        spans: list[Span] = []
        day = today - timedelta(days=7)
        while day < today + timedelta(days=8) and len(self.weekdays) < len(WEEKDAYS):
            if day.weekday() in self.weekdays:
                end = day
                while end.weekday() in self.weekdays:
                    end += timedelta(days=1)
                spans.append(Span(self.name, _midnight(day, zone), _midnight(end, zone)))
                day = end
            day += timedelta(days=1)
        if len(self.weekdays) == len(WEEKDAYS):
            spans.append(Span(self.name, _midnight(today - timedelta(days=1), zone), datetime.max.replace(tzinfo=UTC)))
        return spans


def in_force(freezes: tuple[Freeze, ...], now: datetime) -> list[Span]:
    """The freezes in force at ``now``."""
    return [span for span in (f.span_at(now) for f in freezes) if span is not None]


def applying(freezes: tuple[Freeze, ...], now: datetime, until: datetime) -> list[Span]:
    """What a plan made at ``now`` whose items would be issued up to ``until`` must show: each freeze in force at
    ``now``, or its next occurrence when that starts before ``until``."""
    shown = []
    for freeze in freezes:
        span = freeze.span_at(now) or freeze.next_after(now)
        if span is not None and span.start < max(until, now + timedelta(microseconds=1)):
            shown.append(span)
    return shown


def _midnight(day: date, zone: ZoneInfo) -> datetime:
    return datetime.combine(day, time(0), tzinfo=zone).astimezone(UTC)


def _period_start(day: date, months: int) -> date:
    return date(day.year, (day.month - 1) // months * months + 1, 1)


def _add_months(first: date, months: int) -> date:
    index = first.year * 12 + first.month - 1 + months
    return date(index // 12, index % 12 + 1, 1)
