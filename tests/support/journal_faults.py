"""Breaking an open journal the way the world does: a full disk under SQLite, a terminated PostgreSQL backend."""

from __future__ import annotations

import sqlite3
from typing import Any

import psycopg

from reconciler.apply.journal import Journal
from tests.support.postgres import postgres_server_url

_WRITES = ("INSERT", "UPDATE", "DELETE", "REPLACE")


def disk_full() -> sqlite3.OperationalError:
    """The error SQLite raises when the disk under its file is full (SQLITE_FULL)."""
    error = sqlite3.OperationalError("database or disk is full")
    error.sqlite_errorcode = 13
    error.sqlite_errorname = "SQLITE_FULL"
    return error


class FullDisk:
    """A sqlite3 connection on a full disk: reads work, every write fails with SQLITE_FULL."""

    def __init__(self, connection: sqlite3.Connection) -> None:
        self._connection = connection

    def execute(self, sql: str, params: Any = ()) -> Any:
        if sql.lstrip().upper().startswith(_WRITES):
            raise disk_full()
        return self._connection.execute(sql, params)

    def executemany(self, sql: str, rows: Any) -> Any:
        raise disk_full()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._connection, name)


def terminate_backends(where: str, params: tuple[object, ...]) -> int:
    """``pg_terminate_backend`` on the backends ``pg_stat_activity`` selects; returns how many."""
    with psycopg.connect(postgres_server_url(), autocommit=True) as admin:
        rows = admin.execute(
            f"SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE pid <> pg_backend_pid() AND {where}",
            params,
        ).fetchall()
    return sum(1 for (done,) in rows if done)


def terminate_process_backends(pid: int) -> int:
    """Terminate every backend serving couponctl process ``pid`` (its connections name it)."""
    return terminate_backends("application_name = %s", (f"couponctl pid {pid}",))


def break_journal(journal: Journal) -> None:
    """From now on the journal fails: a terminated backend (PostgreSQL) or a full disk (SQLite)."""
    if journal.db.dialect == "postgresql":
        (backend,) = journal.db.execute("SELECT pg_backend_pid()")[0]
        assert terminate_backends("pid = %s", (backend,)) == 1
    else:
        journal.db._db = FullDisk(journal.db._db)  # type: ignore[attr-defined]
