"""Fencing against a served sandbox, with a PostgreSQL journal: an apply that lost its lease (its backend
terminated while it waited for a slow token endpoint, or its process paused past its lease) sends nothing more,
and the apply that took over pays nothing twice and never records a coupon that was issued as not issued."""

from __future__ import annotations

import os
import shutil
import signal
import sqlite3
import subprocess
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import psycopg
import pytest
import yaml

from reconciler.apply.journal import HOLDING_STATES, RESOLVED_NOT_ISSUED, Journal
from tests.support.cli import COUPONCTL
from tests.support.journal_faults import terminate_process_backends
from tests.support.projects import assert_exactly_once, holders
from tests.support.served import ServeProject, paused, wait_for_pending

pytestmark = [pytest.mark.slow, pytest.mark.postgres, pytest.mark.subprocess]

SHARED = {"journal": "${env:COUPONCTL_JOURNAL_URL}", "inDoubtWindow": "2s", "lockLease": "2s"}
ISSUING = ("dispatch", "distribute", "send")


def start_apply(project: Path, env: dict[str, str], *extra: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [*COUPONCTL, "-C", str(project), "--no-color", "apply", "--yes", *extra],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, **env},
    )


def issuing_calls(project: Path) -> int:
    """How many issuing requests reached the sandbox (its own call log)."""
    db = sqlite3.connect(project / ".couponctl" / "sandbox.sqlite")
    try:
        marks = ", ".join("?" for _ in ISSUING)
        return int(db.execute(f"SELECT count(*) FROM calls WHERE endpoint IN ({marks})", ISSUING).fetchone()[0])
    finally:
        db.close()


def assert_the_ledger_records_what_was_paid(project: Path, journal_url: str) -> None:
    """Per target, the journal's issued records equal the coupons the sandbox holds: no RESOLVED_NOT_ISSUED stands
    for a call that did issue, and nothing paid is missing."""
    journal = Journal(journal_url)
    try:
        rows = journal.db.execute("SELECT target_kind, target_value, state FROM items")
    finally:
        journal.close()
    recorded = Counter((kind, value) for kind, value, state in rows if state in HOLDING_STATES)
    emails, accounts, uids = holders(project)
    paid = Counter(
        {("email", e): n for e, n in emails.items()}
        | {("account", str(a)): n for a, n in accounts.items()}
        | {("uid", str(u)): n for u, n in uids.items()}
    )
    assert recorded == paid
    not_issued = {(kind, value) for kind, value, state in rows if state == RESOLVED_NOT_ISSUED}
    assert all(recorded[target] == paid[target] for target in not_issued)


def taken_over(project: Path, env: dict[str, str]) -> int:
    """A second apply, waiting for the lease as long as it takes the first's to lapse, takes over and finishes
    (resolves, issues everything); the issuing calls the sandbox has had by then."""
    second = start_apply(project, env, "--lock-timeout", "60")
    out, err = second.communicate(timeout=120)
    assert second.returncode == 0, out + err
    return issuing_calls(project)


def resumed_and_fenced_out(
    first: subprocess.Popen[str], project: Path, calls_before: int, journal_url: str
) -> tuple[str, str]:
    """The paused first apply, resumed after another took over and finished: it exits 5 having sent not one
    issuing request more, every target is paid exactly once and the ledger says so. Its stdout and stderr."""
    out, err = first.communicate(timeout=60)
    assert first.returncode == 5, out + err
    assert issuing_calls(project) == calls_before  # not one issuing request after it resumed
    assert_exactly_once(project)
    assert_the_ledger_records_what_was_paid(project, journal_url)
    return out, err


def only_manifest(project: Path, keep: str) -> None:
    for manifest in (project / "manifests").glob("*.yaml"):
        if manifest.name != keep:
            manifest.unlink()


def set_msads(project: Path, **block: object) -> None:
    path = project / "couponctl.yaml"
    config = yaml.safe_load(path.read_text())
    endpoint = config["providers"]["msads-local"]["endpoint"]
    config["providers"]["msads-local"] = {"type": "msads", "environment": "local", "endpoint": endpoint, **block}
    path.write_text(yaml.safe_dump(config, sort_keys=False))


def short_tokens_one_page(project: Path) -> None:
    """The seed's OAuth tokens live 30 s (under couponctl's 120 s margin: a refresh precedes every call), and the
    class holds 60 coupons (one SearchCoupons page: one slow refresh to read it)."""
    path = project / "sandbox-seed.yaml"
    seed = yaml.safe_load(path.read_text())
    for client in seed["msads"]["oauthClients"]:
        client["tokenLifetimeSeconds"] = 30
    for customer in seed["msads"]["customers"]:
        for coupon_class in customer["classes"]:
            if coupon_class["name"] == "SPRING27-ACQ-100":
                coupon_class["coupons"] = 60
    path.write_text(yaml.safe_dump(seed, sort_keys=False))


def slow_tokens(serve_project: ServeProject, postgres_url: str, latency_ms: int) -> tuple[Path, Path, dict[str, str]]:
    """A served sandbox whose token endpoint takes ``latency_ms``, and two copies of the project on it: one whose
    apply refreshes its token before every call (so that it waits between its intent and its call), one with a
    static token. Returns (static, refreshing, environment)."""
    faults = [f"token:latency-ms={latency_ms}"]
    project, _server = serve_project(SHARED, faults=faults, prepare=short_tokens_one_page)
    only_manifest(project, "spring27-acquisition.yaml")
    refreshing = project.parent / "refreshing"
    shutil.copytree(project, refreshing, ignore=shutil.ignore_patterns(".couponctl"))
    oauth = {"clientId": "${env:MSADS_CLIENT_ID}", "refreshToken": "${env:MSADS_REFRESH_TOKEN}"}
    timeout = latency_ms / 1000 + 2
    set_msads(refreshing, developerToken="${env:MSADS_DEVELOPER_TOKEN}", oauth=oauth, timeoutSeconds=timeout)
    set_msads(project, developerToken="${env:MSADS_DEVELOPER_TOKEN}", accessToken="${env:MSADS_ACCESS_TOKEN}")
    env = {
        "COUPONCTL_JOURNAL_URL": postgres_url,
        "MSADS_DEVELOPER_TOKEN": "BBD37VB98",
        "MSADS_CLIENT_ID": "sandbox-client",
        "MSADS_REFRESH_TOKEN": "sandbox-refresh-token",
        "MSADS_ACCESS_TOKEN": "sandbox-access-token",
    }
    return project, refreshing, env


