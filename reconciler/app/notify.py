"""Notifications as a use case: an apply listener that gathers what to tell while the apply runs and sends it once
the apply has ended (never while issuing), recording each delivery in the journal; and what ``couponctl drift``
tells of the drift it found. A delivery that fails changes nothing of what the command did or exits with."""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass

import httpx

from reconciler.app.events import ApplyEvent, ApplyFinished, ItemsVerified
from reconciler.app.session import open_journal
from reconciler.apply.context import git_commit
from reconciler.config.model import Config
from reconciler.errors import ConfigError, JournalError
from reconciler.notify.delivery import DEFAULT_BACKOFF, Backoff, Outcome, Status, deliver
from reconciler.notify.model import Destination, DestinationType, Notice, Origin
from reconciler.notify.notices import apply_notices, drift_notices
from reconciler.notify.payloads import EVENT_HEADER, SIGNATURE_HEADER, body, signature
from reconciler.plan.drift import Drift
from reconciler.plan.masking import UNKEYED, mask_key

log = logging.getLogger(__name__)

#: The most time all the deliveries after one command may take together, in seconds.
TOTAL_SECONDS = 30.0


def ci_run_url(environ: Mapping[str, str]) -> str | None:
    """The CI run's page: GitHub Actions' GITHUB_SERVER_URL/GITHUB_REPOSITORY/actions/runs/GITHUB_RUN_ID."""
    server, repository, run = (
        environ.get(k, "").strip() for k in ("GITHUB_SERVER_URL", "GITHUB_REPOSITORY", "GITHUB_RUN_ID")
    )
    if server and repository and run:
        return f"{server.rstrip('/')}/{repository}/actions/runs/{run}"
    return None


def origin_of(config: Config, environ: Mapping[str, str]) -> Origin:
    """The commit checked out (else CI's GITHUB_SHA) and the CI run's page."""
    commit = git_commit(config.root) or environ.get("GITHUB_SHA", "").strip() or None
    return Origin(commit, ci_run_url(environ))


@dataclass(frozen=True)
class Delivery:
    """One notice sent (or not) to one destination."""

    destination: str
    notice: Notice
    outcome: Outcome


@dataclass(frozen=True)
class Sent:
    """The deliveries after one command; ``unrecorded`` says why the journal could not record them, if it could not."""

    deliveries: tuple[Delivery, ...] = ()
    unrecorded: str | None = None
    error: str | None = None

    @property
    def failed(self) -> tuple[Delivery, ...]:
        return tuple(d for d in self.deliveries if not d.outcome.delivered)


