"""`couponctl status` for an aliyun provider on coupons seeded into the embedded sandbox with every status (used,
voided, expired, available): the numbers are counted again from the sandbox store."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path

from click.testing import CliRunner

from reconciler.cli.main import main
from reconciler.sandbox.aliyun_store import PageQuery
from reconciler.sandbox.bootstrap import open_store

SELLER = 3944837183
TEMPLATE = 295873
DECLARED = {101, 102, 103, 104, 105, 106}
SEED = f"""
aliyun:
  accessKeys: [{{id: sandbox-ak, secret: sandbox-secret}}]
  sellers:
    - id: {SELLER}
      users: [101, 102, 103, 104, 105, 106, 107]
      templates:
        - id: {TEMPLATE}
          amount: 100
          perLimit: 0
          coupons:
            - {{uid: 101}}
            - {{uid: 102, status: ABANDONED}}
            - {{uid: 103, status: EXPIRED}}
            - {{uid: 104, status: EXHAUSTED, amount: 20}}
            - {{uid: 105, status: EXPIRED}}
            - {{uid: 105, status: ABANDONED}}
            - {{uid: 107, status: EXHAUSTED}}
"""
MANIFEST = f"""
apiVersion: couponctl/v1
kind: CouponAssignment
metadata: {{name: reseller, labels: {{team: channel}}}}
spec:
  provider: aliyun-local
  sellerId: {SELLER}
  templateId: {TEMPLATE}
  send:
{chr(10).join(f"    - {{uid: {uid}, amount: {20 if uid == 104 else 100}}}" for uid in sorted(DECLARED))}
"""
CONFIG = """
manifests: [manifests/]
sandbox: {seed: seed.yaml}
providers:
  aliyun-local: {type: aliyun, environment: local}
"""


def test_status_counts_used_voided_and_expired_coupons_as_the_sandbox_holds_them(tmp_path: Path) -> None:
    (tmp_path / "manifests").mkdir()
    (tmp_path / "seed.yaml").write_text(SEED)
    (tmp_path / "couponctl.yaml").write_text(CONFIG)
    (tmp_path / "manifests" / "reseller.yaml").write_text(MANIFEST)
    result = CliRunner().invoke(main, ["-C", str(tmp_path), "--no-color", "status", "--format", "json"])
    assert result.exit_code == 0, result.output
    (reseller,) = json.loads(result.stdout)["manifests"]

    store = open_store(tmp_path / ".couponctl" / "sandbox.sqlite", tmp_path / "seed.yaml")
    try:
        coupons, _ = store.aliyun.page(PageQuery(SELLER, TEMPLATE, limit=1000))
    finally:
        store.close()
    held: dict[int, list[str]] = {}
    for coupon in coupons:
        if coupon.uid in DECLARED:
            held.setdefault(coupon.uid, []).append(coupon.status)
    used = {uid for uid, statuses in held.items() if "EXHAUSTED" in statuses}
    dead = {uid for uid, statuses in held.items() if uid not in used and set(statuses) <= {"EXPIRED", "ABANDONED"}}
    expired = {uid for uid in dead if "EXPIRED" in held[uid]}
    spend = sum((Decimal(str(c.amount)) for c in coupons if c.uid in DECLARED and c.status == "EXHAUSTED"), Decimal(0))
    committed = sum(
        (Decimal(str(c.amount)) for c in coupons if c.uid in DECLARED and c.status != "ABANDONED"), Decimal(0)
    )
    assert [reseller[k] for k in ("declared", "issued", "claimed", "redeemed", "expired", "void")] == [
        len(DECLARED),
        len(held),
        len(held),  # sent into the uid's account: claimed
        len(used),
        len(expired),
        len(dead - expired),
    ]
    assert (len(used), len(expired), len(dead - expired)) == (1, 2, 1)  # the seed's statuses all came through
    assert {c: Decimal(a) for c, a in reseller["spend"].items()} == {"CNY": spend}
    assert {c: Decimal(a) for c, a in reseller["issuedValue"].items()} == {"CNY": committed}
    assert reseller["redeemedByDay"] == {} and reseller["undatedRedeemed"] == 1  # aliyun dates no redemption
