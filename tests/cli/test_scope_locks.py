"""A lease per scope through the CLI: `lock status` and `lock break` per scope, an apply that overlaps a held scope
waits (exit 3 naming it) while one of other scopes goes ahead, and policy limits still add up every scope of an
apply."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from reconciler.apply.journal import Journal
from reconciler.apply.lock import ApplyLock
from tests.support.cli import run
from tests.support.projects import assert_exactly_once, holders, make_project

SPRING = "msads-local/251186883/SPRING27-ACQ-100"
WINBACK = "msads-local/251186883/WINBACK27-RET-50"
RESELLER = "aliyun-local/3944837183/295873"


@pytest.fixture
def project(tmp_path: Path) -> Path:
    return make_project(tmp_path, faults=[], extra={"policy": {"maxItems": 10, "maxAmount": {"USD": 1000}}})


@pytest.fixture
def journal(project: Path) -> Iterator[Journal]:
    opened = Journal(project / ".couponctl" / "journal.sqlite")
    yield opened
    opened.close()


def hold(journal: Journal, holder: str, *scopes: str) -> ApplyLock:
    """Another runner's apply, holding the leases of ``scopes``."""
    lock = ApplyLock(journal.db, names=scopes)
    assert lock.try_acquire(holder) is None
    return lock


def test_lock_status_and_break_work_per_scope(project: Path, journal: Journal) -> None:
    hold(journal, "runner-a", SPRING)
    hold(journal, "runner-b", WINBACK)
    every = run(project, "lock", "status")
    assert every.exit_code == 0, every.output
    assert [line.split(" (")[0] for line in every.stdout.splitlines()] == [
        f"Held by runner-a on {SPRING}",
        f"Held by runner-b on {WINBACK}",
    ]
    one = run(project, "lock", "status", SPRING).stdout
    assert "runner-a" in one and "runner-b" not in one
    assert run(project, "lock", "status", RESELLER).stdout.strip() == f"The lock is free for {RESELLER}."

    broken = run(project, "lock", "break", SPRING, "--reason", "runner-a was killed")
    assert broken.exit_code == 0 and broken.stdout.strip() == f"Broke the lease held by runner-a on {SPRING}"
    left = run(project, "lock", "status").stdout
    assert "runner-a" not in left and f"Held by runner-b on {WINBACK}" in left
    events = journal.db.execute("SELECT name, event, holder, reason FROM lock_events")
    assert events == [(SPRING, "broken", "runner-a", "runner-a was killed")]

    bad = run(project, "lock", "status", "SPRING27-ACQ-100")
    assert bad.exit_code == 1 and "not a scope" in bad.output


def test_an_apply_waits_only_for_the_scopes_it_shares_and_its_policy_adds_up_all_of_its_scopes(
    project: Path, journal: Journal
) -> None:
    hold(journal, "another runner", RESELLER)
    whole = run(project, "apply", "--yes")
    assert whole.exit_code == 3, whole.output
    assert f"another apply holds the lock: another runner on {RESELLER}" in whole.stderr

    msads = ["manifests/spring27-acquisition.yaml", "manifests/winback27.yaml"]
    assert run(project, "plan", *msads, "--out", "msads.json").exit_code == 0
    over = run(project, "apply", "msads.json", "--yes")  # 9 + 3 items, USD 900 + 150: each scope alone is under
    assert over.exit_code == 3, over.output
    assert "exceeds the policy" in over.stderr and "maxItems" in over.stderr and "USD" in over.stderr
    assert sum(holders(project)[0].values()) == 0

    typed = run(project, "apply", "msads.json", "--yes", "--allow-over-limit", "spring launch, approved")
    assert typed.exit_code == 3 and "reviewed plan" in typed.stderr  # an override the reviewer never saw
    assert sum(holders(project)[0].values()) == 0
    overrides = ["--override", "maxItems", "--override", "maxAmount", "--reason", "spring launch, approved"]
    assert run(project, "plan", *msads, *overrides, "--out", "msads.json").exit_code == 0
    allowed = run(project, "apply", "msads.json", "--yes")
    assert allowed.exit_code == 0, allowed.output  # while the other runner still holds its scope
    emails, accounts, uids = holders(project)
    assert sum(emails.values()) + sum(accounts.values()) == 12 and not uids

    ApplyLock(journal.db, names=(RESELLER,)).release("another runner")
    assert run(project, "apply", "--yes", "--allow-over-limit", "the rest").exit_code == 0
    assert_exactly_once(project)
