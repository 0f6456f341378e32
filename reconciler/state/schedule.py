"""Issue windows: when a manifest's items may be issued (``spec.schedule``), as instants."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum


class Timing(StrEnum):
    """Where ``now`` lies against a window: before it (scheduled), inside it (due), or at or after its end
    (closed)."""

    SCHEDULED = "scheduled"
    DUE = "due"
    CLOSED = "closed"


@dataclass(frozen=True, slots=True)
class Window:
    """``[not_before, not_after)``: an item is due from ``not_before`` (inclusive) until ``not_after`` (exclusive);
    either end may be open. Both are aware instants (UTC); ``time_zone`` is the IANA zone the manifest wrote them
    in, kept to show them as written."""

    not_before: datetime | None
    not_after: datetime | None
    time_zone: str = "UTC"

    def timing(self, now: datetime) -> Timing:
        if self.not_before is not None and now < self.not_before:
            return Timing.SCHEDULED
        if self.not_after is not None and now >= self.not_after:
            return Timing.CLOSED
        return Timing.DUE
