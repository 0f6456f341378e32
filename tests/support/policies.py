"""Projects with rules: the example project with policy files and extra manifests, its plan's findings as JSON,
and what the sandbox's store says was issued."""

from __future__ import annotations

import json
import shutil
import sqlite3
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import yaml

from tests.support.cli import run
from tests.support.projects import EXAMPLES, copy_examples

EXAMPLE_POLICIES = EXAMPLES / "policies"
#: Two tiers, and an override needs the higher one.
OVERRIDE_TIERS = {
    "tiers": [
        {"name": "standard", "environments": ["coupons"]},
        {"name": "finance", "environments": ["coupons-finance"]},
    ],
    "overrides": "finance",
}
TIERS = {"tiers": [{"name": "standard", "environments": ["coupons"]}, {"name": "finance", "environments": ["money"]}]}


def policy_project(
    tmp_path: Path,
    *,
    policies: Sequence[str] = (),
    rules: Sequence[Mapping[str, object]] = (),
    manifests: Mapping[str, str] | None = None,
    config: Mapping[str, object] | None = None,
) -> Path:
    """The example project at ``tmp_path / "project"`` with the example policy files ``policies`` (names under
    examples/policies/, copied to the project's policies/ and listed in policyFiles), inline ``rules``, extra
    manifest files (name -> text, under manifests/), approval tiers standard and finance, and ``config`` settings."""
    project = copy_examples(tmp_path / "project")
    shutil.rmtree(project / "policies", ignore_errors=True)
    (project / "policies").mkdir()
    for name in policies:
        shutil.copy(EXAMPLE_POLICIES / name, project / "policies" / name)
    for name, text in (manifests or {}).items():
        (project / "manifests" / name).write_text(text, encoding="utf-8")
    data: dict[str, Any] = yaml.safe_load((project / "couponctl.yaml").read_text(encoding="utf-8"))
    data["approvals"] = TIERS
    if policies:
        data["policyFiles"] = [f"policies/{name}" for name in policies]
    if rules:
        data["rules"] = [dict(rule) for rule in rules]
    data.update(config or {})
    (project / "couponctl.yaml").write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    return project


def msads_manifest(
    name: str,
    coupon_class: str,
    *,
    labels: Mapping[str, str],
    emails: Sequence[str] = (),
    accounts: Sequence[int] = (),
    customer: str = "251186883",
) -> str:
    """A CouponAssignment of the example's msads-local provider."""
    spec: dict[str, object] = {"provider": "msads-local", "customerId": customer, "couponClass": coupon_class}
    if emails:
        spec["dispatch"] = {"emails": list(emails)}
    if accounts:
        spec["distribute"] = {"featureId": 12, "accounts": list(accounts)}
    document = {
        "apiVersion": "couponctl/v1",
        "kind": "CouponAssignment",
        "metadata": {"name": name, "labels": dict(labels)},
        "spec": spec,
    }
    return yaml.safe_dump(document, sort_keys=False)


def planned(project: Path, *args: str, branch: str = "main") -> dict[str, Any]:
    """``couponctl plan --format json`` of ``project`` made on ``branch`` (as CI names it); the plan as JSON."""
    result = run(project, "plan", "--format", "json", *args, env=git_env(branch))
    assert result.exit_code == 0, result.output
    plan: dict[str, Any] = json.loads(result.stdout)
    return plan


def git_env(branch: str) -> dict[str, str]:
    return {"GITHUB_HEAD_REF": "", "GITHUB_REF_NAME": branch, "GITHUB_ACTOR": "tester"}


def findings(plan: Mapping[str, Any], rule: str | None = None) -> list[dict[str, Any]]:
    """The plan's findings (of ``rule``)."""
    found: list[dict[str, Any]] = plan["governance"]["findings"]
    return [f for f in found if rule is None or f["rule"] == rule]


def found_targets(plan: Mapping[str, Any], rule: str) -> set[str]:
    """``kind:value`` of each target ``rule`` holds for."""
    return {f"{f['target']['kind']}:{f['target']['value']}" for f in findings(plan, rule) if f["target"]}


def coupons_issued(project: Path) -> int:
    """How many coupons the sandbox's store says were handed out, of every vendor."""
    database = project / ".couponctl" / "sandbox.sqlite"
    if not database.exists():
        return 0
    db = sqlite3.connect(database)
    try:
        msads = db.execute(
            "SELECT count(*) FROM coupons WHERE send_to_email IS NOT NULL OR claim_account_id IS NOT NULL"
        ).fetchone()[0]
        aliyun = db.execute("SELECT count(*) FROM aliyun_coupons").fetchone()[0]
    finally:
        db.close()
    return int(msads) + int(aliyun)
