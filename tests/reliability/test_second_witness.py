"""A second witness of in-doubt DistributeCoupons items (docs/safety.md, "In doubt"): GetCouponInfo of the receiving
customers shows who claimed a coupon when SearchCoupons does not. It decides an item issued, never not issued, and a
GetCouponInfo the caller may not read leaves the rules of SearchCoupons alone, and says so. Coupons are counted in
the sandbox's own store."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest
import yaml

from reconciler.sandbox.faults import FaultPlan
from reconciler.sandbox.records import Hidden
from tests.support.cli import run
from tests.support.projects import holders, make_project, set_config

pytestmark = pytest.mark.slow

OWNER = "251186883"  # Contoso Growth in examples/sandbox-seed.yaml
OTHER = "251186999"  # Fabrikam Outlet; `other-customer-token` reaches it alone
AGENCY_ACCOUNT = 180535700  # added below: managed by OWNER, billing to OTHER
HIDE_SHARE = 0.6
# Every DistributeCoupons answer lost; most coupons never shown by SearchCoupons (which ones: fault seed 7).
LOST_AND_HIDDEN = [f"search:hide-share={HIDE_SHARE}", "distribute:drop-after-commit=1"]


def only_manifest(project: Path, owner: str, coupon_class: str, accounts: list[int], amount: int) -> None:
    """The project's manifests replaced by one that distributes ``coupon_class`` of ``owner`` to ``accounts``."""
    for path in (project / "manifests").glob("*.yaml"):
        path.unlink()
    manifest = {
        "apiVersion": "couponctl/v1",
        "kind": "CouponAssignment",
        "metadata": {"name": "witness"},
        "spec": {
            "provider": "msads-local",
            "customerId": owner,
            "couponClass": coupon_class,
            "expect": {"amount": amount, "currency": "USD"},
            "distribute": {"sendNotification": False, "accounts": accounts},
        },
    }
    (project / "manifests" / "witness.yaml").write_text(yaml.safe_dump(manifest, sort_keys=False))


def hider(fault_seed: int) -> Hidden:
    """The rule by which ``search:hide-share`` hides coupons under ``fault_seed`` (as the sandbox draws it)."""
    rule = FaultPlan.parse([f"search:hide-share={HIDE_SHARE}"], seed=fault_seed).hidden("search")
    assert isinstance(rule, Hidden)
    return rule


def claims(project: Path) -> dict[int, str]:
    """From the sandbox's own store: the code of the coupon each account claimed."""
    db = sqlite3.connect(project / ".couponctl" / "sandbox.sqlite")
    try:
        rows = db.execute("SELECT claim_account_id, code FROM coupons WHERE claim_account_id IS NOT NULL").fetchall()
    finally:
        db.close()
    return {int(account): str(code) for account, code in rows}


def claimed_code(project: Path, account: int) -> str:
    return claims(project)[account]


def hidden_claims(project: Path) -> dict[int, bool]:
    """For each account that claimed a coupon: whether SearchCoupons hides that coupon (fault seed 7)."""
    return {account: hider(7).hides(code) for account, code in claims(project).items()}


def distribute_records(project: Path) -> list[dict[str, object]]:
    ledger = run(project, "journal", "export", "--format", "jsonl").stdout.splitlines()
    return [r for r in map(json.loads, ledger) if r["operation"] == "DistributeCoupons"]


