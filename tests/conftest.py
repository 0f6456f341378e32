"""Fixtures shared by the whole suite: journal backends (SQLite and a real PostgreSQL)."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote

import pytest

DEFAULT_POSTGRES_URL = "postgresql://postgres@127.0.0.1:5432/test"


def postgres_server_url() -> str:
    return os.environ.get("COUPONCTL_TEST_POSTGRES_URL", DEFAULT_POSTGRES_URL)


@pytest.fixture
def postgres_url() -> Iterator[str]:
    """A URL to a fresh, empty schema on the test PostgreSQL server, dropped afterwards.

    Without a server the test is skipped with the reason, except under CI=true, where it fails: CI must
    prove the PostgreSQL journal works.
    """
    psycopg = pytest.importorskip("psycopg")
    base = postgres_server_url()
    try:
        admin = psycopg.connect(base, autocommit=True, connect_timeout=5)
    except psycopg.Error as exc:
        message = f"no PostgreSQL at COUPONCTL_TEST_POSTGRES_URL ({type(exc).__name__}); start one or set the URL"
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)
    schema = f"couponctl_test_{uuid.uuid4().hex[:12]}"
    admin.execute(f"CREATE SCHEMA {schema}")
    separator = "&" if "?" in base else "?"
    try:
        yield f"{base}{separator}options={quote(f'-csearch_path={schema}')}"
    finally:
        admin.execute(f"DROP SCHEMA {schema} CASCADE")
        admin.close()


@pytest.fixture(params=["sqlite", "postgresql"])
def journal_location(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """Where a journal lives, once for each backend: the same tests run against both."""
    if request.param == "sqlite":
        return str(tmp_path / "state" / "journal.sqlite")
    url: str = request.getfixturevalue("postgres_url")
    return url
