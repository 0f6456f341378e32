"""Budgets attacked through the CLI against the embedded sandbox, counting coupons in the sandbox's own store: a
limit with more digits than a decimal's default precision, money in doubt after lost answers, a reviewed plan that
fit before another apply spent the budget, a manifest relabelled into a budget between plan and apply, and a partial
apply beside spending recorded before the journal kept labels."""

from __future__ import annotations

import sqlite3
from decimal import Decimal
from pathlib import Path

import pytest
import yaml
from click.testing import Result

from reconciler.app.plan import plan_project
from reconciler.app.session import load_project
from tests.support.cli import run
from tests.support.projects import coupons_held, make_project

SPRING, WINBACK = "manifests/spring27-acquisition.yaml", "manifests/winback27.yaml"
#: spring27 issues 9 coupons of USD 100 (6 emails, 3 accounts), winback27 3 of USD 50.
SPRING_USD, WINBACK_USD = Decimal(900), Decimal(150)


def apply_manifest(project: Path, manifest: str) -> Result:
    """A partial apply: the plan of ``manifest`` alone, saved, then applied."""
    out = f"{Path(manifest).stem}.plan.json"
    made = run(project, "plan", manifest, "--out", out)
    assert made.exit_code in (0, 3), made.output
    return run(project, "apply", out, "--yes")


def relabel(project: Path, manifest: str, labels: dict[str, str]) -> None:
    path = project / manifest
    document = yaml.safe_load(path.read_text())
    document["metadata"]["labels"] = labels
    path.write_text(yaml.safe_dump(document, sort_keys=False))


def test_a_limit_with_more_digits_than_decimal_precision_is_still_breached(tmp_path: Path) -> None:
    # 1049.9999999999999999999999999 has 29 significant digits: in the default 28-digit context, limit - 1050
    # rounds to zero and a plan adding USD 1050 would fit.
    limit = "1049.9999999999999999999999999"
    project = make_project(tmp_path, faults=[], extra={"budgets": [{"name": "usd", "amount": {"USD": limit}}]})
    text = (project / "couponctl.yaml").read_text().replace(f"'{limit}'", limit)  # a YAML number, not a string
    (project / "couponctl.yaml").write_text(text)

    plan = plan_project(load_project(project))
    assert plan.governance is not None
    (usd,) = plan.governance.budgets
    assert usd.limit == Decimal(limit) and usd.adds == SPRING_USD + WINBACK_USD
    assert usd.remaining == Decimal(limit) - Decimal(1050) and usd.breach
    assert run(project, "plan", "--out", "p.json").exit_code == 0
    shown = run(project, "show", "p.json")
    assert shown.exit_code == 0 and "BREACH" in shown.stdout, shown.output  # saved and read back exactly
    for args in (["p.json"], []):
        refused = run(project, "apply", *args, "--yes")
        assert refused.exit_code == 3, refused.output
        assert "budget usd" in refused.stderr and coupons_held(project) == 0


@pytest.mark.parametrize("state", ["IN_DOUBT", "PENDING"])
def test_money_in_doubt_in_a_scope_apply_does_not_touch_counts_as_spent(tmp_path: Path, state: str) -> None:
    # spring27's emailed coupons (6 x USD 100) left in doubt by another runner's lost answers (IN_DOUBT) or by a
    # killed apply between intent and answer (PENDING): an apply of winback27 alone resolves nothing of spring27's
    # scope, and counts that money as spent until it is resolved.
    project = make_project(tmp_path, faults=[], extra={"budgets": [{"name": "msads-usd", "amount": {"USD": 1000}}]})
    assert apply_manifest(project, SPRING).exit_code == 0
    db = sqlite3.connect(project / ".couponctl" / "journal.sqlite")
    try:
        with db:
            db.execute("UPDATE items SET state = ? WHERE operation = 'DispatchCoupons'", (state,))
    finally:
        db.close()

    refused = apply_manifest(project, WINBACK)
    assert refused.exit_code == 3, refused.output
    assert "budget msads-usd (lifetime) USD: limit 1000, spent 300, in doubt 600, this plan adds 150" in refused.stderr
    assert coupons_held(project) == 9


