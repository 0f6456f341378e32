"""Progress of long reads and applies: a bar on a terminal, plain periodic lines in CI logs.

Output goes to stderr so that stdout stays the result (a plan's JSON, a report).
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from typing import TextIO

from reconciler.render.terminal import visible

BAR_WIDTH = 28
TTY_INTERVAL_S = 0.1
PLAIN_INTERVAL_S = 5.0
MIN_RATE_ELAPSED_S = 1.0
"""Rates and ETAs are shown once this much time has passed: before, they measure noise."""


def _duration(seconds: float) -> str:
    seconds = max(0, round(seconds))
    minutes, secs = divmod(seconds, 60)
    return f"{minutes}m{secs:02d}s" if minutes else f"{secs}s"


class Progress:
    """Counts units of work (items, scopes) against a total, and shows rate and ETA.

    ``mode`` is ``bar`` (redrawn in place, for a terminal), ``lines`` (a line every few seconds and at the
    end, for logs) or ``off``.
    """

    def __init__(
        self,
        label: str,
        total: int,
        unit: str,
        *,
        mode: str,
        stream: TextIO | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.label, self.total, self.unit, self.mode = label, total, unit, mode
        self.stream = stream or sys.stderr
        self.clock = clock
        self.done = 0
        self.started = clock()
        self._shown_at = -1e9

    def advance(self, count: int = 1, note: str = "") -> None:
        self.done += count
        now = self.clock()
        interval = TTY_INTERVAL_S if self.mode == "bar" else PLAIN_INTERVAL_S
        if self.mode != "off" and (now - self._shown_at >= interval or self.done >= self.total):
            self._show(now, note)

    def finish(self) -> None:
        if self.mode == "bar" and self._shown_at > -1e9:
            self.stream.write("\n")
            self.stream.flush()

    def line(self, now: float | None = None, note: str = "") -> str:
        """The progress as one line of text (what both modes print)."""
        now = self.clock() if now is None else now
        elapsed = max(now - self.started, 1e-9)
        rate = self.done / elapsed
        share = self.done / self.total if self.total else 1.0
        eta = (self.total - self.done) / rate if rate > 0 and self.done < self.total else 0.0
        text = f"{self.label}: {self.done:,}/{self.total:,} {self.unit} ({share:.0%})"
        if elapsed >= MIN_RATE_ELAPSED_S:  # a rate over a few milliseconds is noise (and absurdly large)
            text += f", {rate:,.1f}/s"
            if self.done < self.total:
                text += f", ETA {_duration(eta)}"
        if self.done >= self.total:
            text += f", {_duration(elapsed)}"
        if self.mode == "bar":
            filled = int(BAR_WIDTH * share)
            text = f"[{'#' * filled}{'-' * (BAR_WIDTH - filled)}] {text}"
        return f"{text} {visible(note)}".rstrip()  # a note may quote a manifest (a scope's class name)

    def _show(self, now: float, note: str) -> None:
        self._shown_at = now
        if self.mode == "bar":
            self.stream.write("\r\033[K" + self.line(now, note))
        else:
            self.stream.write(self.line(now, note) + "\n")
        self.stream.flush()


def progress_mode(*, quiet: bool, stream: TextIO | None = None) -> str:
    """``off`` when quiet, ``bar`` on a terminal, ``lines`` otherwise."""
    if quiet:
        return "off"
    return "bar" if (stream or sys.stderr).isatty() else "lines"
