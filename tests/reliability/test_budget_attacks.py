"""Budgets attacked with processes: two applies racing for the last of a budget on a SQLite journal (one host, one
file: the budget's lease is taken there too), and a runner whose wall clock is 40 days off judging a calendar month
on a shared PostgreSQL journal (the month is the journal's, never the runner's). Coupons are counted in the
sandbox's own store."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from reconciler.apply.journal import Journal
from tests.support.cli import COUPONCTL, couponctl
from tests.support.projects import declared_targets, holders, make_project
from tests.support.served import ServeProject, paused, request_timeout, wait_for_pending
from tests.support.skew import skewed

pytestmark = [pytest.mark.slow, pytest.mark.subprocess]

#: USD 1000 for everything msads: spring27 (9 x USD 100) fits, winback27 (3 x USD 50) fits, not both.
BUDGET = {"name": "usd-shared", "amount": {"USD": 1000}, "selector": {"providers": ["msads-local"]}}
SPRING, WINBACK = "spring27-acquisition.yaml", "winback27.yaml"


def start_apply(project: Path, *args: str, env: dict[str, str] | None = None) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [*COUPONCTL, "-C", str(project), "--no-color", "apply", "--yes", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, **(env or {})},
    )


def test_two_applies_on_one_sqlite_journal_cannot_both_spend_a_budget_s_last(serve_project: ServeProject) -> None:
    project, _server = serve_project({"inDoubtWindow": "2s", "lockLease": "60s", "budgets": [BUDGET]})
    request_timeout(project, 60)
    for manifest in (SPRING, WINBACK):
        made = couponctl(project, "plan", f"manifests/{manifest}", "--out", f"{manifest}.plan.json")
        assert made.returncode == 0, made.stdout + made.stderr  # each fits alone

    journal = project / ".couponctl" / "journal.sqlite"
    first = start_apply(project, f"{SPRING}.plan.json")
    wait_for_pending(journal, sent=True)
    with paused(first, journal):
        second = start_apply(project, f"{WINBACK}.plan.json", "--lock-timeout", "120")
        at_once = couponctl(project, "apply", f"{WINBACK}.plan.json", "--yes")
    out, err = first.communicate(timeout=120)
    second_out, second_err = second.communicate(timeout=120)

    assert first.returncode == 0, out + err
    assert at_once.returncode == 3, at_once.stdout + at_once.stderr
    assert "budget:usd-shared" in at_once.stderr
    assert second.returncode == 3, second_out + second_err
    assert "limit 1000, spent 900, in doubt 0, this plan adds 150, remaining -50" in second_err

    emails, accounts, uids = holders(project)
    spring_emails, spring_accounts, _ = declared_targets(project, SPRING)
    assert set(emails) == spring_emails and set(accounts) == spring_accounts and not uids
    assert set(emails.values()) == {1} and set(accounts.values()) == {1}
    recorded = Journal(journal)
    try:
        assert len(recorded.runs()) == 1
    finally:
        recorded.close()


@pytest.mark.postgres
@pytest.mark.parametrize("days", [40, -40])
def test_a_runner_whose_clock_is_a_month_off_judges_the_journal_s_month(
    tmp_path: Path, postgres_url: str, days: int
) -> None:
    budget = {**BUDGET, "period": "month"}
    project = make_project(tmp_path, faults=[], extra={"journal": "${env:COUPONCTL_JOURNAL_URL}", "budgets": [budget]})
    env = {"COUPONCTL_JOURNAL_URL": postgres_url}
    assert couponctl(project, "plan", f"manifests/{SPRING}", "--out", "spring.json", env=env).returncode == 0
    applied = couponctl(project, "apply", "spring.json", "--yes", env=env)
    assert applied.returncode == 0, applied.stdout + applied.stderr  # USD 900 this month, on the server's clock

    off = {**env, **skewed(days * 86400)}
    assert couponctl(project, "plan", f"manifests/{WINBACK}", "--out", "winback.json", env=off).returncode == 0
    refused = couponctl(project, "apply", "winback.json", "--yes", env=off)
    assert refused.returncode == 3, refused.stdout + refused.stderr
    assert "budget usd-shared (calendar month (UTC)) USD: limit 1000, spent 900" in refused.stderr
    emails, _, _ = holders(project)
    assert not set(declared_targets(project, WINBACK)[0]) & set(emails)
