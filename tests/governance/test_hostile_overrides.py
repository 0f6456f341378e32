"""Overrides and approval tiers attacked through the CLI against the embedded sandbox, counting coupons in the
sandbox's own store: an override smuggled into a saved plan (its checksum recomputed, as anyone who can write the
plan file can), replayed at apply, or typed beside a reviewed plan; a tier lowered by a plan made before approvals
were declared, by a forged tier in the plan file, or by an environment name that only looks like the entitled one.

The checksum is no signature: whoever can write the plan file can recompute it. What still holds then is what apply
recomputes itself under its lock: the governance digest of couponctl.yaml, the items the plan may issue, and the
approval tier, which a carried override raises to ``approvals.overrides``."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pytest
import yaml

from reconciler.app.plan import load_plan_file
from reconciler.governance.model import Override
from reconciler.plan.checksum import with_checksum
from reconciler.plan.serialize import plan_to_json
from tests.support.cli import run
from tests.support.policies import OVERRIDE_TIERS
from tests.support.projects import EXAMPLE_ITEMS, assert_exactly_once, coupons_held, make_project, set_config


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """The example, over its per-apply limit of items (maxItems 5 for 15 items), with approval tiers."""
    return make_project(tmp_path, faults=[], extra={"policy": {"maxItems": 5}, "approvals": OVERRIDE_TIERS})


def forge(path: Path, overrides: tuple[Override, ...], *, tier: str | None = "standard") -> None:
    """Rewrite the saved plan at ``path`` with ``overrides`` and ``tier`` (and that tier's environments), and a
    checksum recomputed over the forged content: a plan file that passes check_unaltered."""
    plan = load_plan_file(path)
    assert plan.governance is not None
    environments = () if tier is None else (f"coupons{'-finance' if tier == 'finance' else ''}",)
    governance = replace(plan.governance, overrides=overrides, tier=tier, environments=environments)
    path.write_text(plan_to_json(with_checksum(replace(plan, governance=governance))))


def test_a_forged_override_with_a_recomputed_checksum_still_needs_the_override_tier(project: Path) -> None:
    assert run(project, "plan", "--out", "p.json").exit_code == 0
    forge(project / "p.json", (Override("maxItems", "forged after review", "mallory", None),))
    assert json.loads((project / "p.json").read_text())["summary"]["approvalTier"] == "standard"

    refused = run(project, "apply", "p.json", "--yes", "--environment", "coupons")
    assert refused.exit_code == 3, refused.output
    assert "approval tier 'finance'" in refused.stderr  # recomputed from the override it carries, not read
    assert coupons_held(project) == 0


def test_a_forged_tier_cannot_lower_what_the_carried_override_asks_for(project: Path) -> None:
    made = run(project, "plan", "--override", "maxItems", "--reason", "launch", "--out", "p.json")
    assert made.exit_code == 0, made.output
    plan = load_plan_file(project / "p.json")
    assert plan.governance is not None and plan.governance.tier == "finance"
    forge(project / "p.json", plan.governance.overrides, tier="standard")  # the file now says standard

    refused = run(project, "apply", "p.json", "--yes", "--environment", "coupons")
    assert refused.exit_code == 3, refused.output
    assert "approval tier 'finance'" in refused.stderr
    assert coupons_held(project) == 0


def test_a_forged_override_naming_nothing_declared_is_refused(project: Path) -> None:
    assert run(project, "plan", "--out", "p.json").exit_code == 0
    forge(project / "p.json", (Override("future-budget", "not declared yet"),), tier="finance")
    refused = run(project, "apply", "p.json", "--yes", "--environment", "coupons-finance")
    assert refused.exit_code != 0 and "future-budget" in refused.stderr, refused.output
    assert "Traceback" not in refused.output and coupons_held(project) == 0


def test_an_applied_plan_s_override_cannot_be_replayed(project: Path) -> None:
    assert run(project, "plan", "--override", "maxItems", "--reason", "ok", "--out", "p.json").exit_code == 0
    assert run(project, "apply", "p.json", "--yes", "--environment", "coupons-finance").exit_code == 0
    assert coupons_held(project) == EXAMPLE_ITEMS
    again = run(project, "apply", "p.json", "--yes", "--environment", "coupons-finance")
    assert again.exit_code == 3 and "already applied" in again.stderr
    assert_exactly_once(project)


def test_a_budget_override_typed_beside_a_reviewed_plan_is_refused(project: Path) -> None:
    set_config(project, policy={}, budgets=[{"name": "usd-cap", "amount": {"USD": 100}}])
    assert run(project, "plan", "--out", "p.json").exit_code == 0
    for typed in (["--override", "usd-cap", "--reason", "typed at apply"], ["--allow-over-limit", "typed"]):
        late = run(project, "apply", "p.json", "--yes", "--environment", "coupons-finance", *typed)
        assert late.exit_code == 3, late.output
    refused = run(project, "apply", "p.json", "--yes", "--environment", "coupons-finance")
    assert refused.exit_code == 3 and "usd-cap" in refused.stderr
    assert coupons_held(project) == 0


def test_a_plan_made_before_approvals_were_declared_is_refused_after(project: Path) -> None:
    config = yaml.safe_load((project / "couponctl.yaml").read_text())
    del config["approvals"]
    config["policy"] = {}
    (project / "couponctl.yaml").write_text(yaml.safe_dump(config, sort_keys=False))
    assert run(project, "plan", "--out", "p.json").exit_code == 0
    assert json.loads((project / "p.json").read_text())["summary"].get("approvalTier") is None

    set_config(project, approvals=OVERRIDE_TIERS)
    refused = run(project, "apply", "p.json", "--yes")
    assert refused.exit_code == 3 and "other rules, budgets, approval tiers" in refused.stderr
    assert coupons_held(project) == 0


def test_a_renamed_tier_refuses_the_plan_made_under_the_old_name(project: Path) -> None:
    assert run(project, "plan", "--override", "maxItems", "--reason", "ok", "--out", "p.json").exit_code == 0
    renamed = {
        **OVERRIDE_TIERS,
        "tiers": [OVERRIDE_TIERS["tiers"][0], {"name": "money", "environments": ["coupons-finance"]}],
    }
    set_config(project, approvals={**renamed, "overrides": "money"})
    refused = run(project, "apply", "p.json", "--yes", "--environment", "coupons-finance")
    assert refused.exit_code == 3 and "other rules, budgets, approval tiers" in refused.stderr
    assert coupons_held(project) == 0


@pytest.mark.parametrize(
    "environment", [" coupons-finance", "coupons-finance ", "COUPONS-FINANCE", "coupons-finance\n", "coupons*", ""]
)
def test_an_environment_that_only_looks_entitled_is_refused(project: Path, environment: str) -> None:
    assert run(project, "plan", "--override", "maxItems", "--reason", "ok", "--out", "p.json").exit_code == 0
    refused = run(project, "apply", "p.json", "--yes", "--environment", environment)
    assert refused.exit_code == 3, refused.output
    assert "approval tier 'finance'" in refused.stderr
    assert coupons_held(project) == 0


def test_a_fresh_apply_s_allow_over_limit_raises_the_tier_like_any_override(project: Path) -> None:
    refused = run(project, "apply", "--yes", "--allow-over-limit", "hands-on", "--environment", "coupons")
    assert refused.exit_code == 3, refused.output
    assert "approval tier 'finance'" in refused.stderr
    assert coupons_held(project) == 0
    applied = run(project, "apply", "--yes", "--allow-over-limit", "hands-on", "--environment", "coupons-finance")
    assert applied.exit_code == 0, applied.output
    assert_exactly_once(project)
