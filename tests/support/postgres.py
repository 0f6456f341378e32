"""The test PostgreSQL server: where it is, and a fresh database on it for one test."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import NoReturn
from urllib.parse import urlsplit, urlunsplit

import pytest

DEFAULT_POSTGRES_URL = "postgresql://postgres@127.0.0.1:5432/test"


def postgres_server_url() -> str:
    """The server the tests use: ``COUPONCTL_TEST_POSTGRES_URL``, or a local default."""
    return os.environ.get("COUPONCTL_TEST_POSTGRES_URL", DEFAULT_POSTGRES_URL)


def require_server_or_skip(message: str) -> NoReturn:
    """Without a server a test is skipped with the reason, except under CI=true, where it fails: CI must prove the
    PostgreSQL journal works."""
    if os.environ.get("CI") == "true":
        pytest.fail(message)
    pytest.skip(message)


@contextmanager
def fresh_database() -> Iterator[str]:
    """A URL to a fresh, empty database on the test server (a unique name), dropped afterwards.

    A database, not a schema of a shared one: PostgreSQL's advisory locks are per database, and a journal's
    writers serialize on one. A test that pauses or kills an apply mid-write (SIGSTOP, SIGKILL) would otherwise
    hold up every other test's journal on the same server while the suite runs in parallel."""
    psycopg = pytest.importorskip("psycopg")
    base = postgres_server_url()
    try:
        admin = psycopg.connect(base, autocommit=True, connect_timeout=5)
    except psycopg.Error as exc:
        require_server_or_skip(
            f"no PostgreSQL at COUPONCTL_TEST_POSTGRES_URL ({type(exc).__name__}); start one or set the URL"
        )
    name = f"couponctl_test_{uuid.uuid4().hex[:12]}"
    admin.execute(f"CREATE DATABASE {name}")
    try:
        yield urlunsplit(urlsplit(base)._replace(path=f"/{name}"))
    finally:
        admin.execute(f"DROP DATABASE {name} WITH (FORCE)")  # a test's hung process may still be connected
        admin.close()
