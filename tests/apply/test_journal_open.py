"""Opening a journal: why one cannot be opened, and where the PostgreSQL journal keeps its tables (schema
``couponctl``), including the move of a previous version's tables out of ``public``."""

from __future__ import annotations

import os
import socket
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from urllib.parse import quote, urlsplit, urlunsplit

import psycopg
import pytest
from click.testing import CliRunner

from reconciler.apply.database import PG_SCHEMA, PG_TABLES
from reconciler.apply.journal import MIGRATIONS, Journal
from reconciler.cli.main import main
from reconciler.errors import JournalError
from reconciler.plan.model import PlanItem
from reconciler.providers.base import Batch
from reconciler.state.desired import Scope, Target
from tests.support.postgres import postgres_server_url, require_server_or_skip

SCOPE = Scope("msads-prod", "251186883", "SPRING27-ACQ-100")


def _with_database(url: str, database: str, *, user: str | None = None, password: str | None = None) -> str:
    parts = urlsplit(url)
    user = user or parts.username or "postgres"
    auth = f"{user}:{password}@" if password else f"{user}@"
    netloc = f"{auth}{parts.hostname}" + (f":{parts.port}" if parts.port else "")
    return urlunsplit((parts.scheme, netloc, f"/{database}", parts.query, parts.fragment))


def _with_search_path(url: str, schema: str) -> str:
    separator = "&" if "?" in url else "?"
    return f"{url}{separator}options={quote(f'-csearch_path={schema}')}"


def _admin() -> psycopg.Connection[tuple[object, ...]]:
    try:
        return psycopg.connect(postgres_server_url(), autocommit=True, connect_timeout=5)
    except psycopg.Error as exc:
        require_server_or_skip(
            f"no PostgreSQL at COUPONCTL_TEST_POSTGRES_URL ({type(exc).__name__}); start one or set the URL"
        )


@pytest.fixture
def database_url() -> Iterator[str]:
    """A URL to a database of its own (created and dropped here), so that the default schema and ``public``
    are this test's alone."""
    admin = _admin()
    name = f"couponctl_t_{uuid.uuid4().hex[:12]}"
    admin.execute(f"CREATE DATABASE {name}")
    try:
        yield _with_database(postgres_server_url(), name)
    finally:
        admin.execute(f"DROP DATABASE {name} WITH (FORCE)")
        admin.close()


@pytest.fixture
def role(database_url: str) -> Iterator[str]:
    """A login role with no rights (dropped after the test's database)."""
    admin = _admin()
    name = f"ro_{uuid.uuid4().hex[:12]}"
    admin.execute(f"CREATE ROLE {name} LOGIN")
    try:
        yield name
    finally:
        with psycopg.connect(database_url, autocommit=True) as db:
            db.execute(f"DROP OWNED BY {name}")
        admin.execute(f"DROP ROLE {name}")
        admin.close()


def tables(url: str) -> dict[str, set[str]]:
    """Which couponctl tables each schema holds, straight from the catalog."""
    with psycopg.connect(url, autocommit=True) as db:
        rows = db.execute(
            "SELECT table_schema, table_name FROM information_schema.tables WHERE table_name = ANY(%s)",
            (list(PG_TABLES),),
        ).fetchall()
    found: dict[str, set[str]] = {}
    for schema, table in rows:
        found.setdefault(schema, set()).add(table)
    return found


def issue_one(journal: Journal, target: str) -> str:
    run = journal.start_run("sum", "0.1", "ci", None)
    journal.record_intent(run, Batch(SCOPE, "DispatchCoupons", (PlanItem(Target.email(target), "m"),)))
    return run


def previous_version_journal(url: str) -> str:
    """A journal laid out as couponctl kept it before: its tables in ``public``, holding one run."""
    legacy = Journal(_with_search_path(url, "public"))
    try:
        return issue_one(legacy, "old@example.com")
    finally:
        legacy.close()


# --- the schema of its own ---


@pytest.mark.postgres
def test_a_new_postgres_journal_keeps_its_tables_in_schema_couponctl(database_url: str) -> None:
    journal = Journal(database_url)
    issue_one(journal, "a@example.com")
    journal.close()
    assert tables(database_url) == {PG_SCHEMA: set(PG_TABLES)}


@pytest.mark.postgres
def test_a_previous_version_journal_in_public_is_moved_into_couponctl_with_its_records(database_url: str) -> None:
    run = previous_version_journal(database_url)
    assert tables(database_url) == {"public": set(PG_TABLES)}
    journal = Journal(database_url)
    try:
        assert tables(database_url) == {PG_SCHEMA: set(PG_TABLES)}
        assert [(i.run_id, i.target.value) for i in journal.items()] == [(run, "old@example.com")]
        assert journal.db.schema_version() == len(MIGRATIONS)
        issue_one(journal, "new@example.com")  # the identity sequence moved along: ids go on
        ids = [i.id for i in journal.items()]
        assert len(set(ids)) == 2 and ids[1] > ids[0]
    finally:
        journal.close()
    again = Journal(database_url)
    assert len(again.items()) == 2
    again.close()


