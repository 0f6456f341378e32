"""Issue windows in tests: a manifest of the example project given a ``spec.schedule``, and the journal's clock
set to a chosen instant for the use cases (plan and apply open their journal through ``open_journal``)."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from pathlib import Path

import pytest
import yaml

import reconciler.app.apply
import reconciler.app.plan
from reconciler.apply.journal import Journal
from reconciler.config.model import Config


def schedule(project: Path, manifest_file: str, window: Mapping[str, str]) -> None:
    """Give the manifest in ``manifests/<manifest_file>`` the ``spec.schedule`` ``window``."""
    path = project / "manifests" / manifest_file
    document = yaml.safe_load(path.read_text())
    document["spec"]["schedule"] = dict(window)
    path.write_text(yaml.safe_dump(document, sort_keys=False))


class JournalClock:
    """The journal's clock, as a settable instant."""

    def __init__(self, at: datetime) -> None:
        self.at = at

    def __call__(self) -> float:
        return self.at.timestamp()


def clock_journal(monkeypatch: pytest.MonkeyPatch, at: datetime) -> JournalClock:
    """Plan and apply (the use cases) open journals whose clock reads ``clock.at``."""
    clock = JournalClock(at)

    def open_journal(config: Config) -> Journal:
        return Journal(config.journal, clock=clock)

    monkeypatch.setattr(reconciler.app.plan, "open_journal", open_journal)
    monkeypatch.setattr(reconciler.app.apply, "open_journal", open_journal)
    return clock