def test_a_lost_distribute_answer_whose_coupon_search_never_shows_is_resolved_issued_by_getcouponinfo(
    tmp_path: Path,
) -> None:
    """Every DistributeCoupons answer is lost and SearchCoupons shows no coupon at all, in a scope where couponctl
    knows of no other coupon: the residual case of SearchCoupons alone (the absence counts once the window and the
    lag margin pass, and the accounts are paid again). GetCouponInfo of the owner customer shows each account
    claiming a coupon of the class's value while its call was under way: each item is resolved issued, and no
    account is paid twice."""
    accounts = [180535609, 180535610, 180535611]
    project = make_project(
        tmp_path,
        faults=LOST_AND_HIDDEN,
        extra={
            "inDoubtWindow": "1s",
            "providers": {"msads-local": {"type": "msads", "environment": "local", "distributeBatchSize": 1}},
        },
    )
    only_manifest(project, OWNER, "WINBACK27-RET-50", accounts, 50)
    for _ in range(3):
        result = run(project, "apply", "--yes")
        assert "Traceback" not in result.output
        assert all(holders(project)[1][a] == 1 for a in accounts), holders(project)[1]  # after every apply
    assert result.exit_code == 0, result.output
    assert holders(project)[1] == {a: 1 for a in accounts}  # the sandbox's store: each account paid once
    records = distribute_records(project)
    assert len(records) == len(accounts)
    assert {r["state"] for r in records} == {"RESOLVED_ISSUED"}
    hidden = hidden_claims(project)
    assert any(hidden.values()), "SearchCoupons shows every claimed coupon: the test proves nothing"
    for record in records:
        reason = str(record["resolution_reason"])
        if hidden[int(str(record["target"]))]:
            assert f"GetCouponInfo of customer {OWNER} shows account:{record['target']} claiming" in reason, reason
        else:
            assert reason.startswith("visible in a read of"), reason
    again = run(project, "apply", "--yes")
    assert again.exit_code == 0 and "No changes" in again.stdout, again.output


def test_getcouponinfo_refused_leaves_the_item_in_doubt_and_says_the_second_witness_was_unavailable(
    tmp_path: Path,
) -> None:
    """An agency account (managed by one customer, billing to another) receives a coupon of the customer it bills
    to, from a caller who reaches that customer alone. Its answer is lost and SearchCoupons hides every coupon; the
    caller may not read the receiving customer, so GetCouponInfo is refused: the item stays in doubt as
    SearchCoupons alone decides (the read misses a coupon couponctl issued), the reason says that the second
    witness was unavailable, and nothing is paid twice."""
    project = make_project(
        tmp_path,
        faults=[],
        extra={
            "inDoubtWindow": "1s",
            "providers": {
                "msads-local": {
                    "type": "msads",
                    "environment": "local",
                    "accessToken": "${env:NARROW_TOKEN}",
                    "customerId": OWNER,  # the receiving customer, which the token does not reach
                }
            },
        },
    )
    seed_path = project / "sandbox-seed.yaml"
    seed = yaml.safe_load(seed_path.read_text())
    seed["msads"]["customers"][0]["accounts"].append({"id": AGENCY_ACCOUNT, "billsTo": OTHER})
    seed_path.write_text(yaml.safe_dump(seed, sort_keys=False))
    env = {"NARROW_TOKEN": "other-customer-token"}

    only_manifest(project, OTHER, "OTHER-25", [190000001], 25)
    first = run(project, "apply", "--yes", env=env)  # a coupon couponctl knows it issued in the scope
    assert first.exit_code == 0, first.output

    # SearchCoupons now hides that coupon (a fault seed chosen so), the agency account's claim shows no sooner than
    # 10 minutes after its call (in either read), and every DistributeCoupons answer is lost.
    known = claimed_code(project, 190000001)
    fault_seed = next(s for s in range(1000) if hider(s).hides(known))
    faults = [f"search:hide-share={HIDE_SHARE}", "distribute:drop-after-commit=1", "distribute:lag-s=600"]
    config = yaml.safe_load((project / "couponctl.yaml").read_text())
    set_config(project, sandbox={**config["sandbox"], "faults": faults, "faultSeed": fault_seed})
    only_manifest(project, OTHER, "OTHER-25", [190000001, AGENCY_ACCOUNT], 25)
    for _ in range(2):
        result = run(project, "apply", "--yes", env=env)
        assert result.exit_code == 5, result.output
        assert holders(project)[1] == {190000001: 1, AGENCY_ACCOUNT: 1}  # the lost call paid it; never again
    assert "still in doubt" in result.stdout, result.output
    records = {r["target"]: r for r in distribute_records(project)}
    agency = [r for t, r in records.items() if str(AGENCY_ACCOUNT) in str(t)]
    assert agency and {r["state"] for r in agency} == {"IN_DOUBT"}, records
    listed = run(project, "journal", "in-doubt", env=env)
    assert str(AGENCY_ACCOUNT) in listed.stdout
    text = " ".join(result.stdout.split())
    assert f"GetCouponInfo of customer {OTHER}, {OWNER}, was unavailable" in text, result.output
    assert f"GetCouponInfo of customer {OWNER} failed" in text, result.output