def test_a_lease_lost_while_waiting_for_a_slow_token_sends_nothing_and_the_takeover_pays_once(
    serve_project: ServeProject, postgres_url: str
) -> None:
    """The issue's scenario: tokens take 3 s and live so short that a refresh precedes every call; the first
    apply's backend is terminated after its first intent; a second apply, with a static token, takes over."""
    project, refreshing, env = slow_tokens(serve_project, postgres_url, 3000)
    first = start_apply(refreshing, env)
    wait_for_pending(postgres_url, deadline_s=60)
    assert terminate_process_backends(first.pid) >= 1
    second = start_apply(project, env, "--lock-timeout", "60")
    out2, err2 = second.communicate(timeout=120)
    out1, err1 = first.communicate(timeout=120)

    assert second.returncode == 0, out2 + err2
    assert first.returncode == 5, out1 + err1
    assert "internal error" not in err1 and "Traceback" not in err1
    assert "sends nothing more" in err1
    assert issuing_calls(project) == 2  # the second apply's two batches; the first sent none
    assert_exactly_once(project)
    assert_the_ledger_records_what_was_paid(project, postgres_url)


def test_an_apply_paused_after_its_intent_past_its_lease_sends_nothing_after_it_resumes_and_exits_5(
    serve_project: ServeProject, postgres_url: str
) -> None:
    """Paused (SIGSTOP) between its intent and its call (it waits 2 s for a token there), past its lease; another
    apply takes over and finishes; resumed (SIGCONT), it sends nothing, says so, and exits 5."""
    project, refreshing, env = slow_tokens(serve_project, postgres_url, 2000)
    first = start_apply(refreshing, env)
    try:
        wait_for_pending(postgres_url, deadline_s=60)
        with paused(first, postgres_url):
            calls = taken_over(project, env)
    finally:
        first.send_signal(signal.SIGCONT)
    out1, err1 = resumed_and_fenced_out(first, project, calls, postgres_url)
    assert "lost its lease" in out1, out1
    assert "internal error" not in err1 and "Traceback" not in err1


def test_an_apply_paused_while_its_call_was_under_way_says_it_lost_its_lease(
    serve_project: ServeProject, postgres_url: str
) -> None:
    """Paused while its call was under way, past its lease; another apply takes over and finishes; resumed, it
    records what it was answered, sends nothing more (one call at a time: the rest are fenced), exits 5."""
    project, _server = serve_project({**SHARED, "issueConcurrency": 1})
    env = {"COUPONCTL_JOURNAL_URL": postgres_url}
    first = start_apply(project, env)
    try:
        wait_for_pending(postgres_url, sent=True)
        with paused(first, postgres_url):
            calls = taken_over(project, env)
    finally:
        first.send_signal(signal.SIGCONT)
    out1, _err1 = resumed_and_fenced_out(first, project, calls, postgres_url)
    assert "lost its lease" in out1, out1


def test_an_apply_paused_inside_a_journal_transaction_blocks_no_other_apply_for_long(
    serve_project: ServeProject, postgres_url: str
) -> None:
    """Paused (SIGSTOP) while its session is inside a write transaction, holding the journal's write lock that
    every writer on every runner takes: the server ends that session after PG_IDLE_IN_TRANSACTION_SECONDS, so
    another apply takes over instead of waiting for ever; resumed, the first sends nothing and exits 5."""
    project, refreshing, env = slow_tokens(serve_project, postgres_url, 2000)
    first = start_apply(refreshing, env)
    try:
        wait_for_pending(postgres_url, deadline_s=60)
        with inside_a_write_transaction(first, postgres_url):
            os.kill(first.pid, signal.SIGSTOP)
        calls = taken_over(project, env)
    finally:
        first.send_signal(signal.SIGCONT)
    out1, err1 = resumed_and_fenced_out(first, project, calls, postgres_url)
    assert "sends nothing more" in out1 + err1
    assert "internal error" not in err1 and "Traceback" not in err1


@contextmanager
def inside_a_write_transaction(process: subprocess.Popen[str], journal_url: str) -> Iterator[None]:
    """Hold every lease row locked until ``process`` waits on one from inside its write transaction (its next
    renewal or fence, after the journal's write lock), run the block there, then let its statement finish: it is
    then inside its transaction, holding the write lock, until it goes on."""
    locker = psycopg.connect(journal_url, autocommit=True)
    watcher = psycopg.connect(journal_url, autocommit=True)
    with locker, watcher, locker.transaction():
        locker.execute("SELECT 1 FROM couponctl.locks FOR UPDATE")
        waiting = (
            "SELECT count(*) FROM pg_stat_activity WHERE application_name = %s AND wait_event_type = 'Lock'"
            " AND state = 'active'"
        )
        end = time.monotonic() + 30
        while not watcher.execute(waiting, (f"couponctl pid {process.pid}",)).fetchone()[0]:  # type: ignore[index]
            assert time.monotonic() < end, "the apply never wrote its lease"
            time.sleep(0.02)
        yield
