"""Notifications through the command line, against the embedded sandbox and a real receiver on loopback: what each
event sends, signed; retried, then recorded in the journal; and never a change to apply's outcome or exit code."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from reconciler.plan.masking import EMAIL
from reconciler.sandbox.embedded import embedded_transport
from tests.support.cli import run
from tests.support.projects import make_project, set_config
from tests.support.receiver import Receiver, receiver

KEY = "whsec-7c1d9e0b5a"
CI = {
    "GITHUB_SERVER_URL": "https://github.com",
    "GITHUB_REPOSITORY": "acme/coupons",
    "GITHUB_RUN_ID": "4242",
    "GITHUB_SHA": "0123456789abcdef0123456789abcdef01234567",
}
CI_URL = "https://github.com/acme/coupons/actions/runs/4242"


def destinations(attempts: int = 3) -> list[dict[str, Any]]:
    return [
        {
            "name": "audit",
            "type": "webhook",
            "url": "${env:HOOK_URL}",
            "secret": "${env:HOOK_KEY}",
            "attempts": attempts,
        },
        {"name": "ops-slack", "type": "slack", "url": "${env:SLACK_URL}", "attempts": attempts},
        {"name": "ops-teams", "type": "teams", "url": "${env:TEAMS_URL}", "attempts": attempts},
    ]


def environment(hook: Receiver) -> dict[str, str]:
    return {
        **CI,
        "HOOK_URL": hook.url("/hook"),
        "HOOK_KEY": KEY,
        "SLACK_URL": hook.url("/slack"),
        "TEAMS_URL": hook.url("/teams"),
    }


@pytest.fixture
def project(tmp_path: Path) -> Path:
    project = make_project(tmp_path, faults=[])
    set_config(project, notify=destinations())
    return project


@pytest.fixture
def hook() -> Iterator[Receiver]:
    with receiver() as started:
        yield started


def signed(hook: Receiver) -> list[dict[str, Any]]:
    """The webhook's bodies, each after checking its signature as a receiver would."""
    bodies = []
    for request in hook.on("/hook"):
        expected = "sha256=" + hmac.new(KEY.encode(), request.body, hashlib.sha256).hexdigest()
        assert hmac.compare_digest(request.headers["x-hub-signature-256"], expected)
        bodies.append(json.loads(request.body))
    return bodies


def journal_rows(project: Path) -> list[tuple[Any, ...]]:
    db = sqlite3.connect(project / ".couponctl" / "journal.sqlite")
    try:
        return db.execute(
            "SELECT destination, event, run_id, attempts, status, error FROM notifications ORDER BY id"
        ).fetchall()
    finally:
        db.close()


def run_ids(project: Path) -> list[str]:
    db = sqlite3.connect(project / ".couponctl" / "journal.sqlite")
    try:
        return [r[0] for r in db.execute("SELECT id FROM runs")]
    finally:
        db.close()


def dispatch_by_hand(project: Path, emails: list[str]) -> None:
    """Dispatch coupons straight through the embedded sandbox's API, as someone outside couponctl would."""

    async def go() -> None:
        transport = embedded_transport(project / ".couponctl" / "sandbox.sqlite", project / "sandbox-seed.yaml")
        headers = {"Authorization": "Bearer sandbox-access-token", "DeveloperToken": "BBD37VB98"}
        body = {"SendToEmails": emails, "CustomerId": "251186883", "CouponClassName": "SPRING27-ACQ-100"}
        async with httpx.AsyncClient(transport=transport, base_url="http://sandbox.local") as client:
            reply = await client.post("/CustomerBilling/v13/Coupons/Dispatch", json=body, headers=headers)
            assert reply.json() == {"PartialErrors": []}

    asyncio.run(go())


def no_secret_nor_email(hook: Receiver) -> None:
    for request in hook.received:
        text = request.body.decode()
        assert KEY not in text and "127.0.0.1" not in text
        assert all("***" in address for address in EMAIL.findall(text)), text


def test_a_successful_apply_tells_every_destination_once_it_has_ended(project: Path, hook: Receiver) -> None:
    applied = run(project, "apply", "--yes", env=environment(hook))
    assert applied.exit_code == 0, applied.output
    (sent,) = signed(hook)
    (run_id,) = run_ids(project)
    assert sent["event"] == "apply.success" and sent["runId"] == run_id and sent["exitCode"] == 0
    assert sent["ciUrl"] == CI_URL and sent["commit"] == CI["GITHUB_SHA"]
    assert sent["counts"]["ISSUED_UNCONFIRMED"] > 0 and sent["exposure"]
    (slack,) = hook.on("/slack")
    assert json.loads(slack.body)["blocks"][0]["type"] == "header" and CI_URL in slack.body.decode()
    (teams,) = hook.on("/teams")
    assert json.loads(teams.body)["attachments"][0]["content"]["type"] == "AdaptiveCard"
    no_secret_nor_email(hook)
    assert [(d, e, r, a, s) for d, e, r, a, s, _ in journal_rows(project)] == [
        ("audit", "apply.success", run_id, 1, "delivered"),
        ("ops-slack", "apply.success", run_id, 1, "delivered"),
        ("ops-teams", "apply.success", run_id, 1, "delivered"),
    ]


