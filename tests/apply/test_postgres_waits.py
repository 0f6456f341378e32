"""A PostgreSQL journal's write lock is never held for ever by a session that stopped talking, and never waited
for without end: a session idle inside a transaction is ended by the server, and a wait for a lock fails with a
JournalError that says what held it up."""

from __future__ import annotations

import time

import psycopg
import pytest

from reconciler.apply import database
from reconciler.apply.journal import Journal
from reconciler.errors import JournalError

pytestmark = [pytest.mark.postgres]


def test_a_session_idle_inside_a_write_transaction_is_ended_and_frees_the_write_lock(
    postgres_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(database, "PG_IDLE_IN_TRANSACTION_SECONDS", 1)
    paused, other = Journal(postgres_url), Journal(postgres_url)
    try:
        with pytest.raises(JournalError) as ended, paused.db.transaction():  # holds the write lock, then stalls
            paused.db.execute("SELECT 1")
            time.sleep(3)
            paused.db.execute("SELECT 1")
        assert "Traceback" not in str(ended.value)
        with other.db.transaction():  # the write lock is free again
            other.db.execute("SELECT 1")
    finally:
        paused.close()
        other.close()


def test_a_write_that_cannot_get_the_write_lock_fails_in_bounded_time_and_says_why(
    postgres_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(database, "PG_LOCK_WAIT_SECONDS", 1)
    journal = Journal(postgres_url)
    try:
        with psycopg.connect(postgres_url, autocommit=True) as holder, holder.transaction():  # not couponctl's
            holder.execute("SELECT pg_advisory_xact_lock(%s)", (database._PG_WRITE_LOCK,))
            started = time.monotonic()
            with pytest.raises(JournalError) as refused, journal.db.transaction():
                pass
            waited = time.monotonic() - started
        assert "write lock" in str(refused.value)
        assert waited < 30
    finally:
        journal.close()