def test_a_reviewed_plan_that_fit_is_refused_once_another_apply_spent_the_budget(tmp_path: Path) -> None:
    project = make_project(
        tmp_path, faults=[], extra={"budgets": [{"name": "usd", "amount": {"USD": 1000}, "period": "month"}]}
    )
    for manifest, out in ((SPRING, "spring.json"), (WINBACK, "winback.json")):
        made = run(project, "plan", manifest, "--out", out)
        assert made.exit_code == 0, made.output  # each fits alone: both reviewed as fitting
    assert run(project, "apply", "spring.json", "--yes").exit_code == 0
    refused = run(project, "apply", "winback.json", "--yes")
    assert refused.exit_code == 3, refused.output
    assert "spent 900, in doubt 0, this plan adds 150, remaining -50" in refused.stderr
    assert coupons_held(project) == 9


def test_a_manifest_relabelled_into_a_budget_after_review_is_judged_by_its_labels_at_apply(tmp_path: Path) -> None:
    budget = {"name": "growth", "amount": {"USD": 1000}, "selector": {"labels": {"team": "growth"}}}
    project = make_project(tmp_path, faults=[], extra={"budgets": [budget]})
    assert apply_manifest(project, SPRING).exit_code == 0  # growth: 900 spent
    made = run(project, "plan", WINBACK, "--out", "winback.json")
    assert made.exit_code == 0, made.output  # retention's: nothing of growth's

    relabel(project, WINBACK, {"team": "growth"})
    refused = run(project, "apply", "winback.json", "--yes")
    assert refused.exit_code == 3, refused.output
    assert "budget growth (lifetime) USD: limit 1000, spent 900, in doubt 0, this plan adds 150" in refused.stderr
    assert coupons_held(project) == 9


def forget_labels(project: Path) -> None:
    """Make the journal's items look recorded before the journal kept manifests and labels (an older couponctl)."""
    db = sqlite3.connect(project / ".couponctl" / "journal.sqlite")
    try:
        with db:
            db.execute("UPDATE items SET manifest = NULL, labels = NULL")
    finally:
        db.close()


SPRING_EXTRA = """\
apiVersion: couponctl/v1
kind: CouponAssignment
metadata:
  name: spring27-extra
  labels: {team: growth}
spec:
  provider: msads-local
  customerId: "251186883"
  couponClass: SPRING27-ACQ-100
  expect: {amount: 100, currency: USD}
  dispatch:
    emails: [late.one@example.com, late.two@example.com]
"""


@pytest.mark.parametrize("extra", ["manifests/spring27-extra.yaml", "elsewhere/spring27-extra.yaml"])
def test_a_partial_apply_counts_spending_recorded_before_labels_as_a_whole_apply_does(
    tmp_path: Path, extra: str
) -> None:
    # The extra manifest inside config.manifests, or elsewhere in the project (a partial plan may name any file).
    budget = {"name": "growth", "amount": {"USD": 1000}, "selector": {"labels": {"team": "growth"}}}
    project = make_project(tmp_path, faults=[])
    assert apply_manifest(project, SPRING).exit_code == 0  # USD 900 for team growth
    forget_labels(project)
    config = yaml.safe_load((project / "couponctl.yaml").read_text())
    config["budgets"] = [budget]
    (project / "couponctl.yaml").write_text(yaml.safe_dump(config, sort_keys=False))
    (project / extra).parent.mkdir(exist_ok=True)
    (project / extra).write_text(SPRING_EXTRA)  # 2 x USD 100 more for growth

    partial = plan_project(load_project(project, [project / extra]))
    assert partial.governance is not None
    (growth,) = partial.governance.budgets
    assert growth.spent == SPRING_USD  # the legacy items judged by the manifest declaring them, outside the selection
    assert growth.adds == Decimal(200) and growth.breach  # the selected manifest judged by its own labels
    refused = apply_manifest(project, extra)
    assert refused.exit_code == 3, refused.output
    assert coupons_held(project) == 9
