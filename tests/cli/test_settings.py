"""Colour: on a terminal unless NO_COLOR is set; --color/--no-color win."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from reconciler.cli.support import Settings


@pytest.fixture
def terminal(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sys.stdout, "isatty", lambda: True)


def test_a_terminal_gets_colour(terminal: None, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("NO_COLOR", raising=False)
    assert Settings(Path("."), None, quiet=False).color is True


def test_no_color_is_honoured(terminal: None, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NO_COLOR", "1")
    assert Settings(Path("."), None, quiet=False).color is False
    assert Settings(Path("."), True, quiet=False).color is True  # --color wins


def test_a_pipe_gets_no_colour(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sys.stdout, "isatty", lambda: False)
    monkeypatch.delenv("NO_COLOR", raising=False)
    assert Settings(Path("."), None, quiet=False).color is False


def test_quiet_turns_verbose_off() -> None:
    assert Settings(Path("."), False, quiet=True, verbose=True).verbose is False
