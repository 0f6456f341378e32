"""Each rule of examples/policies/, loaded through the real config loader (the example project with the policy file
in policyFiles) and evaluated over real plans of the embedded sandbox: it holds where it should, and not for the
example project as it is."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest

from reconciler.app.session import load_project
from reconciler.governance.model import BudgetStatus, GitContext
from reconciler.governance.rules import evaluate_rules
from tests.support.plan_factories import MSADS, plan, scope_plan
from tests.support.policies import EXAMPLE_POLICIES, findings, found_targets, msads_manifest, planned, policy_project

SPRING = "SPRING27-ACQ-100"  # Acquisition, USD 100, 500 coupons (examples/sandbox-seed.yaml)
WINBACK = "WINBACK27-RET-50"  # Retention, USD 50, 300 coupons
OTHER = "OTHER-25"  # Retention, USD 25, 50 coupons, customer 251186999


def test_every_example_policy_file_loads(tmp_path: Path) -> None:
    names = sorted(p.name for p in EXAMPLE_POLICIES.glob("*.yaml"))
    project = policy_project(tmp_path, policies=names)
    rules = load_project(project).config.governance.rules
    assert len(rules) == 8
    assert all(rule.position.file.startswith("policies/") for rule in rules)


def test_the_example_project_as_it_is_meets_every_example_rule(tmp_path: Path) -> None:
    names = sorted(p.name for p in EXAMPLE_POLICIES.glob("*.yaml"))
    plan_json = planned(policy_project(tmp_path, policies=names))
    assert findings(plan_json) == []
    assert plan_json["governance"]["approvalTier"] == "standard"


def test_one_class_per_campaign(tmp_path: Path) -> None:
    manifests = {
        "spring-camp.yaml": msads_manifest("spring-camp", SPRING, labels={"campaign": "q3"}, accounts=[180535612]),
        "win-camp.yaml": msads_manifest(
            "win-camp", WINBACK, labels={"campaign": "q3"}, accounts=[180535612, 180535613]
        ),
        "win-other.yaml": msads_manifest("win-other", WINBACK, labels={"campaign": "q4"}, accounts=[180535614]),
        "spring-other.yaml": msads_manifest("spring-other", SPRING, labels={"campaign": "q5"}, accounts=[180535614]),
    }
    plan_json = planned(policy_project(tmp_path, policies=["campaigns.yaml"], manifests=manifests))
    found = findings(plan_json, "one-class-per-campaign")
    # 180535612 gets both classes of campaign q3 (one finding per item); 180535613 one class of q3 only, and
    # 180535614 two classes of two different campaigns.
    assert {(f["scope"]["couponClass"], f["target"]["value"]) for f in found} == {
        (SPRING, "180535612"),
        (WINBACK, "180535612"),
    }
    assert {f["effect"] for f in found} == {"deny"}


def test_finance_tier_over_10k_usd(tmp_path: Path) -> None:
    emails = [f"buyer{n:03d}@example.com" for n in range(92)]  # 92 x USD 100 + the example's USD 1,050 > 10,000
    manifests = {"big.yaml": msads_manifest("big", SPRING, labels={"team": "growth"}, emails=emails)}
    over = planned(policy_project(tmp_path / "over", policies=["approvals.yaml"], manifests=manifests))
    assert [f["rule"] for f in findings(over)] == ["finance-over-10k-usd"]
    assert over["governance"]["approvalTier"] == "finance"
    emails = emails[:80]  # USD 9,050
    manifests = {"big.yaml": msads_manifest("big", SPRING, labels={"team": "growth"}, emails=emails)}
    under = planned(policy_project(tmp_path / "under", policies=["approvals.yaml"], manifests=manifests))
    assert findings(under) == []
    assert under["governance"]["approvalTier"] == "standard"


def test_large_scope_batch(tmp_path: Path) -> None:
    emails = [f"buyer{n:03d}@example.com" for n in range(95)]  # 95 + the example's 9 in SPRING: 104 > 100
    manifests = {"big.yaml": msads_manifest("big", SPRING, labels={"team": "growth"}, emails=emails)}
    plan_json = planned(policy_project(tmp_path, policies=["batches.yaml"], manifests=manifests))
    found = findings(plan_json, "large-scope-batch")
    assert [(f["effect"], f["scope"]["couponClass"], f["target"]) for f in found] == [("warn", SPRING, None)]


def test_inventory_running_low(tmp_path: Path) -> None:
    emails = ["one@example.com", "two@example.com"]  # OTHER-25 has 50 coupons: 48 would be left
    manifests = {"other.yaml": msads_manifest("other", OTHER, labels={}, emails=emails, customer="251186999")}
    plan_json = planned(policy_project(tmp_path, policies=["batches.yaml"], manifests=manifests))
    found = findings(plan_json, "inventory-running-low")
    assert [f["scope"]["couponClass"] for f in found] == [OTHER]  # not SPRING (491 left) nor WINBACK (297)
    assert findings(plan_json, "large-scope-batch") == []


def test_growth_email_domains(tmp_path: Path) -> None:
    manifests = {
        "growth.yaml": msads_manifest(
            "growth-extra", WINBACK, labels={"team": "growth"}, emails=["ok@example.net", "far@example.org"]
        ),
        "retention.yaml": msads_manifest("ret-extra", WINBACK, labels={"team": "retention"}, emails=["x@elsewhere.io"]),
    }
    plan_json = planned(policy_project(tmp_path, policies=["audiences.yaml"], manifests=manifests))
    assert found_targets(plan_json, "growth-email-domains") == {"email:far@example.org"}
    assert findings(plan_json, "acquisition-by-growth-only") == []


def test_acquisition_by_growth_only(tmp_path: Path) -> None:
    manifests = {
        "retention.yaml": msads_manifest("ret-acq", SPRING, labels={"team": "retention"}, emails=["r@example.com"]),
        "unlabelled.yaml": msads_manifest("no-team", SPRING, labels={}, accounts=[180535615]),
        "growth.yaml": msads_manifest("growth-acq", SPRING, labels={"team": "growth"}, emails=["g@example.com"]),
        "winback.yaml": msads_manifest("ret-win", WINBACK, labels={"team": "retention"}, emails=["w@example.com"]),
    }
    plan_json = planned(policy_project(tmp_path, policies=["audiences.yaml"], manifests=manifests))
    assert found_targets(plan_json, "acquisition-by-growth-only") == {"email:r@example.com", "account:180535615"}
    assert findings(plan_json, "growth-email-domains") == []


@pytest.mark.parametrize(("branch", "denied"), [("main", False), ("feature/spring", True)])
def test_apply_from_main_only(tmp_path: Path, branch: str, denied: bool) -> None:
    plan_json = planned(policy_project(tmp_path, policies=["freeze.yaml"]), branch=branch)
    found = findings(plan_json, "apply-from-main-only")
    assert [(f["effect"], f["scope"], f["target"]) for f in found] == ([("deny", None, None)] if denied else [])
    assert plan_json["summary"]["denialCount"] == (1 if denied else 0)


@pytest.mark.parametrize(("spent", "fires"), [(Decimal(850), True), (Decimal(700), False)])
def test_budget_nearly_spent(tmp_path: Path, spent: Decimal, fires: bool) -> None:
    # The budgets come from the journal (another part of couponctl): given here as statuses, over the file's rule.
    project = load_project(policy_project(tmp_path, policies=["budgets.yaml"]))
    rules = project.config.governance.rules
    adds = Decimal(100)
    status = BudgetStatus("spring", "USD", Decimal(1000), spent, Decimal(0), adds, "lifetime")
    subject = plan(scope_plan(MSADS))
    found = evaluate_rules(rules, subject, project.desired, budgets=[status], git=GitContext())
    assert [f.rule for f in found] == (["budget-nearly-spent"] if fires else [])
    assert evaluate_rules(rules, subject, project.desired, budgets=[], git=GitContext()) == ()
