"""The apply listener gathers only while the apply runs and sends once it has ended; a destination whose URL or
secret is not set sends nothing (never an unsigned webhook); a delivery's own failure never escapes."""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Iterable
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest

from reconciler.app.events import ApplyFinished, ItemsVerified, PlanSummary
from reconciler.app.notify import ApplyNotifier, Delivery, Sender, ci_run_url, notify_drift
from reconciler.config.load import load_config
from reconciler.config.model import Config
from reconciler.config.secrets import SecretRef
from reconciler.errors import ExitCode, RefusedError
from reconciler.notify.delivery import Status
from reconciler.notify.model import Destination, DestinationType, EventKind, Notice
from reconciler.plan.drift import Drift, DriftItem, DriftKind, ScopeDrift
from reconciler.state.desired import Scope, Target, TargetKind
from reconciler.state.live import IssuedCoupon
from tests.support.projects import make_project, set_config

NOTICE = Notice(EventKind.APPLY_REFUSED, "refused", "exit 3")
HOOK = Destination("audit", DestinationType.WEBHOOK, SecretRef("HOOK_URL"), secret=SecretRef("HOOK_KEY"), attempts=1)


def recording() -> tuple[httpx.MockTransport, list[httpx.Request]]:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200)

    return httpx.MockTransport(handler), seen


@pytest.fixture
def config(tmp_path: Path) -> Config:
    project = make_project(tmp_path, faults=[])
    set_config(
        project, notify=[{"name": "audit", "type": "webhook", "url": "${env:HOOK_URL}", "secret": "${env:HOOK_KEY}"}]
    )
    return load_config(project)


def test_the_listener_sends_nothing_until_the_apply_has_ended_and_deliver_is_called(config: Config) -> None:
    transport, seen = recording()
    environ = {"HOOK_URL": "https://hooks.example.com/x", "HOOK_KEY": "k3y-k3y-k3y"}
    notifier = ApplyNotifier(config, environ, sender=Sender(config.notify, environ, transport=transport))
    notifier.on_event(ItemsVerified("run1", (), ()))
    notifier.on_event(ApplyFinished(ExitCode.REFUSED, None, PlanSummary("p", "c", 3, 0), None, RefusedError("no")))
    assert seen == []  # hearing the events sent nothing
    sent = notifier.deliver()
    assert len(seen) == 1 and [d.outcome.status for d in sent.deliveries] == [Status.DELIVERED]
    expected = "sha256=" + hmac.new(b"k3y-k3y-k3y", seen[0].content, hashlib.sha256).hexdigest()
    assert (
        seen[0].headers["x-hub-signature-256"] == expected and seen[0].headers["x-couponctl-event"] == "apply.refused"
    )
    assert notifier.deliver().deliveries == ()  # told once


def test_an_unset_url_or_secret_sends_nothing(config: Config) -> None:
    transport, seen = recording()
    no_secret = Sender([HOOK], {"HOOK_URL": "https://hooks.example.com/x"}, transport=transport).send([NOTICE])
    no_url = Sender([HOOK], {"HOOK_KEY": "k3y-k3y-k3y"}, transport=transport).send([NOTICE])
    assert seen == []
    for (delivery,) in (no_secret, no_url):
        assert delivery.outcome.status is Status.FAILED and delivery.outcome.attempts == 0
    assert "HOOK_KEY" in (no_secret[0].outcome.error or "") and "HOOK_URL" in (no_url[0].outcome.error or "")


def test_a_failure_of_the_notifications_themselves_never_escapes(config: Config) -> None:
    class Broken(Sender):
        def send(self, notices: Iterable[Notice]) -> tuple[Delivery, ...]:
            raise RuntimeError("bug")

    notifier = ApplyNotifier(config, {}, sender=Broken([], {}))
    notifier.on_event(ApplyFinished(ExitCode.REFUSED, None, None, None, RefusedError("no")))
    sent = notifier.deliver()
    assert sent.deliveries == () and sent.error is not None and "RuntimeError" in sent.error


def test_a_failure_of_the_notifications_themselves_never_escapes_drift_either(config: Config) -> None:
    class Broken(Sender):
        def send(self, notices: Iterable[Notice]) -> tuple[Delivery, ...]:
            raise RuntimeError("bug")

    stray = DriftItem(DriftKind.UNMANAGED, Target(TargetKind.EMAIL, "eve@acme.example"), (IssuedCoupon("A", "x"),))
    scope = ScopeDrift(Scope("msads-local", "1001", "spring"), "msads", ("spring.yaml",), unmanaged=(stray,))
    drift = Drift(datetime(2026, 1, 1, tzinfo=UTC), "1.0", (scope,))
    sent = notify_drift(config, drift, {}, sender=Broken([], {}))
    assert sent.deliveries == () and sent.error is not None and "RuntimeError" in sent.error


def test_the_ci_link_needs_all_three_variables() -> None:
    full = {"GITHUB_SERVER_URL": "https://github.example/", "GITHUB_REPOSITORY": "a/b", "GITHUB_RUN_ID": "7"}
    assert ci_run_url(full) == "https://github.example/a/b/actions/runs/7"
    assert ci_run_url({**full, "GITHUB_RUN_ID": ""}) is None
