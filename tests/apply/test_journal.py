"""The SQLite journal: intent before outcome, states, overlay for the planner, resolution, migrations."""

from __future__ import annotations

import json
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from urllib.parse import urlsplit

import psycopg
import pytest

from reconciler.apply import journal as journal_module
from reconciler.apply.journal import (
    FAILED,
    IN_DOUBT,
    ISSUED,
    LEDGER_COLUMNS,
    MIGRATIONS,
    PENDING,
    RESOLVED_ISSUED,
    RESOLVED_NOT_ISSUED,
    Journal,
)
from reconciler.errors import JournalError
from reconciler.governance.model import Override
from reconciler.plan.model import PlanItem
from reconciler.providers.base import Batch, BatchResult, ItemResult, Outcome
from reconciler.state.desired import Scope, Target

SCOPE = Scope("msads-local", "251186883", "SPRING27-ACQ-100")
A, B, C = (Target.email(f"{n}@example.com") for n in "abc")


def batch(*targets: Target) -> Batch:
    return Batch(SCOPE, "DispatchCoupons", tuple(PlanItem(t, "m") for t in targets))


def result(b: Batch, *outcomes: Outcome) -> BatchResult:
    return BatchResult(b, tuple(ItemResult(i, o) for i, o in zip(b.items, outcomes, strict=True)), "T-1")


@pytest.fixture
def journal(journal_location: str) -> Iterator[Journal]:
    opened = Journal(journal_location)
    yield opened
    opened.close()


def test_intent_is_committed_before_the_outcome_and_visible_to_another_connection(journal: Journal) -> None:
    run = journal.start_run("sum", "0.1", "ci", None)
    journal.record_intent(run, batch(A, B))
    other = Journal(journal.location)
    assert other.db.execute("SELECT target_value, state FROM items ORDER BY id") == [
        ("a@example.com", PENDING),
        ("b@example.com", PENDING),
    ]
    other.close()


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


def test_a_run_records_its_reviewed_overrides_and_commit_and_each_item_its_manifest_and_labels(
    journal: Journal,
) -> None:
    override = Override("usd-cap", "Q2 launch, approved by finance", "alice", "c0ffee")
    run = journal.start_run("sum", "0.1", "ci", "beef", overrides=(override,), reviewed_commit="c0ffee")
    journal.record_intent(run, batch(A), labels={"m": {"team": "growth", "region": "eu"}, "other": {"x": "y"}})
    (row,) = journal.ledger()
    assert list(row) == list(LEDGER_COLUMNS)
    assert json.loads(str(row["overrides"])) == [
        {"name": "usd-cap", "reason": "Q2 launch, approved by finance", "actor": "alice", "commit": "c0ffee"}
    ]
    assert row["reviewed_commit"] == "c0ffee" and row["manifest"] == "m"
    assert json.loads(str(row["labels"])) == {"region": "eu", "team": "growth"}
    plain = journal.start_run("sum2", "0.1", None, None)
    journal.record_intent(plain, batch(B))  # labels not given: not recorded
    assert [(r["overrides"], r["labels"]) for r in journal.ledger()][1] == ("[]", None)


def test_the_governance_migration_keeps_what_older_journals_recorded(
    journal_location: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(journal_module, "MIGRATIONS", MIGRATIONS[:-1])
    old = Journal(journal_location)
    at = "2027-03-01T12:00:00.000000+00:00"
    with old.db.transaction():
        old.db.execute(
            "INSERT INTO runs (id, plan_checksum, tool_version, started_at) VALUES (?, ?, ?, ?)", ("r1", "s", "0", at)
        )
        old.db.execute(
            "INSERT INTO items (run_id, batch_id, operation, provider, owner, coupon_class, target_kind, target_value,"
            " amount, currency, state, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [
                *("r1", "b1", "DispatchCoupons", SCOPE.provider, SCOPE.owner, SCOPE.coupon_class, "email", A.value),
                *("100", "USD", ISSUED, at, at),
            ],
        )
    old.close()
    monkeypatch.undo()
    journal = Journal(journal_location)
    try:
        assert journal.db.schema_version() == len(MIGRATIONS)
        (row,) = journal.ledger()
        assert (row["manifest"], row["labels"], row["overrides"], row["reviewed_commit"]) == (None, None, None, None)
        (spent,) = journal.spending(None, None)
        assert (spent.labels, spent.target, spent.count) == (None, A, 1)  # judged by today's manifests
    finally:
        journal.close()


