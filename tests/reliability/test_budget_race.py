"""Two applies racing for the last of a budget, on a shared PostgreSQL journal: on different scopes, each fitting the
budget alone but not together. Each apply holds a lease on the budget while it plans and issues, so the second waits
for the first, reads the budget again under the lock, and is refused (exit 3) naming it; the sandbox's own store
shows only the first's coupons."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from reconciler.app.plan import plan_project
from reconciler.app.session import load_project
from reconciler.apply.journal import Journal
from tests.support.cli import COUPONCTL, couponctl
from tests.support.projects import declared_targets, holders
from tests.support.served import ServeProject, paused, request_timeout, wait_for_pending

pytestmark = [pytest.mark.slow, pytest.mark.postgres, pytest.mark.subprocess]

#: USD 1000 for everything msads: spring27 (9 x USD 100) fits, winback27 (3 x USD 50) fits, not both.
BUDGET = {"name": "usd-shared", "amount": {"USD": 1000}, "selector": {"providers": ["msads-local"]}}
SPRING, WINBACK = "spring27-acquisition.yaml", "winback27.yaml"


def start_apply(project: Path, url: str, *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [*COUPONCTL, "-C", str(project), "--no-color", "apply", "--yes", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "COUPONCTL_JOURNAL_URL": url},
    )


def test_two_applies_sharing_a_budget_cannot_both_spend_its_last(
    serve_project: ServeProject, postgres_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The first apply is paused (SIGSTOP) once its first call has left, holding its leases (its scope's and the
    # budget's); its lease and request timeout outlast the pause, so it resumes as a slow apply, not a dead one.
    config = {
        "journal": "${env:COUPONCTL_JOURNAL_URL}",
        "inDoubtWindow": "2s",
        "lockLease": "60s",
        "budgets": [BUDGET],
    }
    project, _server = serve_project(config)
    request_timeout(project, 60)
    env = {"COUPONCTL_JOURNAL_URL": postgres_url}
    monkeypatch.setenv("COUPONCTL_JOURNAL_URL", postgres_url)
    for manifest in (SPRING, WINBACK):
        alone = plan_project(load_project(project, [project / "manifests" / manifest]))
        assert alone.governance is not None and alone.has_changes
        assert not alone.governance.breaches  # each fits the budget alone
        made = couponctl(project, "plan", f"manifests/{manifest}", "--out", f"{manifest}.plan.json", env=env)
        assert made.returncode == 0, made.stdout + made.stderr

    first = start_apply(project, postgres_url, f"{SPRING}.plan.json")
    wait_for_pending(postgres_url, sent=True)
    with paused(first, postgres_url):
        second = start_apply(project, postgres_url, f"{WINBACK}.plan.json", "--lock-timeout", "120")
        at_once = couponctl(project, "apply", f"{WINBACK}.plan.json", "--yes", env=env)  # does not wait
    out, err = first.communicate(timeout=120)
    second_out, second_err = second.communicate(timeout=120)

    assert first.returncode == 0, out + err
    # Another scope, but the same budget: its lease stood in the way.
    assert at_once.returncode == 3, at_once.stdout + at_once.stderr
    assert "another apply holds the lock" in at_once.stderr and "budget:usd-shared" in at_once.stderr
    # The one that waited read the budget again under the lock, with the first's spending recorded as spent.
    assert second.returncode == 3, second_out + second_err
    assert "nothing was issued" in second_err
    assert (
        "budget usd-shared (lifetime) USD: limit 1000, spent 900, in doubt 0, this plan adds 150, remaining -50"
        in second_err
    )

    emails, accounts, uids = holders(project)
    spring_emails, spring_accounts, _ = declared_targets(project, SPRING)
    assert set(emails) == spring_emails and set(accounts) == spring_accounts and not uids
    assert set(emails.values()) == {1} and set(accounts.values()) == {1}
    journal = Journal(postgres_url)
    try:
        assert len(journal.runs()) == 1  # the refused applies started no run: not one intent
    finally:
        journal.close()