class Sender:
    """Sends notices to the destinations that want them, one after another, within ``total_seconds`` in all."""

    def __init__(
        self,
        destinations: Iterable[Destination],
        environ: Mapping[str, str],
        *,
        transport: httpx.BaseTransport | None = None,
        total_seconds: float = TOTAL_SECONDS,
        backoff: Backoff = DEFAULT_BACKOFF,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.destinations = tuple(destinations)
        self.environ = environ
        self.transport = transport
        self.total_seconds = total_seconds
        self.backoff = backoff
        self.sleep = sleep
        self.clock = clock

    def send(self, notices: Iterable[Notice]) -> tuple[Delivery, ...]:
        wanted = [(d, n) for n in notices for d in self.destinations if d.wants(n.event)]
        if not wanted:
            return ()
        deadline = self.clock() + self.total_seconds
        with httpx.Client(transport=self.transport, follow_redirects=False, trust_env=False) as client:
            return tuple(Delivery(d.name, n, self._one(client, d, n, deadline)) for d, n in wanted)

    def _one(self, client: httpx.Client, destination: Destination, notice: Notice, deadline: float) -> Outcome:
        url = destination.url.resolve(self.environ)
        if url is None:
            return Outcome(Status.FAILED, 0, f"url names {destination.url}, which is not set (or empty)")
        content = body(destination.type, notice)
        headers = {EVENT_HEADER: notice.event.value}
        if destination.type is DestinationType.WEBHOOK:
            secret = destination.secret.resolve(self.environ) if destination.secret is not None else None
            if secret is None:
                return Outcome(
                    Status.FAILED, 0, f"secret names {destination.secret}, which is not set: not sent unsigned"
                )
            headers[SIGNATURE_HEADER] = signature(secret.reveal().encode("utf-8"), content)
        return deliver(
            client,
            url.reveal(),
            content,
            headers,
            attempts=destination.attempts,
            deadline=deadline,
            backoff=self.backoff,
            sleep=self.sleep,
            clock=self.clock,
        )


class ApplyNotifier:
    """An apply listener: while the apply runs it only keeps two events (it never blocks it, nor sends);
    :meth:`deliver`, called once the apply has ended, makes the notices, sends them and records each delivery in
    the journal."""

    def __init__(
        self, config: Config, environ: Mapping[str, str] | None = None, *, sender: Sender | None = None
    ) -> None:
        self.config = config
        self.environ = os.environ if environ is None else environ
        self.sender = sender or Sender(config.notify, self.environ)
        self.verified: ItemsVerified | None = None
        self.finished: ApplyFinished | None = None

    def on_event(self, event: ApplyEvent) -> None:
        if isinstance(event, ItemsVerified):
            self.verified = event
        elif isinstance(event, ApplyFinished):
            self.finished = event

    def notices(self) -> list[Notice]:
        """What the ended apply gives to tell (nothing before it ended, or without destinations)."""
        finished = self.finished
        if finished is None or not self.config.notify:
            return []
        notify_at = {b.name: b.notify_at for b in self.config.governance.budgets if b.notify_at is not None}
        return apply_notices(
            finished,
            self.verified,
            origin=origin_of(self.config, self.environ),
            notify_at=notify_at,
            mask_key=_key(self.config, self.environ),
        )

    def deliver(self) -> Sent:
        """Send what the apply gave to tell, then record every delivery in the journal. It never raises (but for
        an interrupt): a journal it cannot write is said in ``unrecorded``, anything else in ``error``."""
        try:
            deliveries = self.sender.send(self.notices())
        except Exception as exc:  # a notification's failure is its own: the apply's outcome stands
            log.warning("notifications failed", exc_info=True)
            return Sent(error=f"notifications failed: {type(exc).__name__}: {exc}")
        finally:
            self.finished, self.verified = None, None
        if not deliveries:
            return Sent()
        try:
            journal = open_journal(self.config)
            try:
                for d in deliveries:
                    o = d.outcome
                    journal.record_notification(
                        d.destination, d.notice.event.value, d.notice.run_id, o.attempts, o.status.value, o.error
                    )
            finally:
                journal.close()
        except JournalError as exc:
            return Sent(deliveries, str(exc))
        return Sent(deliveries)


def notify_drift(
    config: Config, drift: Drift, environ: Mapping[str, str] | None = None, *, sender: Sender | None = None
) -> Sent:
    """Tell the destinations of the drift ``couponctl drift`` found. Drift is read-only: it records nothing in the
    journal, so a failed delivery is only shown."""
    if not config.notify:
        return Sent()
    environ = os.environ if environ is None else environ
    try:
        notices = drift_notices(drift, origin=origin_of(config, environ), mask_key=_key(config, environ))
        sent = (sender or Sender(config.notify, environ)).send(notices)
    except Exception as exc:  # as after apply: a notification's failure never changes drift's exit code
        log.warning("notifications failed", exc_info=True)
        return Sent(error=f"notifications failed: {type(exc).__name__}: {exc}")
    return Sent(sent, "couponctl drift is read-only: it records nothing in the journal" if sent else None)


def _key(config: Config, environ: Mapping[str, str]) -> bytes:
    """The project's mask key; a maskKey that is not set still masks, under the key used outside a project."""
    try:
        return mask_key(config, environ)
    except ConfigError:
        return UNKEYED