def test_a_refused_apply_is_told_with_its_exit_code(project: Path, hook: Receiver) -> None:
    set_config(project, notify=destinations(), policy={"maxItems": 1})
    refused = run(project, "apply", "--yes", env=environment(hook))
    assert refused.exit_code == 3, refused.output
    (sent,) = signed(hook)
    assert sent["event"] == "apply.refused" and sent["exitCode"] == 3 and sent["runId"] is None
    assert "maxItems" in " ".join(sent["details"]) and sent["counts"]["planned"] > 1
    no_secret_nor_email(hook)


def test_an_override_and_a_budget_past_its_share_are_told(project: Path, hook: Receiver) -> None:
    budget = {"name": "usd", "amount": {"USD": 1000000}, "notifyAt": 0.000001}
    set_config(project, notify=destinations(), policy={"maxItems": 5}, budgets=[budget])
    applied = run(project, "apply", "--yes", "--override", "maxItems", "--reason", "launch day", env=environment(hook))
    assert applied.exit_code == 0, applied.output
    events = {body["event"]: body for body in signed(hook)}
    assert set(events) == {"apply.success", "override.used", "budget.threshold"}
    assert "maxItems: launch day" in events["override.used"]["details"][0]
    assert "budget usd" in events["budget.threshold"]["summary"] and "USD" in events["budget.threshold"]["exposure"]


def test_a_destination_gets_only_the_events_it_asks_for(project: Path, hook: Receiver) -> None:
    only_refusals = {**destinations()[0], "events": ["apply.refused"]}
    set_config(project, notify=[only_refusals])
    assert run(project, "apply", "--yes", env=environment(hook)).exit_code == 0
    assert hook.received == [] and journal_rows(project) == []


def test_a_failed_attempt_is_retried_then_delivered(project: Path) -> None:
    set_config(project, notify=destinations()[:1])
    with receiver([(503, {}), (429, {"Retry-After": "1"})]) as hook:
        applied = run(project, "apply", "--yes", env=environment(hook))
        assert applied.exit_code == 0, applied.output
        assert len(hook.on("/hook")) == 3
        assert signed(hook)[0] == signed(hook)[2]  # the same body, signed alike, each time
    ((destination, event, _, attempts, status, error),) = journal_rows(project)
    assert (destination, event, attempts, status, error) == ("audit", "apply.success", 3, "delivered", None)


def test_a_delivery_that_keeps_failing_is_recorded_and_changes_nothing_of_the_apply(project: Path) -> None:
    set_config(project, notify=destinations(attempts=2)[:1])
    with receiver([(500, {})] * 10) as hook:
        applied = run(project, "apply", "--yes", env=environment(hook))
        assert len(hook.on("/hook")) == 2
    assert applied.exit_code == 0, applied.output  # as without notifications
    assert "notification apply.success to audit failed after 2 attempt(s)" in applied.output
    assert "recorded in the journal" in applied.output
    ((destination, event, run_id, attempts, status, error),) = journal_rows(project)
    assert (destination, event, run_id, attempts, status) == (
        "audit",
        "apply.success",
        run_ids(project)[0],
        2,
        "failed",
    )
    assert "HTTP 500" in error


def test_a_receiver_that_is_down_is_recorded_as_failed(project: Path) -> None:
    set_config(project, notify=destinations(attempts=1)[:1])
    with receiver() as hook:
        env = environment(hook)
    applied = run(project, "apply", "--yes", env=env)  # the receiver has stopped: nothing listens on its port
    assert applied.exit_code == 0, applied.output
    ((_, _, _, attempts, status, _),) = journal_rows(project)
    assert (attempts, status) == (1, "failed")


def test_drift_found_and_a_coupon_paid_twice_are_told_masked(project: Path, hook: Receiver) -> None:
    assert run(project, "apply", "--yes").exit_code == 0
    # coupons couponctl never issued: two strangers, and a second coupon to a declared target
    dispatch_by_hand(project, ["stray@example.net", "other@example.net", "owner@example.com"])
    drifted = run(project, "drift", env=environment(hook))
    assert drifted.exit_code == 2, drifted.output
    found, twice = signed(hook)
    assert found["event"] == "drift.found" and found["counts"]["unmanaged"] == 2 and found["ciUrl"] == CI_URL
    assert twice["event"] == "paid_twice" and twice["counts"] == {"paidTwice": 1}
    assert "o***@example.com" in twice["details"][0] and "owner@" not in json.dumps(twice)
    no_secret_nor_email(hook)


def test_a_destination_whose_url_cannot_be_used_changes_neither_drifts_exit_code_nor_the_other_deliveries(
    project: Path, hook: Receiver
) -> None:
    assert run(project, "apply", "--yes").exit_code == 0
    dispatch_by_hand(project, ["stray@example.net"])
    drifted = run(project, "drift", env={**environment(hook), "HOOK_URL": "https://hooks..example.com/x"})
    assert drifted.exit_code == 2, drifted.output
    assert "note: notification drift.found to audit failed" in drifted.output
    assert "hooks..example" not in drifted.output
    assert [json.loads(r.body)["text"] for r in hook.on("/slack")] and hook.on("/teams")