@pytest.mark.postgres
def test_concurrent_opens_of_a_previous_version_journal_move_it_once(database_url: str) -> None:
    previous_version_journal(database_url)

    def open_and_count(_: int) -> int:
        journal = Journal(database_url)
        try:
            return len(journal.items())
        finally:
            journal.close()

    with ThreadPoolExecutor(4) as pool:
        assert list(pool.map(open_and_count, range(4))) == [1, 1, 1, 1]
    assert tables(database_url) == {PG_SCHEMA: set(PG_TABLES)}


@pytest.mark.postgres
def test_two_journals_in_one_database_are_refused_and_left_as_they_are(database_url: str) -> None:
    previous_version_journal(database_url)
    current = Journal(_with_search_path(database_url, PG_SCHEMA))
    current.close()
    with pytest.raises(JournalError) as caught:
        Journal(database_url)
    message = str(caught.value)
    assert "two couponctl journals" in message and "schema couponctl" in message and "schema public" in message
    assert tables(database_url) == {PG_SCHEMA: set(PG_TABLES), "public": set(PG_TABLES)}


@pytest.mark.postgres
def test_a_login_that_cannot_move_a_previous_version_journal_is_told_how_and_nothing_moves(
    database_url: str, role: str
) -> None:
    previous_version_journal(database_url)
    with psycopg.connect(database_url, autocommit=True) as db:
        db.execute(f"GRANT SELECT ON ALL TABLES IN SCHEMA public TO {role}")
    with pytest.raises(JournalError) as caught:
        Journal(_with_database(database_url, urlsplit(database_url).path[1:], user=role))
    message = str(caught.value)
    assert "schema public" in message and "schema couponctl" in message and "login that owns them" in message
    assert tables(database_url) == {"public": set(PG_TABLES)}


@pytest.mark.postgres
def test_a_read_only_login_with_the_documented_rights_opens_the_journal(database_url: str, role: str) -> None:
    """docs/ci.md: USAGE on schema couponctl and SELECT on its tables; opening writes nothing."""
    Journal(database_url).close()
    with psycopg.connect(database_url, autocommit=True) as db:
        db.execute(f"GRANT USAGE ON SCHEMA couponctl TO {role}")
        db.execute(f"GRANT SELECT ON ALL TABLES IN SCHEMA couponctl TO {role}")
    journal = Journal(_with_database(database_url, urlsplit(database_url).path[1:], user=role))
    try:
        assert journal.overlay({SCOPE}) == {} and journal.db.schema_version() == len(MIGRATIONS)
    finally:
        journal.close()


@pytest.mark.postgres
def test_a_login_without_usage_on_the_schema_is_told_which_right_it_lacks(database_url: str, role: str) -> None:
    Journal(database_url).close()
    with pytest.raises(JournalError) as caught:
        Journal(_with_database(database_url, urlsplit(database_url).path[1:], user=role))
    assert f"GRANT USAGE ON SCHEMA couponctl TO {role}" in str(caught.value)


@pytest.mark.postgres
def test_a_login_that_may_not_create_the_schema_is_told_so(database_url: str, role: str) -> None:
    with pytest.raises(JournalError) as caught:
        Journal(_with_database(database_url, urlsplit(database_url).path[1:], user=role))
    message = str(caught.value)
    assert "no schema couponctl yet" in message and f"CREATE SCHEMA couponctl AUTHORIZATION {role}" in message


# --- why a journal cannot be opened ---


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port


@pytest.mark.postgres
def test_a_missing_database_is_named_without_the_password() -> None:
    _admin().close()
    name = f"missing_{uuid.uuid4().hex[:8]}"
    url = _with_database(postgres_server_url(), name, password="s3cret-pass")
    with pytest.raises(JournalError) as caught:
        Journal(url)
    message = str(caught.value)
    assert message.startswith(f"cannot open the journal {_with_database(postgres_server_url(), name, password='***')}")
    assert "database missing" in message and f"no database {name}" in message
    assert "s3cret-pass" not in message


@pytest.mark.postgres
def test_a_refused_login_is_named() -> None:
    _admin().close()
    name = f"nobody_{uuid.uuid4().hex[:8]}"
    url = _with_database(postgres_server_url(), urlsplit(postgres_server_url()).path[1:], user=name)
    with pytest.raises(JournalError) as caught:
        Journal(url)
    assert "login refused" in str(caught.value) and f"the login {name}" in str(caught.value)


