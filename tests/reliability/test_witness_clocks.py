"""The second witness (GetCouponInfo) compares the vendor's ClaimDate with the journal's clock only: a runner whose
own wall clock is skewed (libfaketime) against a shared journal judges a lost DistributeCoupons answer as a runner on
time does. Coupons are counted in the sandbox's own store."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest

from reconciler.sandbox.faults import FaultPlan
from reconciler.sandbox.records import Hidden
from tests.support.cli import couponctl
from tests.support.projects import holders
from tests.support.served import ServeProject
from tests.support.skew import skewed
from tests.support.witness import distribute_only

pytestmark = [pytest.mark.slow, pytest.mark.subprocess, pytest.mark.postgres]

OWNER = "251186883"  # Contoso Growth in examples/sandbox-seed.yaml
ACCOUNTS = [180535609, 180535610, 180535611]
HIDE = "search:hide-share=0.6"
# Every DistributeCoupons answer lost; SearchCoupons never shows most coupons (which ones: fault seed 7).
LOST_AND_HIDDEN = [HIDE, "distribute:drop-after-commit=1"]


def hidden_claims(project: Path) -> dict[int, bool]:
    """From the sandbox's own store: for each account that claimed a coupon, whether SearchCoupons hides it."""
    rule = FaultPlan.parse([HIDE], seed=7).hidden("search")
    assert isinstance(rule, Hidden)
    db = sqlite3.connect(project / ".couponctl" / "sandbox.sqlite")
    try:
        rows = db.execute("SELECT claim_account_id, code FROM coupons WHERE claim_account_id IS NOT NULL").fetchall()
    finally:
        db.close()
    return {int(account): rule.hides(str(code)) for account, code in rows}


@pytest.mark.parametrize("skew_s", [-70, 70])
def test_a_skewed_runner_still_resolves_a_lost_distribute_answer_issued_by_getcouponinfo(
    serve_project: ServeProject, postgres_url: str, skew_s: int
) -> None:
    project, _server = serve_project(
        {
            "journal": "${env:COUPONCTL_JOURNAL_URL}",
            "inDoubtWindow": "2s",
            "providers": {"msads-local": {"type": "msads", "environment": "local", "distributeBatchSize": 1}},
        },
        faults=LOST_AND_HIDDEN,
        prepare=lambda p: distribute_only(p, OWNER, "WINBACK27-RET-50", ACCOUNTS, 50),
    )
    env = {"COUPONCTL_JOURNAL_URL": postgres_url, **skewed(skew_s)}
    for _ in range(2):
        result = couponctl(project, "apply", "--yes", env=env)
        assert "Traceback" not in result.stdout + result.stderr
        assert holders(project)[1] == {a: 1 for a in ACCOUNTS}, holders(project)[1]  # after every apply
    assert result.returncode == 0, result.stdout + result.stderr
    ledger = couponctl(project, "journal", "export", "--format", "jsonl", env=env)
    records = [r for r in map(json.loads, ledger.stdout.splitlines()) if r["operation"] == "DistributeCoupons"]
    assert len(records) == len(ACCOUNTS)
    assert {r["state"] for r in records} == {"RESOLVED_ISSUED"}
    hidden = hidden_claims(project)
    assert any(hidden.values()), "SearchCoupons shows every claimed coupon: the test proves nothing"
    for record in records:
        if hidden[int(str(record["target"]))]:
            assert f"GetCouponInfo of customer {OWNER} shows" in str(record["resolution_reason"]), record
