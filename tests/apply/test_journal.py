"""The SQLite journal: intent before outcome, states, overlay for the planner, resolution, migrations."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from reconciler.apply.journal import (
    FAILED,
    IN_DOUBT,
    ISSUED,
    PENDING,
    RESOLVED_ISSUED,
    RESOLVED_NOT_ISSUED,
    Journal,
    JournalError,
)
from reconciler.manifest.model import Scope, Target
from reconciler.plan.model import PlanItem
from reconciler.providers.base import Batch, BatchResult, ItemResult, Outcome

SCOPE = Scope("msads-local", "251186883", "SPRING27-ACQ-100")
A, B, C = (Target.email(f"{n}@example.com") for n in "abc")


def batch(*targets: Target) -> Batch:
    return Batch(SCOPE, "DispatchCoupons", tuple(PlanItem(t, "m") for t in targets))


def result(b: Batch, *outcomes: Outcome) -> BatchResult:
    return BatchResult(b, tuple(ItemResult(i, o) for i, o in zip(b.items, outcomes, strict=True)), "T-1")


@pytest.fixture
def journal(tmp_path: Path) -> Journal:
    return Journal(tmp_path / "j" / "journal.sqlite")


def test_intent_is_committed_before_the_outcome_and_visible_to_another_connection(journal: Journal) -> None:
    run = journal.start_run("sum", "0.1", "ci", None)
    journal.record_intent(run, batch(A, B))
    other = sqlite3.connect(journal.path)
    assert other.execute("SELECT target_value, state FROM items ORDER BY id").fetchall() == [
        ("a@example.com", PENDING),
        ("b@example.com", PENDING),
    ]


def test_outcomes_set_each_item_state(journal: Journal) -> None:
    run = journal.start_run("sum", "0.1", None, None)
    b = batch(A, B, C)
    batch_id = journal.record_intent(run, b)
    journal.record_outcome(batch_id, result(b, Outcome.ISSUED, Outcome.FAILED, Outcome.IN_DOUBT))
    assert [(i.target, i.state, i.tracking_id) for i in journal.items()] == [
        (A, ISSUED, "T-1"),
        (B, FAILED, "T-1"),
        (C, IN_DOUBT, "T-1"),
    ]


def test_overlay_counts_issued_blocks_in_doubt_and_ignores_failed(journal: Journal) -> None:
    run = journal.start_run("sum", "0.1", None, None)
    b = batch(A, B, C)
    journal.record_outcome(journal.record_intent(run, b), result(b, Outcome.ISSUED, Outcome.FAILED, Outcome.IN_DOUBT))
    overlay = journal.overlay({SCOPE})[SCOPE]
    assert overlay.issued == {A}
    assert set(overlay.in_doubt) == {C}
    assert overlay.managed == {A, C}


def test_a_pending_item_of_a_dead_run_is_in_doubt_but_not_for_its_own_run(journal: Journal) -> None:
    run = journal.start_run("sum", "0.1", None, None)
    journal.record_intent(run, batch(A))
    assert set(journal.overlay({SCOPE})[SCOPE].in_doubt) == {A}
    assert journal.overlay({SCOPE}, current_run=run)[SCOPE].in_doubt == {}


def test_resolution_is_recorded_with_who_and_why(journal: Journal) -> None:
    run = journal.start_run("sum", "0.1", None, None)
    b = batch(A, B)
    journal.record_outcome(journal.record_intent(run, b), result(b, Outcome.IN_DOUBT, Outcome.IN_DOUBT))
    a_id, b_id = (i.id for i in journal.items())
    assert journal.resolve([a_id], RESOLVED_ISSUED, by="read", reason="visible in SearchCoupons") == 1
    assert journal.resolve([b_id], RESOLVED_NOT_ISSUED, by="alice", reason="vendor support confirmed") == 1
    overlay = journal.overlay({SCOPE})[SCOPE]
    assert overlay.issued == {A} and overlay.in_doubt == {}
    resolved = journal.items(states=(RESOLVED_NOT_ISSUED,))
    assert [(i.resolved_by, i.resolution_reason) for i in resolved] == [("alice", "vendor support confirmed")]
    assert journal.resolve([a_id], RESOLVED_NOT_ISSUED, by="x", reason="y") == 0  # only in-doubt items change


def test_runs_are_found_by_checksum(journal: Journal) -> None:
    run = journal.start_run("abc", "0.1", "ci", "deadbeef")
    journal.finish_run(run, "success")
    found = journal.run_with_checksum("abc")
    assert found is not None and found.id == run and found.outcome == "success"
    assert journal.run_with_checksum("other") is None


def test_schema_is_versioned_and_a_newer_journal_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "journal.sqlite"
    Journal(path).close()
    db = sqlite3.connect(path)
    assert db.execute("PRAGMA user_version").fetchone()[0] == 3
    assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    db.execute("PRAGMA user_version = 99")
    db.commit()
    with pytest.raises(JournalError, match="newer"):
        Journal(path)
