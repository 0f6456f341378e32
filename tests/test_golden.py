"""Golden cases: tests/cases/<name>/ holds a project (couponctl.yaml + manifests), live.yaml (what the vendor
shows, and what couponctl's journal records: issued and in-doubt targets) and expected.json (the plan).
Each is one parametrized test.

Set COUPONCTL_UPDATE_GOLDEN=1 to rewrite expected.json after a deliberate change; review the diff.
"""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import yaml

from reconciler.app.session import load_project
from reconciler.plan.diff import diff
from reconciler.plan.serialize import plan_to_dict
from reconciler.state.desired import Scope, Target, TargetKind
from reconciler.state.live import FaceValue, IssuedCoupon, JournalView, LiveState, ScopeLive

CASES = Path(__file__).parent / "cases"
NOW = datetime(2027, 3, 1, 12, 0, tzinfo=UTC)


def _target(text: str) -> Target:
    kind, _, value = text.partition(":")
    return Target(TargetKind(kind), value)


def _scope(entry: dict[str, Any]) -> Scope:
    return Scope(entry["provider"], str(entry["owner"]), str(entry["class"]))


def load_live(path: Path) -> tuple[LiveState, dict[Scope, JournalView]]:
    data = yaml.safe_load(path.read_text()) or {}
    scopes: dict[Scope, ScopeLive] = {}
    for entry in data.get("scopes", []):
        scope = _scope(entry)
        issued: dict[Target, list[IssuedCoupon]] = {}
        for coupon in entry.get("issued", []):
            held = IssuedCoupon(
                coupon["code"],
                coupon.get("status", "dispatched"),
                Decimal(str(coupon["amount"])) if "amount" in coupon else None,
                coupon.get("currency"),
            )
            for target in coupon["targets"]:
                issued.setdefault(_target(target), []).append(held)
        face = entry.get("faceValue")
        scopes[scope] = ScopeLive(
            scope,
            entry.get("exists", True),
            FaceValue(Decimal(str(face["amount"])), face["currency"], face.get("type")) if face else None,
            entry.get("available"),
            {t: tuple(c) for t, c in issued.items()},
        )
    journal: dict[Scope, JournalView] = {}
    for entry in data.get("journal", []):
        issued_targets = frozenset(_target(t) for t in entry.get("issued", []))
        in_doubt = frozenset(_target(t) for t in entry.get("inDoubt", []))
        journal[_scope(entry)] = JournalView(issued_targets, in_doubt, issued_targets | in_doubt)
    return LiveState(scopes), journal


def comparable(plan_dict: dict[str, Any]) -> dict[str, Any]:
    """The plan without what changes from release to release."""
    return {k: v for k, v in plan_dict.items() if k not in ("toolVersion", "checksum")}


@pytest.mark.parametrize("case", sorted(p.name for p in CASES.iterdir() if p.is_dir()))
def test_golden_case(case: str) -> None:
    directory = CASES / case
    project = load_project(directory)
    live, journal = load_live(directory / "live.yaml")
    got = comparable(plan_to_dict(diff(project.desired, live, created_at=NOW, journal=journal)))
    expected_path = directory / "expected.json"
    if os.environ.get("COUPONCTL_UPDATE_GOLDEN"):
        expected_path.write_text(json.dumps(got, indent=2, sort_keys=False) + "\n")
    assert got == json.loads(expected_path.read_text())
