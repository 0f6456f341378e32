"""Money paid twice is never silent (DESIGN.md invariant 10): a target holding more than one coupon of a class is
reported by plan, drift and the apply report, with the codes masked and their dates."""

from __future__ import annotations

import json
import re
from pathlib import Path

import jsonschema
import pytest
import yaml

from reconciler.sandbox.store import Store
from tests.support.cli import run
from tests.support.projects import holders, make_project
from tests.support.schemas import report_schema

pytestmark = pytest.mark.slow

TWICE = 180535609  # declared in spring27-acquisition: distribute


def pay_twice(project: Path, account: int = TWICE) -> None:
    """Give the account a second coupon of SPRING27-ACQ-100, straight in the sandbox's store (no couponctl)."""
    store = Store(project / ".couponctl" / "sandbox.sqlite")
    try:
        coupon_class = store.coupon_class("SPRING27-ACQ-100")
        assert coupon_class is not None
        assert store.distribute(coupon_class.id, [(0, account)], feature_id=12, notify=False, visible_at=0) == {0}
    finally:
        store.close()


def test_a_target_paid_twice_shows_in_plan_drift_and_the_apply_report(tmp_path: Path) -> None:
    project = make_project(tmp_path, faults=[])
    assert run(project, "apply", "--yes").exit_code == 0
    pay_twice(project)
    assert holders(project)[1][TWICE] == 2  # counted in the sandbox's own store

    plan = json.loads(run(project, "plan", "--format", "json").stdout)
    assert plan["summary"]["itemCount"] == 0  # nothing to issue: a warning, never an action
    (warning,) = [p for s in plan["scopes"] for p in s["problems"] if p["code"] == "held-more-than-once"]
    assert warning["severity"] == "warning"
    pattern = r"account:180535609 holds 2 coupons of this class: \*{4}\w{4}, \*{4}\w{4} \(issued (\S+Z), (\S+Z)\)"
    assert re.fullmatch(pattern, warning["message"]), warning["message"]
    text = run(project, "plan").stdout
    assert "warning (held-more-than-once): account:180535609 holds 2 coupons" in text

    drift = run(project, "drift")
    assert drift.exit_code == 2, drift.output
    assert "= account:180535609 holds 2 coupons" in drift.stdout and "paid more than once" in drift.stdout
    report = json.loads(run(project, "drift", "--format", "json").stdout)
    (held,) = [h for s in report["scopes"] for h in s["heldMoreThanOnce"]]
    assert held["target"] == {"kind": "account", "value": str(TWICE)}
    assert all(c["code"].startswith("****") and c["issueDate"] for c in held["coupons"])
    markdown = run(project, "drift", "--format", "markdown")
    assert markdown.exit_code == 2 and "**Paid more than once (1)**" in markdown.stdout

    # an apply that touches the scope reports it too
    manifest = project / "manifests" / "spring27-acquisition.yaml"
    doc = yaml.safe_load(manifest.read_text())
    doc["spec"]["distribute"]["accounts"].append(180535612)
    manifest.write_text(yaml.safe_dump(doc, sort_keys=False))
    applied = run(project, "apply", "--yes", "--report", str(project / "report.json"))
    assert applied.exit_code == 0, applied.output
    assert "PAID MORE THAN ONCE" in applied.stdout and "account:180535609" in applied.stdout
    data = json.loads((project / "report.json").read_text())
    jsonschema.validate(data, report_schema())
    (paid,) = data["heldMoreThanOnce"]
    assert paid["couponClass"] == "SPRING27-ACQ-100" and paid["target"]["value"] == str(TWICE)
    assert len(paid["coupons"]) == 2 and all(c["issueDate"] for c in paid["coupons"])
    full_codes = re.findall(r"[A-Z2-7]{16}", (project / "report.json").read_text())
    assert full_codes == []  # codes masked
