"""Issue windows in a plan: which items are due now, which are scheduled (their window has not opened) and which
are closed (their window has ended). Pure: ``now`` is the journal's clock, given by the caller."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

from reconciler.plan.model import PlanItem, TimedItem
from reconciler.state.schedule import Timing, Window


@dataclass(frozen=True, slots=True)
class Split:
    due: list[PlanItem]
    scheduled: tuple[TimedItem, ...]
    closed: tuple[TimedItem, ...]


def split_by_window(items: Sequence[PlanItem], schedules: Mapping[str, Window], now: datetime) -> Split:
    """``items`` (in their order) by their manifest's window at ``now``; an item of a manifest without a window is
    due."""
    due: list[PlanItem] = []
    scheduled: list[TimedItem] = []
    closed: list[TimedItem] = []
    for item in items:
        window = schedules.get(item.manifest)
        timing = window.timing(now) if window is not None else Timing.DUE
        if window is not None and timing is Timing.SCHEDULED and window.not_before is not None:
            scheduled.append(TimedItem(item, window.not_before))
        elif window is not None and timing is Timing.CLOSED and window.not_after is not None:
            closed.append(TimedItem(item, window.not_after))
        else:
            due.append(item)
    return Split(due, tuple(scheduled), tuple(closed))


def windows_of(items: Sequence[PlanItem], schedules: Mapping[str, Window]) -> dict[str, Window]:
    """The windows of the manifests that declare ``items``, by manifest (manifests without one left out): what apply
    judges again while it issues, once per manifest, not once per item."""
    return {m: w for m in {i.manifest for i in items} if (w := schedules.get(m)) is not None}


def not_due(windows: Mapping[str, Window], now: datetime) -> list[str]:
    """The manifests (sorted) whose window does not hold ``now``: apply must not issue their items, whatever a plan
    made earlier said."""
    return sorted(m for m, w in windows.items() if w.timing(now) is not Timing.DUE)
