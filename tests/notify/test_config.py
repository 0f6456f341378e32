"""``notify:`` in couponctl.yaml: destinations by ${env:NAME} reference only, a webhook signed, errors located; and a
budget's ``notifyAt``."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path

import pytest

from reconciler.config.load import load_config
from reconciler.errors import ConfigError
from reconciler.governance.digest import governance_digest
from reconciler.notify.model import DestinationType, EventKind
from tests.support.projects import ROOT, make_project, set_config


@pytest.fixture
def project(tmp_path: Path) -> Path:
    return make_project(tmp_path, faults=[])


def problems(project: Path) -> list[str]:
    with pytest.raises(ConfigError) as raised:
        load_config(project)
    return [str(p) for p in raised.value.problems]


def test_destinations_are_loaded_with_their_events_and_references(project: Path) -> None:
    set_config(
        project,
        notify=[
            {"name": "ops", "type": "slack", "url": "${env:SLACK_HOOK}", "events": ["apply.refused", "paid_twice"]},
            {
                "name": "audit",
                "type": "webhook",
                "url": "${env:AUDIT_URL}",
                "secret": "${env:AUDIT_KEY}",
                "attempts": 2,
            },
        ],
    )
    ops, audit = load_config(project).notify
    assert ops.type is DestinationType.SLACK and ops.url.env_name == "SLACK_HOOK"
    assert ops.events == {EventKind.APPLY_REFUSED, EventKind.PAID_TWICE} and ops.secret is None
    assert audit.events == set(EventKind) and audit.secret is not None and audit.secret.env_name == "AUDIT_KEY"
    assert audit.attempts == 2


def test_a_literal_url_is_refused_where_it_is(project: Path) -> None:
    set_config(project, notify=[{"name": "ops", "type": "slack", "url": "https://hooks.slack.com/services/T/B/X"}])
    (problem,) = problems(project)
    assert problem.startswith("couponctl.yaml:") and "notify[0].url" in problem
    assert "hooks.slack.com" not in problem  # a secret is never quoted


def test_a_webhook_needs_its_secret_and_a_chat_destination_takes_none(project: Path) -> None:
    set_config(
        project,
        notify=[
            {"name": "audit", "type": "webhook", "url": "${env:AUDIT_URL}"},
            {"name": "ops", "type": "teams", "url": "${env:TEAMS_URL}", "secret": "${env:KEY}"},
            {"name": "ops", "type": "slack", "url": "${env:SLACK_URL}"},
        ],
    )
    found = problems(project)
    assert any("notify[0]:" in p and "secret" in p for p in found), found
    assert any("notify[1].secret" in p for p in found), found
    assert any("notify[2].name" in p and "twice" in p for p in found), found
    assert all(p.split(":")[1].isdigit() and p.split(":")[1] != "0" for p in found), found  # each located


def test_an_unknown_event_or_type_is_refused(project: Path) -> None:
    set_config(
        project,
        notify=[
            {"name": "a", "type": "email", "url": "${env:A}"},
            {"name": "b", "type": "slack", "url": "${env:B}", "events": ["apply.exploded"]},
        ],
    )
    found = problems(project)
    assert any("notify[0].type" in p for p in found) and any("notify[1].events[0]" in p for p in found), found


def test_the_schema_lists_every_event_couponctl_sends() -> None:
    schema = json.loads((ROOT / "schemas" / "config.schema.json").read_text())
    events = schema["$defs"]["notifyDestination"]["properties"]["events"]["items"]["enum"]
    assert set(events) == {e.value for e in EventKind}


def test_a_budget_takes_a_notify_share_that_governs_nothing(project: Path) -> None:
    set_config(project, budgets=[{"name": "usd", "amount": {"USD": 1000}}])
    before = load_config(project)
    set_config(project, budgets=[{"name": "usd", "amount": {"USD": 1000}, "notifyAt": 0.8}])
    after = load_config(project)
    assert after.governance.budgets[0].notify_at == Decimal("0.8") and before.governance.budgets[0].notify_at is None
    # a reviewed plan stays valid when only its threshold of notification changes
    assert governance_digest(after.policy, after.governance) == governance_digest(before.policy, before.governance)
    set_config(project, budgets=[{"name": "usd", "amount": {"USD": 1000}, "notifyAt": 1.5}])
    (problem,) = problems(project)
    assert "budgets[0].notifyAt" in problem
