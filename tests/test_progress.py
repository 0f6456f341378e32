"""Progress: a bar redrawn in place on a terminal, periodic plain lines in logs, nothing when quiet."""

from __future__ import annotations

import io

from reconciler.cli.progress import Progress, progress_mode


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_plain_lines_come_every_few_seconds_and_at_the_end() -> None:
    clock, out = Clock(), io.StringIO()
    progress = Progress("issuing", 100, "items", mode="lines", stream=out, clock=clock)
    for _ in range(10):
        clock.now += 1
        progress.advance(10)
    lines = out.getvalue().splitlines()
    assert lines == [
        "issuing: 10/100 items (10%), 10.0/s, ETA 9s",
        "issuing: 60/100 items (60%), 10.0/s, ETA 4s",
        "issuing: 100/100 items (100%), 10.0/s, 10s",
    ]


def test_the_bar_redraws_in_place_and_ends_with_a_newline() -> None:
    clock, out = Clock(), io.StringIO()
    progress = Progress("reading", 4, "scopes", mode="bar", stream=out, clock=clock)
    for _ in range(4):
        clock.now += 1
        progress.advance()
    progress.finish()
    text = out.getvalue()
    assert text.count("\r\033[K") == 4 and text.endswith("\n")
    assert "[############################] reading: 4/4 scopes (100%)" in text


def test_quiet_prints_nothing_and_a_pipe_gets_lines() -> None:
    out = io.StringIO()
    progress = Progress("x", 2, "items", mode=progress_mode(quiet=True, stream=out), stream=out)
    progress.advance(2)
    progress.finish()
    assert out.getvalue() == ""
    assert progress_mode(quiet=False, stream=io.StringIO()) == "lines"


def test_no_rate_is_shown_before_a_second_has_passed() -> None:
    # A million items in a millisecond is not a rate anyone can act on: it is shown as plain counts.
    clock, out = Clock(), io.StringIO()
    progress = Progress("issuing", 1_000_000, "items", mode="lines", stream=out, clock=clock)
    clock.now += 0.001
    progress.advance(1_218)
    clock.now += 0.002
    progress.advance(1_000_000 - 1_218)
    assert out.getvalue().splitlines() == [
        "issuing: 1,218/1,000,000 items (0%)",
        "issuing: 1,000,000/1,000,000 items (100%), 0s",
    ]
    clock.now += 1.997
    assert progress.line() == "issuing: 1,000,000/1,000,000 items (100%), 500,000.0/s, 2s"
