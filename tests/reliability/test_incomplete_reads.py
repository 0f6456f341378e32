"""Reads that lag longer than inDoubtWindow, and reads that never show some coupons (the vendor: SearchCoupons "may
not return every coupon"), never make apply pay twice; what no read can decide stays in doubt until a person does.
Coupons are counted in the sandbox's own store."""

from __future__ import annotations

import json
import sqlite3
import time
from pathlib import Path

import pytest

from reconciler.sandbox.faults import FaultPlan
from reconciler.sandbox.records import Hidden
from tests.support.cli import run
from tests.support.projects import assert_exactly_once, holders, make_project

pytestmark = pytest.mark.slow

ONE_A_CALL = {
    "msads-local": {"type": "msads", "environment": "local", "dispatchBatchSize": 1, "distributeBatchSize": 1},
    "aliyun-local": {"type": "aliyun", "environment": "local", "sendBatchSize": 1},
}


def calls(project: Path, outcome: str) -> int:
    db = sqlite3.connect(project / ".couponctl" / "sandbox.sqlite")
    try:
        return int(db.execute("SELECT count(*) FROM calls WHERE outcome = ?", (outcome,)).fetchone()[0])
    finally:
        db.close()


def never_paid_twice(project: Path) -> None:
    for counts in holders(project):
        assert all(n == 1 for n in counts.values()), f"paid twice: {counts.most_common(3)}"


def test_dropped_answers_under_a_lag_longer_than_the_window_never_pay_twice(tmp_path: Path) -> None:
    """Issue 12: drop-after-commit with lag-s=10 and a 3 s window paid 55 targets twice or more. Here: 6 s of lag,
    a 2 s window, every issuing call one item, a third of the answers lost."""
    project = make_project(
        tmp_path,
        faults=[
            "*:lag-s=6",
            "dispatch:drop-after-commit=0.3",
            "distribute:drop-after-commit=0.3",
            "send:drop-after-commit=0.3",
        ],
        extra={"inDoubtWindow": "2s", "providers": ONE_A_CALL},
    )
    codes = []
    for _ in range(8):
        result = run(project, "apply", "--yes")
        assert "Traceback" not in result.output
        codes.append(result.exit_code)
        never_paid_twice(project)  # after every attempt, not only at the end
        if result.exit_code == 0:
            break
        assert result.exit_code == 5, result.output  # in doubt: never FAILED ("nothing was issued") under lag
        time.sleep(1.5)
    assert codes[0] == 5 and codes[-1] == 0, codes
    assert calls(project, "dropped") >= 3, "too few answers were lost: the test proves nothing"
    assert_exactly_once(project)
    plan = json.loads(run(project, "plan", "--format", "json").stdout)
    assert plan["summary"]["itemCount"] == 0 and plan["summary"]["inDoubtCount"] == 0
    # what the reads showed of the lag is recorded, and plan says the window does not cover it
    lags = [p["message"] for s in plan["scopes"] for p in s["problems"] if p["code"] == "read-lag"]
    assert lags and all("inDoubtWindow (2s) is below that" in m for m in lags), lags


def hidden_codes(project: Path, share: float, seed: int) -> set[str]:
    """The coupon codes search:hide-share hides under this seed (as the sandbox draws them)."""
    rule = FaultPlan.parse([f"search:hide-share={share}"], seed=seed).hidden("search")
    assert isinstance(rule, Hidden)
    db = sqlite3.connect(project / ".couponctl" / "sandbox.sqlite")
    try:
        return {code for (code,) in db.execute("SELECT code FROM coupons") if rule.hides(code)}
    finally:
        db.close()


