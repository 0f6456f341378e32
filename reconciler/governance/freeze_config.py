"""The ``freezes`` block of couponctl.yaml (schema-valid) as Freezes, with located problems for what a schema
cannot see: an unknown time zone, a date that is none or that the clocks skip, ``until`` not after ``from``."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

from reconciler.errors import Problem
from reconciler.governance.freezes import WEEKDAYS, Freeze, Recurrence
from reconciler.manifest.loader import Document, NodePath
from reconciler.manifest.schedule import instant_of, time_zone


def read_freezes(document: Document, blocks: Iterable[Mapping[str, Any]]) -> tuple[tuple[Freeze, ...], list[Problem]]:
    freezes: list[Freeze] = []
    problems: list[Problem] = []
    for index, block in enumerate(blocks):
        freeze, wrong = _freeze(document, ("freezes", index), block)
        problems += wrong
        if freeze is not None:
            freezes.append(freeze)
    return tuple(freezes), problems


def _freeze(document: Document, path: NodePath, block: Mapping[str, Any]) -> tuple[Freeze | None, list[Problem]]:
    zone_name = block.get("timeZone", "UTC")
    zone = time_zone(zone_name)
    if zone is None:
        message = f"unknown time zone {zone_name!r} (an IANA name such as Europe/Berlin or UTC)"
        return None, [document.problem((*path, "timeZone"), message)]
    name = block["name"]
    recurring = block.get("recurring")
    dated = [key for key in ("from", "until") if key in block]
    if recurring is not None and dated:
        message = "a freeze is dated (from, until) or recurring, not both"
        return None, [document.problem((*path, dated[0]), message, at_key=True)]
    if recurring is not None:
        return _recurring(document, path, name, zone_name, recurring)
    if len(dated) < 2:
        missing = "until" if dated else "from and until"
        return None, [document.problem((*path, "name"), f"a dated freeze needs {missing} (or give recurring)")]
    problems: list[Problem] = []
    bounds: dict[str, datetime | None] = {}
    for key in ("from", "until"):
        instant, error = instant_of(block[key], zone)
        if error is not None:
            problems.append(document.problem((*path, key), error))
        bounds[key] = instant
    start, end = bounds["from"], bounds["until"]
    if start is not None and end is not None and end <= start:
        problems.append(
            document.problem((*path, "until"), f"until ({block['until']}) must be after from ({block['from']})")
        )
    if problems or start is None or end is None:
        return None, problems
    return Freeze(name, zone_name, start=start, end=end), []


def _recurring(
    document: Document, path: NodePath, name: str, zone_name: str, recurring: Mapping[str, Any]
) -> tuple[Freeze | None, list[Problem]]:
    """monthEnd and quarterEnd take ``days``, weekdays takes ``weekdays``; each only its own."""
    every = Recurrence(recurring["every"])
    wanted, other = ("weekdays", "days") if every is Recurrence.WEEKDAYS else ("days", "weekdays")
    where = (*path, "recurring")
    problems = []
    if wanted not in recurring:
        problems.append(document.problem(where, f"every: {every.value} needs {wanted}"))
    if other in recurring:
        problems.append(document.problem((*where, other), f"every: {every.value} takes {wanted}, not {other}"))
    if problems:
        return None, problems
    weekdays = tuple(sorted({WEEKDAYS.index(day) for day in recurring.get("weekdays", ())}))
    return Freeze(name, zone_name, every=every, days=recurring.get("days", 0), weekdays=weekdays), []
