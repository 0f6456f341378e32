"""An apply's lifecycle as events, and who hears them.

An apply tells its listeners, in this order: notes (``ApplyNote``), what reading decided of earlier in-doubt items
(``InDoubtResolved``, before issuing), each scope read for the fresh plan (``LiveScopeRead``); then, once the
journal has recorded the run, ``ApplyStarted``, one ``BatchSent`` per batch whose outcome was recorded, the
outcomes (``InDoubtResolved`` after issuing, ``ItemsVerified``); and last, however it ended, ``ApplyFinished``: the
report, or the refusal or failure, with the exit code. An apply refused or with nothing to issue never starts a run:
``ApplyFinished`` follows what it read. (An interrupt is no ending an apply reports: it propagates as it is, and the
next apply resolves what it left in doubt.)

Listeners only hear: the dispatcher logs a listener that raises and goes on, so that no listener (progress on a
terminal, a notification) can change what an apply does or the code it exits with. Two limits to that:

- A note (``ApplyNote``) is a warning the person applying must see before anything is issued (a journal that is
  new: what an earlier run left in doubt would be paid again). A listener that fails to take one stops the apply,
  before it takes its lock or sends anything: a warning nobody may have seen is no warning.
- Listeners run on the apply's event loop, between its calls. A listener must not block: one that does delays the
  lease's heartbeat too, and an apply that loses its lease stops sending (its fenced calls are refused, so
  nothing is paid twice, but the rest of its plan waits for the next apply). Slow work (a webhook) belongs on a
  thread or queue of the listener's own.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum
from typing import Protocol

from reconciler.apply.report import ApplyReport
from reconciler.apply.resolve import Resolution
from reconciler.apply.verify import ItemVerdict, PaidTwice
from reconciler.errors import CouponctlError, ExitCode, RefusedError
from reconciler.governance.model import BudgetStatus, Override
from reconciler.plan.model import Plan
from reconciler.providers.base import BatchResult
from reconciler.state.desired import Scope
from reconciler.state.live import ScopeLive

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class PlanSummary:
    """The plan an apply issues, in figures: what a notification says of it."""

    plan_id: str
    checksum: str
    items: int
    in_doubt: int
    skipped: int = 0  # items of the reviewed plan satisfied since it was made
    exposure: tuple[tuple[str, Decimal], ...] = ()  # money at stake: (currency, amount), by currency
    violations: tuple[str, ...] = ()
    override_reason: str | None = None  # the overrides the plan carries and why, as the journal records them
    overrides: tuple[Override, ...] = ()  # the reviewed overrides the plan carries
    budgets: tuple[BudgetStatus, ...] = ()  # the budgets the plan was checked against, as it saw them

    @classmethod
    def of(cls, plan: Plan, *, skipped: int = 0, override_reason: str | None = None) -> PlanSummary:
        return cls(
            plan.plan_id,
            plan.checksum,
            plan.item_count,
            plan.in_doubt_count,
            skipped,
            tuple(plan.exposure().items()),
            plan.violations,
            override_reason,
            plan.governance.overrides if plan.governance is not None else (),
            plan.governance.budgets if plan.governance is not None else (),
        )


class ResolutionStage(StrEnum):
    """When an apply read to resolve in-doubt items."""

    BEFORE_ISSUING = "before issuing"  # items of earlier runs, before the fresh plan is made
    AFTER_ISSUING = "after issuing"  # this run's items and the earlier ones still in doubt


@dataclass(frozen=True)
class ApplyNote:
    """Something the person applying should know before anything is issued (a journal that is new)."""

    message: str


@dataclass(frozen=True)
class InDoubtResolved:
    """What reading decided, or left in doubt, of the in-doubt items of the declared scopes. ``run_id`` is None
    before issuing: no run is recorded yet."""

    stage: ResolutionStage
    resolutions: tuple[Resolution, ...]
    run_id: str | None = None


@dataclass(frozen=True)
class LiveScopeRead:
    """One scope's live state, read for the plan the apply makes afresh."""

    live: ScopeLive