def test_coupons_the_reads_never_show_never_make_apply_pay_twice(tmp_path: Path) -> None:
    """A third of the coupons never show in Search; half the issuing calls lose their answer. A lost answer whose
    coupon is hidden looks like nothing issued, but while the reads also miss a coupon couponctl knows it issued in
    the scope, no absence counts there: those items stay in doubt, blocked, until a person resolves them."""
    project = make_project(
        tmp_path,
        faults=[
            "search:hide-share=0.35",
            "getpage:hide-share=0.35",
            "dispatch:drop-after-commit=0.5",
            "distribute:drop-after-commit=0.5",
            "send:drop-after-commit=0.5",
        ],
        extra={"inDoubtWindow": "1s", "providers": ONE_A_CALL},
    )
    for _ in range(4):
        result = run(project, "apply", "--yes")
        assert result.exit_code in (0, 5), result.output
        never_paid_twice(project)
        if result.exit_code == 0:
            break
    assert result.exit_code == 5, "nothing stayed in doubt: the test proves nothing"
    hidden = hidden_codes(project, 0.35, 7)
    db = sqlite3.connect(project / ".couponctl" / "sandbox.sqlite")
    issued_hidden = db.execute(
        f"SELECT count(*) FROM coupons WHERE (send_to_email IS NOT NULL OR claim_account_id IS NOT NULL)"
        f" AND code IN ({', '.join('?' * len(hidden))})",
        sorted(hidden),
    ).fetchone()[0]
    db.close()
    assert issued_hidden >= 2, "no issued coupon was hidden: the test proves nothing"
    assert calls(project, "dropped") >= 2
    # stuck in doubt, and plan says so; nothing is issued to those targets
    plan = json.loads(run(project, "plan", "--format", "json").stdout)
    assert plan["summary"]["inDoubtCount"] > 0
    again = run(project, "apply", "--yes")
    assert again.exit_code == 5 and "still in doubt" in again.stdout and "misses" in again.stdout
    never_paid_twice(project)
    # a person looks at the vendor's console and resolves them; then apply has nothing left to do
    listed = run(project, "journal", "in-doubt")
    ids = [line.split()[0] for line in listed.stdout.splitlines() if line.split() and line.split()[0].startswith("#")]
    assert ids, listed.stdout
    resolved = run(project, "journal", "resolve", *ids, "--as", "issued", "--reason", "seen in the vendor console")
    assert resolved.exit_code == 0, resolved.output
    final = run(project, "apply", "--yes")
    assert final.exit_code == 0, final.output
    assert_exactly_once(project)


def test_what_the_rules_cannot_prevent_a_person_finds_out_in_plan_drift_and_the_ledger(tmp_path: Path) -> None:
    """The residual docs/safety.md names: every emailed coupon's answer lost, under a read lag (4 s) longer than
    both inDoubtWindow (1 s) and any lag couponctl has seen, in scopes where it knows no earlier emailed coupon. The
    absence is taken for real and the emails are paid again; once the reads show both coupons, plan warns, drift
    exits 2, and apply records the first calls ISSUED_LATE, so the ledger says what was really paid."""
    project = make_project(
        tmp_path, faults=["dispatch:drop-after-commit=1", "dispatch:lag-s=4"], extra={"inDoubtWindow": "1s"}
    )
    first = run(project, "apply", "--yes")
    assert first.exit_code == 4 and "FAILED" in first.stdout, first.output  # resolved as not issued
    assert run(project, "apply", "--yes").exit_code == 4  # and paid again
    emails = holders(project)[0]
    assert emails and all(n == 2 for n in emails.values()), emails  # counted in the sandbox's own store
    time.sleep(4.2)  # the reads catch up

    plan = json.loads(run(project, "plan", "--format", "json").stdout)
    problems = [p for s in plan["scopes"] for p in s["problems"]]
    twice = [p["message"] for p in problems if p["code"] == "held-more-than-once"]
    late = [p["message"] for p in problems if p["code"] == "issued-late"]
    assert len(twice) == len(late) == len(emails)
    assert all("2 call(s) resolved as not issued were issued after all" in m for m in late)
    drift = run(project, "drift", "--format", "json")
    assert drift.exit_code == 2
    scopes = json.loads(drift.stdout)["scopes"]
    assert sum(len(s["issuedLate"]) for s in scopes) == sum(len(s["heldMoreThanOnce"]) for s in scopes) == len(emails)

    recorded = run(project, "apply", "--yes")  # nothing to issue: every email holds its coupons
    assert recorded.exit_code == 0 and "No changes" in recorded.stdout, recorded.output
    ledger = [json.loads(line) for line in run(project, "journal", "export", "--format", "jsonl").stdout.splitlines()]
    dispatched = [r for r in ledger if r["operation"] == "DispatchCoupons"]
    assert len(dispatched) == 2 * len(emails)
    assert {r["state"] for r in dispatched} == {"ISSUED_LATE"}  # every call paid: finance sees both coupons
    assert all(r["resolved_by"] and r["found_late_at"] and "holding 2 coupon(s)" in r["found_late_reason"]
               for r in dispatched)  # fmt: skip
    again = json.loads(run(project, "plan", "--format", "json").stdout)
    codes = {p["code"] for s in again["scopes"] for p in s["problems"]}
    assert "issued-late" not in codes and "held-more-than-once" in codes  # recorded; still paid twice
    assert run(project, "drift").exit_code == 2
