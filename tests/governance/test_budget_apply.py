"""Budgets in a project: the plan carries each budget's status, read from the journal; apply reads them again under
its lock and refuses a breach with exit 3, issuing nothing (the sandbox's own store says so); the journal and its
ledger record who declared each item, with which labels."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path

import yaml

from reconciler.app.plan import plan_project
from reconciler.app.session import load_project
from reconciler.apply.journal import Journal
from tests.support.cli import run
from tests.support.projects import coupons_held, holders, make_project

#: The example's money: spring27 issues 9 coupons of USD 100, winback27 3 of USD 50, the reseller 3 of CNY 100.
SPRING_USD, WINBACK_USD = Decimal(900), Decimal(150)
ZERO = Decimal(0)
SPRING_EMAILS = 6
WINBACK_EMAILS = {"lapsed.one@example.org", "lapsed.two@example.org", "lapsed.three@example.org"}


def project_with(tmp_path: Path, *budgets: dict[str, object]) -> Path:
    return make_project(tmp_path, faults=[], extra={"budgets": list(budgets)})


def test_the_plan_shows_each_budget_read_from_the_journal(tmp_path: Path) -> None:
    project = project_with(
        tmp_path,
        {"name": "usd", "amount": {"USD": 2000}, "period": "month", "timeZone": "Europe/Berlin"},
        {"name": "growth", "amount": {"USD": 1000}, "selector": {"labels": {"team": "growth"}}},
    )
    first = plan_project(load_project(project))
    assert first.governance is not None
    shown = {(b.name, b.currency): (b.spent, b.in_doubt, b.adds, b.breach) for b in first.governance.budgets}
    assert shown == {
        ("usd", "USD"): (ZERO, ZERO, SPRING_USD + WINBACK_USD, False),
        ("growth", "USD"): (ZERO, ZERO, SPRING_USD, False),
    }
    usd = next(b for b in first.governance.budgets if b.name == "usd")
    assert usd.period == "calendar month (Europe/Berlin)" and usd.period_start is not None

    assert run(project, "apply", "--yes").exit_code == 0
    after = plan_project(load_project(project))
    assert after.governance is not None
    spent = {(b.name, b.currency): (b.spent, b.adds, b.remaining) for b in after.governance.budgets}
    assert spent == {
        ("usd", "USD"): (SPRING_USD + WINBACK_USD, ZERO, Decimal(950)),
        ("growth", "USD"): (SPRING_USD, ZERO, Decimal(100)),
    }


def test_apply_refuses_a_breach_with_exit_3_and_issues_nothing(tmp_path: Path) -> None:
    project = project_with(tmp_path, {"name": "usd-cap", "amount": {"USD": 1000}})
    refused = run(project, "apply", "--yes")
    assert refused.exit_code == 3, refused.output
    assert "usd-cap" in refused.stderr and "nothing was issued" in refused.stderr
    assert "spent 0, in doubt 0, this plan adds 1050, remaining -50" in refused.stderr
    assert coupons_held(project) == 0
    journal = Journal(project / ".couponctl" / "journal.sqlite")
    try:
        assert journal.runs() == []  # no run started: not a single intent
    finally:
        journal.close()


def test_a_budget_spent_by_one_apply_refuses_the_next_that_would_breach_it(tmp_path: Path) -> None:
    project = project_with(tmp_path, {"name": "usd-cap", "amount": {"USD": 1000}, "period": "30d"})
    plan_file = project / "spring.plan.json"
    spring = run(project, "plan", "manifests/spring27-acquisition.yaml", "--out", str(plan_file))
    assert spring.exit_code == 0, spring.output
    assert run(project, "apply", str(plan_file), "--yes").exit_code == 0
    assert coupons_held(project) == 9

    refused = run(project, "apply", "--yes")  # the rest: winback's USD 150 (and the reseller's CNY) no longer fit
    assert refused.exit_code == 3, refused.output
    assert "budget usd-cap (last 30 days) USD: limit 1000, spent 900, in doubt 0, this plan adds 150" in refused.stderr
    assert "remaining -50" in refused.stderr
    emails, _, uids = holders(project)
    assert coupons_held(project) == 9 and not WINBACK_EMAILS & set(emails) and not uids
    assert len(emails) == SPRING_EMAILS


def test_a_budget_in_another_currency_or_for_other_labels_lets_the_apply_through(tmp_path: Path) -> None:
    budgets = [
        {"name": "cny", "amount": {"CNY": 300}},  # exactly the reseller's 3 x 100: fits
        {"name": "retention", "amount": {"USD": 150}, "selector": {"labels": {"team": "retention"}}},
        {"name": "other-provider", "amount": {"USD": 1}, "selector": {"providers": ["msads-prod"]}},
    ]
    other = {"msads-prod": {"type": "msads", "environment": "local"}}  # declared (a budget may name it), unused
    project = make_project(tmp_path, faults=[], extra={"budgets": budgets, "providers": other})
    applied = run(project, "apply", "--yes")
    assert applied.exit_code == 0, applied.output
    assert coupons_held(project) == 15


def test_the_journal_and_ledger_record_the_declaring_manifest_and_its_labels(tmp_path: Path) -> None:
    project = project_with(tmp_path)
    assert run(project, "apply", "--yes").exit_code == 0
    records = [json.loads(line) for line in run(project, "journal", "export", "--format", "jsonl").stdout.splitlines()]
    spring = [r for r in records if r["coupon_class"] == "SPRING27-ACQ-100"]
    assert {(r["manifest"], r["labels"]) for r in spring} == {("spring27-acquisition", '{"team":"growth"}')}
    assert {r["overrides"] for r in records} == {"[]"} and {r["reviewed_commit"] for r in records} == {None}

    # Relabel spring27 after the fact: the journal keeps what was true when its money went out.
    manifest = project / "manifests" / "spring27-acquisition.yaml"
    document = yaml.safe_load(manifest.read_text())
    document["metadata"]["labels"] = {"team": "retention"}
    manifest.write_text(yaml.safe_dump(document))
    config = yaml.safe_load((project / "couponctl.yaml").read_text())
    config["budgets"] = [
        {"name": "retention", "amount": {"USD": 150}, "selector": {"labels": {"team": "retention"}}},
    ]
    (project / "couponctl.yaml").write_text(yaml.safe_dump(config))
    again = plan_project(load_project(project))
    assert again.governance is not None
    (retention,) = again.governance.budgets
    assert (retention.spent, retention.remaining, retention.breach) == (WINBACK_USD, ZERO, False)  # winback's alone


def test_a_budget_s_lease_is_named_like_lock_status_shows_it(tmp_path: Path) -> None:
    project = project_with(tmp_path, {"name": "usd-cap", "amount": {"USD": 1000}})
    status = run(project, "lock", "status", "budget:usd-cap")
    assert status.exit_code == 0 and "free for budget:usd-cap" in status.stdout
    wrong = run(project, "lock", "status", "usd-cap")
    assert wrong.exit_code != 0 and "budget:NAME" in wrong.output
