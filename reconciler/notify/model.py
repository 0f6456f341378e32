"""Notifications as frozen values: the destinations couponctl.yaml declares, the events they may ask for, and a
notice (one message, before it is shaped for a destination)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum

from reconciler.config.secrets import SecretRef


class EventKind(StrEnum):
    """What a destination may be told of."""

    APPLY_SUCCESS = "apply.success"
    APPLY_REFUSED = "apply.refused"
    APPLY_PARTIAL = "apply.partial"
    APPLY_IN_DOUBT = "apply.in_doubt"
    APPLY_FAILED = "apply.failed"  # an error (exit 1): the apply could not go on
    OVERRIDE_USED = "override.used"
    BUDGET_THRESHOLD = "budget.threshold"
    DRIFT_FOUND = "drift.found"
    PAID_TWICE = "paid_twice"


class DestinationType(StrEnum):
    SLACK = "slack"  # a Slack incoming webhook
    TEAMS = "teams"  # a Microsoft Teams workflow ("When a Teams webhook request is received"): an Adaptive Card
    WEBHOOK = "webhook"  # a generic JSON POST signed with HMAC-SHA256 (X-Hub-Signature-256), as GitHub signs


DEFAULT_ATTEMPTS = 4


@dataclass(frozen=True, slots=True)
class Destination:
    """One ``notify:`` entry. ``url`` and ``secret`` are ``${env:NAME}`` references (a webhook URL is a secret);
    ``events`` those it is sent (all when the entry names none); ``attempts`` how many times a delivery is tried."""

    name: str
    type: DestinationType
    url: SecretRef
    events: frozenset[EventKind] = frozenset(EventKind)
    secret: SecretRef | None = None
    attempts: int = DEFAULT_ATTEMPTS

    def wants(self, event: EventKind) -> bool:
        return event in self.events


@dataclass(frozen=True)
class Notice:
    """One message, every text in it already masked: ``counts`` (name -> number), ``exposure`` (currency ->
    amount, as text), the run, the commit and the CI run's link where known, and ``details`` (a line each)."""

    event: EventKind
    title: str
    summary: str
    counts: Mapping[str, int] = field(default_factory=dict)
    exposure: Mapping[str, str] = field(default_factory=dict)
    run_id: str | None = None
    commit: str | None = None
    ci_url: str | None = None
    exit_code: int | None = None
    details: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Origin:
    """Where a notice comes from: the commit checked out and the CI run's page, where known."""

    commit: str | None = None
    ci_url: str | None = None