def test_a_refused_connection_is_named_with_the_host_and_port() -> None:
    port = closed_port()
    with pytest.raises(JournalError) as caught:
        Journal(f"postgresql://couponctl:s3cret-pass@127.0.0.1:{port}/journal")
    message = str(caught.value)
    assert message.startswith(f"cannot open the journal postgresql://couponctl:***@127.0.0.1:{port}/journal: ")
    assert "connection refused" in message and f"127.0.0.1:{port}" in message
    assert "s3cret-pass" not in message


def test_a_sqlite_journal_whose_directory_cannot_be_created_says_so(tmp_path: Path) -> None:
    blocker = tmp_path / "state"
    blocker.write_text("a file where the directory should be")
    with pytest.raises(JournalError) as caught:
        Journal(blocker / "journal.sqlite")
    message = str(caught.value)
    assert message.startswith(f"cannot open the journal {blocker / 'journal.sqlite'}: ")
    assert f"cannot create its directory {blocker}" in message


def test_a_sqlite_journal_that_is_not_a_database_or_is_a_directory_says_so(tmp_path: Path) -> None:
    garbage = tmp_path / "journal.sqlite"
    garbage.write_bytes(b"not a database at all " * 200)
    with pytest.raises(JournalError, match="is not a SQLite database"):
        Journal(garbage)
    folder = tmp_path / "folder.sqlite"
    folder.mkdir()
    with pytest.raises(JournalError, match="is a directory"):
        Journal(folder)


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads and writes any file")
def test_a_sqlite_journal_without_rights_says_permission_denied(tmp_path: Path) -> None:
    locked = tmp_path / "locked"
    locked.mkdir()
    Journal(locked / "journal.sqlite").close()
    locked.chmod(0o500)
    (locked / "journal.sqlite").chmod(0o400)
    try:
        with pytest.raises(JournalError, match="permission denied"):
            Journal(locked / "journal.sqlite")
    finally:
        locked.chmod(0o700)


@pytest.mark.postgres
def test_the_cli_reports_a_journal_it_cannot_open_with_the_cause_and_exit_1(tmp_path: Path) -> None:
    _admin().close()
    project = tmp_path / "project"
    project.mkdir()
    (project / "couponctl.yaml").write_text(
        "journal: ${env:JOURNAL_URL}\nproviders:\n  msads-local: {type: msads, environment: local}\n"
    )
    name = f"missing_{uuid.uuid4().hex[:8]}"
    url = _with_database(postgres_server_url(), name, password="s3cret-pass")
    for command in (["journal", "list"], ["journal", "in-doubt"], ["lock", "status"]):
        result = CliRunner().invoke(main, ["-C", str(project), *command], env={"JOURNAL_URL": url})
        assert result.exit_code == 1, result.output
        assert result.stderr.startswith("error: cannot open the journal postgresql://")
        assert "database missing" in result.stderr and "s3cret-pass" not in result.output + result.stderr
        assert "Traceback" not in result.stderr


@pytest.mark.postgres
@pytest.mark.parametrize(
    "grant", ["GRANT CREATE ON DATABASE {db} TO {role}", "CREATE SCHEMA couponctl AUTHORIZATION {role}"]
)
def test_an_apply_login_with_the_documented_rights_creates_and_writes_the_journal(
    database_url: str, role: str, grant: str
) -> None:
    """docs/ci.md: the apply job's login needs CREATE on the database, or a schema couponctl of its own."""
    database = urlsplit(database_url).path[1:]
    with psycopg.connect(database_url, autocommit=True) as db:
        db.execute(grant.format(db=database, role=role))
    journal = Journal(_with_database(database_url, database, user=role))
    try:
        issue_one(journal, "a@example.com")
        assert len(journal.items()) == 1
    finally:
        journal.close()
    assert tables(database_url) == {PG_SCHEMA: set(PG_TABLES)}


@pytest.mark.postgres
def test_a_read_only_login_keeps_its_select_rights_through_the_move(database_url: str, role: str) -> None:
    """docs/ci.md: after the move, USAGE on couponctl is all the read-only login needs again."""
    previous_version_journal(database_url)
    with psycopg.connect(database_url, autocommit=True) as db:
        db.execute(f"GRANT SELECT ON ALL TABLES IN SCHEMA public TO {role}")
    Journal(database_url).close()  # the owner's login moves the tables
    with psycopg.connect(database_url, autocommit=True) as db:
        db.execute(f"GRANT USAGE ON SCHEMA couponctl TO {role}")
    journal = Journal(_with_database(database_url, urlsplit(database_url).path[1:], user=role))
    try:
        assert len(journal.items()) == 1
    finally:
        journal.close()