@dataclass(frozen=True)
class ApplyStarted:
    """The journal recorded the run: its batches are about to be sent, to these scopes."""

    run_id: str
    plan: PlanSummary
    scopes: tuple[Scope, ...]
    batches: int


@dataclass(frozen=True)
class BatchSent:
    """A batch's outcome was recorded (one whose fence was refused was not sent: its items FAILED, NotSent);
    ``done_items`` of ``total_items`` have been."""

    run_id: str
    result: BatchResult
    done_items: int
    total_items: int


@dataclass(frozen=True)
class ItemsVerified:
    """The read after writing judged every item the run sent (``items``, in the order sent); ``paid_twice`` are the
    targets it found holding more than one coupon of a class."""

    run_id: str
    items: tuple[ItemVerdict, ...]
    paid_twice: tuple[PaidTwice, ...]


@dataclass(frozen=True)
class ApplyFinished:
    """The apply ended: with its ``report`` (None when there was nothing to issue, or it failed), or with the
    ``failure`` that ended it (a refusal is a RefusedError, exit code 3). ``plan`` is None when it ended before its
    fresh plan was made, ``run_id`` when it ended before the journal recorded a run."""

    exit_code: int
    run_id: str | None = None
    plan: PlanSummary | None = None
    report: ApplyReport | None = None
    failure: Exception | None = None

    @property
    def refused(self) -> bool:
        return isinstance(self.failure, RefusedError)


ApplyEvent = ApplyNote | InDoubtResolved | LiveScopeRead | ApplyStarted | BatchSent | ItemsVerified | ApplyFinished


class ApplyListener(Protocol):
    """Hears an apply's events, in the order they happen; what it raises is logged, never seen by the apply (but
    for a note: see the module's docstring). It must not block."""

    def on_event(self, event: ApplyEvent) -> None: ...


def exit_code_of(failure: Exception) -> int:
    """The exit code an apply ended by ``failure`` exits with (the command line's mapping of errors)."""
    return failure.exit_code if isinstance(failure, CouponctlError) else ExitCode.ERROR


class ApplyRun:
    """The context of one apply: its listeners, the summary of its plan once made, and its run id once the
    journal has recorded the run.

    ``emit`` hands each event to every listener in turn; a listener that raises is logged and skipped. ``warn``
    hands over a note, which every listener must take."""

    def __init__(self, listeners: Iterable[ApplyListener] = ()) -> None:
        self.listeners = tuple(listeners)
        self.run_id: str | None = None
        self.plan: PlanSummary | None = None

    def emit(self, event: ApplyEvent) -> None:
        for listener in self.listeners:
            try:
                listener.on_event(event)
            except Exception:  # a listener's failure is its own: the apply goes on, unchanged
                log.warning(
                    "apply listener %s failed on %s; the apply goes on",
                    type(listener).__name__,
                    type(event).__name__,
                    exc_info=True,
                )

    def warn(self, note: ApplyNote) -> None:
        """Hand ``note`` to every listener; a listener that raises stops the apply (nothing is sent yet)."""
        for listener in self.listeners:
            listener.on_event(note)

    def planned(self, plan: PlanSummary) -> None:
        """The plan this apply issues (bound to the reviewed one, if any) is made: ApplyFinished carries it."""
        self.plan = plan

    def start(self, run_id: str, plan: PlanSummary, scopes: tuple[Scope, ...], batches: int) -> None:
        """The journal recorded the run of ``plan``: every later event carries its id."""
        self.run_id, self.plan = run_id, plan
        self.emit(ApplyStarted(run_id, plan, scopes, batches))

    def batch_sent(self, result: BatchResult, done_items: int, total_items: int) -> None:
        """The executor's BatchObserver: told of each batch sent, once the run has started."""
        if self.run_id is not None:
            self.emit(BatchSent(self.run_id, result, done_items, total_items))

    def finish(self, exit_code: int, *, report: ApplyReport | None = None, failure: Exception | None = None) -> None:
        """The apply ended, with its report or the failure that ended it: the last event."""
        self.emit(ApplyFinished(exit_code, self.run_id, self.plan, report, failure))
