"""``spec.schedule``, common to every vendor's manifests: ``notBefore`` and ``notAfter`` (ISO-8601 dates or
date-times; a date is local midnight) in ``timeZone`` (IANA, default UTC), read into a Window with located
problems. A date-time with an offset (``Z``, ``+02:00``) is that instant whatever the zone."""

from __future__ import annotations

from datetime import UTC, date, datetime, time
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from reconciler.errors import Problem
from reconciler.manifest.loader import NodePath
from reconciler.manifest.parse import Manifest
from reconciler.state.schedule import Window

SCHEDULE: NodePath = ("spec", "schedule")


def read_schedule(manifest: Manifest) -> tuple[Window | None, list[Problem]]:
    """The manifest's window (None when it has no ``spec.schedule``) and what is wrong with it. Type errors are
    the schema's to report: a value of the wrong type is skipped here."""
    given = manifest.spec.get("schedule")
    if not isinstance(given, dict):
        return None, []
    document = manifest.document
    problems: list[Problem] = []
    zone_name = given.get("timeZone", "UTC")
    zone: ZoneInfo | None = None
    if isinstance(zone_name, str):
        zone = time_zone(zone_name)
        if zone is None:
            problems.append(
                document.problem(
                    (*SCHEDULE, "timeZone"), f"unknown time zone {zone_name!r} (IANA name, e.g. Europe/Berlin)"
                )
            )
    bounds: dict[str, datetime | None] = {}
    for key in ("notBefore", "notAfter"):
        value = given.get(key)
        bounds[key] = None
        if not isinstance(value, str) or zone is None:
            continue
        instant, error = instant_of(value, zone)
        if error is not None:
            problems.append(document.problem((*SCHEDULE, key), error))
        bounds[key] = instant
    start, end = bounds["notBefore"], bounds["notAfter"]
    if start is not None and end is not None and end <= start:
        problems.append(
            document.problem(
                (*SCHEDULE, "notAfter"),
                f"notAfter ({given['notAfter']}) must be after notBefore ({given['notBefore']})",
            )
        )
    if problems or zone is None:
        return None, problems
    return Window(start, end, str(zone_name)), []


def time_zone(name: str) -> ZoneInfo | None:
    """The IANA zone of that name, or None."""
    if not name or name.startswith("/") or ".." in name:
        return None
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError):  # OSError: a directory of zones ("America")
        return None


def instant_of(text: str, zone: ZoneInfo) -> tuple[datetime | None, str | None]:
    """An ISO-8601 date (local midnight) or date-time (local in ``zone`` unless it carries an offset), as a UTC
    instant; or why it is none. A local time that does not exist in ``zone`` (clocks jump forward over it) is an
    error (a date whose midnight is skipped starts when the clocks jump); one that exists twice (clocks go back) is
    the earlier. One outside years 1-9999 in UTC is an error."""
    try:
        local = datetime.combine(date.fromisoformat(text), time(0)) if len(text) == 10 else datetime.fromisoformat(text)
    except ValueError:
        return None, f"{text!r} is not an ISO-8601 date (2026-03-29) or date-time (2026-03-29T09:00:00)"
    try:
        if local.tzinfo is not None:
            return local.astimezone(UTC), None
        instant = local.replace(tzinfo=zone).astimezone(UTC)
        back = instant.astimezone(zone).replace(tzinfo=None)
    except OverflowError:  # year 1 ahead of UTC, year 9999 behind it
        return None, f"{text} in {zone.key} lies outside the years 1 to 9999 in UTC"
    if back != local and len(text) != 10:  # a date whose midnight is skipped starts when the clocks jump
        return None, f"{text} does not exist in {zone.key}: the clocks skip it (daylight saving time)"
    return instant, None