def test_schema_is_versioned_and_a_newer_journal_is_refused(journal: Journal) -> None:
    assert journal.db.schema_version() == len(MIGRATIONS)
    Journal(journal.location).close()  # opening again migrates nothing
    assert journal.db.schema_version() == len(MIGRATIONS)
    journal.db.set_schema_version(99)
    with pytest.raises(JournalError, match="newer"):
        Journal(journal.location)


def test_sqlite_journals_use_wal(tmp_path: Path) -> None:
    journal = Journal(tmp_path / "journal.sqlite")
    assert journal.db.execute("PRAGMA journal_mode") == [("wal",)]
    assert journal.db.execute("PRAGMA synchronous") == [(2,)]  # FULL


def _open_and_read_version(location: str) -> int:
    journal = Journal(location)
    try:
        return journal.db.schema_version()
    finally:
        journal.close()


def test_opening_races_migrate_once(journal_location: str) -> None:
    """Four connections opening a new journal at once: one schema, no error."""
    with ThreadPoolExecutor(4) as pool:
        versions = set(pool.map(_open_and_read_version, [journal_location] * 4))
    assert versions == {len(MIGRATIONS)}


@pytest.mark.postgres
def test_a_postgres_url_in_an_environment_variable_is_resolved_and_never_shown(postgres_url: str) -> None:
    journal = Journal("${env:JOURNAL_URL}", {"JOURNAL_URL": postgres_url})
    assert journal.db.dialect == "postgresql"
    journal.close()
    with pytest.raises(JournalError, match="JOURNAL_URL is not set"):
        Journal("${env:JOURNAL_URL}", {})
    with pytest.raises(JournalError) as caught:
        Journal("postgresql://user:s3cret-pass@127.0.0.1:1/none")
    assert "s3cret-pass" not in str(caught.value) and "***" in str(caught.value)


@pytest.mark.postgres
def test_a_current_postgres_journal_opens_with_read_only_rights(postgres_url: str) -> None:
    """plan and drift run with read-only credentials: opening a migrated journal must write nothing."""
    Journal(postgres_url).close()
    schema = "couponctl"  # the journal's own schema in the test's fresh database
    admin = psycopg.connect(postgres_url, autocommit=True)
    role = f"ro_{urlsplit(postgres_url).path[-12:]}"
    admin.execute(f"CREATE ROLE {role} LOGIN")
    try:
        admin.execute(f"GRANT USAGE ON SCHEMA {schema} TO {role}")
        admin.execute(f"GRANT SELECT ON ALL TABLES IN SCHEMA {schema} TO {role}")
        read_only = postgres_url.replace("postgresql://postgres@", f"postgresql://{role}@", 1)
        journal = Journal(read_only)
        assert journal.overlay({SCOPE}) == {}
        assert journal.db.schema_version() == len(MIGRATIONS)
        journal.close()
    finally:
        admin.execute(f"DROP OWNED BY {role}")
        admin.execute(f"DROP ROLE {role}")
        admin.close()


def test_forgetting_a_simulator_s_providers_keeps_every_other_record(journal: Journal) -> None:
    other = Scope("msads-prod", "251186883", "SPRING27-ACQ-100")
    local_only = journal.start_run("one", "0.1", None, None)
    journal.record_intent(local_only, batch(A, B))
    mixed = journal.start_run("two", "0.1", None, None)
    journal.record_intent(mixed, batch(C))
    journal.record_intent(mixed, Batch(other, "DispatchCoupons", (PlanItem(A, "m"),)))
    assert journal.records_of(["msads-local"]) == (3, 2)
    assert journal.forget(["msads-local"]) == (3, 2)
    assert [(i.scope, i.target) for i in journal.items()] == [(other, A)]
    assert [r.id for r in journal.runs()] == [mixed]  # the run left without items is gone, the other stays
    assert journal.records_of(["msads-local"]) == (0, 0) and journal.forget([]) == (0, 0)


def test_runs_are_found_by_the_start_of_their_id_with_their_actor_and_item_count(journal: Journal) -> None:
    first = journal.start_run("one", "0.1", "alice", None)
    journal.record_intent(first, batch(A, B))
    second = journal.start_run("two", "0.1", None, None)
    assert [r.id for r in journal.runs_starting_with(first[:6])] == [first] or first[:6] == second[:6]
    assert {r.id for r in journal.runs_starting_with("")} == {first, second}
    assert journal.runs_starting_with(first.upper()) == journal.runs_starting_with(first)
    assert journal.runs_starting_with("%") == [] and journal.runs_starting_with("_") == []  # no wildcards
    found = journal.runs_starting_with(first)
    assert [(r.actor, r.items) for r in found] == [("alice", 2)]
    assert [(r.id, r.items) for r in journal.runs()] == [(second, 0), (first, 2)]
