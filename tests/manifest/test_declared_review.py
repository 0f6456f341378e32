"""Declared targets keep what each declaration says: the amount as written, not an equal one of a neighbour."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

from reconciler.config.load import load_config
from reconciler.manifest.build import load_desired
from reconciler.state.declared import DeclaredTargets, Source
from reconciler.state.desired import Target, TargetKind

SEND = """\
apiVersion: couponctl/v1
kind: CouponAssignment
metadata: {name: r}
spec:
  provider: a
  sellerId: 3944837183
  templateId: 295873
  send:
    - {uid: 11, amount: 100}
    - {uid: 12, amount: 100.00}
    - {uid: 13, amount: 1.50}
"""


def test_equal_amounts_written_differently_stay_as_written() -> None:
    targets = DeclaredTargets()
    targets.declare(Source("r", "m.yaml", TargetKind.UID, Decimal("100")), "11", 9, 13)
    targets.declare(Source("r", "m.yaml", TargetKind.UID, Decimal("100.00")), "12", 10, 13)
    targets.seal()
    assert [str(item.amount) for item in targets.values()] == ["100", "100.00"]
    assert str(targets[Target.uid(12)].amount) == "100.00"


def test_a_plan_sees_each_send_amount_as_written(tmp_path: Path) -> None:
    (tmp_path / "couponctl.yaml").write_text(
        "manifests: [manifests/]\nproviders:\n  a: {type: aliyun, environment: local}\n"
    )
    (tmp_path / "manifests").mkdir()
    (tmp_path / "manifests" / "r.yaml").write_text(SEND)
    [targets] = load_desired(load_config(tmp_path)).items.values()
    assert [(t.value, str(i.amount)) for t, i in targets.items()] == [("11", "100"), ("12", "100.00"), ("13", "1.50")]


def test_lookups_agree_with_membership_for_any_equal_key() -> None:
    """A mapping's ``in`` and ``get`` agree: a key equal to a Target (as the dict this replaced found it) is found
    by both."""
    targets = DeclaredTargets()
    targets.declare(Source("r", "m.yaml", TargetKind.EMAIL), "a@example.com", 9, 13)
    targets.seal()
    key = ("email", "a@example.com")
    assert key in targets
    item = targets.get(key)  # type: ignore[call-overload]
    assert item is not None and item.target == Target.email("a@example.com")
    assert targets.get(("email",)) is None  # type: ignore[call-overload]
