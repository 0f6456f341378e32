"""Fixtures shared by the whole suite: journal backends (SQLite and a real PostgreSQL), the example project."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.postgres import fresh_database
from tests.support.projects import copy_examples
from tests.support.served import ServeProject, served_projects


@pytest.fixture
def postgres_url() -> Iterator[str]:
    """A URL to a fresh, empty database on the test PostgreSQL server, dropped afterwards.

    Without a server the test is skipped with the reason, except under CI=true, where it fails: CI must
    prove the PostgreSQL journal works.
    """
    with fresh_database() as url:
        yield url


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def journal_location(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """Where a journal lives, once for each backend: the same tests run against both."""
    if request.param == "sqlite":
        return str(tmp_path / "state" / "journal.sqlite")
    url: str = request.getfixturevalue("postgres_url")
    return url


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """A copy of examples/ (without its sandbox state) at ``tmp_path / "project"``; a module may declare its own."""
    return copy_examples(tmp_path / "project")


@pytest.fixture
def serve_project(tmp_path: Path) -> Iterator[ServeProject]:
    """Projects pointed at a `couponctl sandbox serve` on loopback whose issuing calls take 1.5 s (see
    tests.support.served.served_projects); the servers stop after the test."""
    with served_projects(tmp_path) as start:
        yield start
