"""Issue windows and freezes against the time apply spends between its fresh plan and its first call: a confirm
that waits (a person at the prompt) past notAfter or into a freeze issues nothing, counted in the sandbox's store."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from reconciler.app.apply import ApplyDecisions, apply_project
from reconciler.app.events import ApplyEvent, BatchSent
from reconciler.app.plan import plan_project
from reconciler.app.session import load_project
from reconciler.errors import RefusedError
from reconciler.plan.model import Plan
from tests.support.projects import declared_targets, holders, make_project, set_config
from tests.support.windows import JournalClock, clock_journal, schedule

WINBACK = "winback27.yaml"
CLOSES = datetime(2026, 4, 30, 22, 0, tzinfo=UTC)  # Berlin's midnight of 1 May
FREEZE = {"name": "audit", "from": "2026-04-20", "until": "2026-04-21", "timeZone": "Europe/Berlin"}
FROZEN = datetime(2026, 4, 19, 22, 0, tzinfo=UTC)  # Berlin's midnight of 20 April


@pytest.fixture
def project(tmp_path: Path) -> Path:
    project = make_project(tmp_path, faults=[])
    schedule(project, WINBACK, {"notBefore": "2026-04-01", "notAfter": "2026-05-01", "timeZone": "Europe/Berlin"})
    return project


def coupons(project: Path) -> int:
    return sum(counter.total() for counter in holders(project))


def slow_confirm(clock: JournalClock, to: datetime) -> ApplyDecisions:
    """A person who answers the prompt at ``to``."""

    def confirm(plan: Plan) -> bool:
        clock.at = to
        return True

    return ApplyDecisions(confirm=confirm)


def test_a_confirm_answered_after_the_window_closed_issues_none_of_its_items(
    project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    clock = clock_journal(monkeypatch, CLOSES - timedelta(seconds=5))
    with pytest.raises(RefusedError, match="winback27"):
        apply_project(load_project(project), slow_confirm(clock, CLOSES + timedelta(minutes=10)))
    winback, _, _ = declared_targets(project, WINBACK)
    emails, _, _ = holders(project)
    assert sum(emails[e] for e in winback) == 0 and coupons(project) == 0


def test_a_confirm_answered_once_a_freeze_began_issues_nothing(project: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    set_config(project, freezes=[FREEZE])
    clock = clock_journal(monkeypatch, FROZEN - timedelta(minutes=1))
    with pytest.raises(RefusedError, match="freeze audit"):
        apply_project(load_project(project), slow_confirm(clock, FROZEN))
    assert coupons(project) == 0


def test_a_saved_plan_never_issues_a_scheduled_item_before_the_date_the_reviewer_saw(
    project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    opens = datetime(2026, 3, 31, 22, 0, tzinfo=UTC)  # Berlin's midnight of 1 April
    clock = clock_journal(monkeypatch, opens - timedelta(hours=2))
    saved = plan_project(load_project(project))
    assert {t.at for s in saved.scopes for t in s.scheduled} == {opens}
    schedule(project, WINBACK, {"notBefore": "2026-03-01", "timeZone": "Europe/Berlin"})  # edited after review
    clock.at = opens - timedelta(hours=1)
    with pytest.raises(RefusedError, match="not in the reviewed plan"):
        apply_project(load_project(project), ApplyDecisions(confirm=lambda plan: True, saved_plan=saved))
    winback, _, _ = declared_targets(project, WINBACK)
    emails, _, _ = holders(project)
    assert sum(emails[e] for e in winback) == 0 and coupons(project) == 0


class CloseAfterFirstBatch:
    """A listener that moves the journal's clock to ``to`` once the first batch is sent (a long apply), and keeps
    the manifests of that batch's items."""

    def __init__(self, clock: JournalClock, to: datetime) -> None:
        self.clock, self.to = clock, to
        self.first: list[str] | None = None

    def on_event(self, event: ApplyEvent) -> None:
        if isinstance(event, BatchSent) and self.first is None:
            self.first = [item.manifest for item in event.result.batch.items]
            self.clock.at = self.to


@pytest.mark.parametrize("freeze", [False, True])
def test_no_batch_is_sent_once_the_window_closed_or_a_freeze_began_during_the_apply(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, freeze: bool
) -> None:
    project = make_project(tmp_path, faults=[], extra={"canarySize": 1})
    schedule(project, WINBACK, {"notBefore": "2026-04-01", "notAfter": "2026-05-01", "timeZone": "Europe/Berlin"})
    if freeze:
        set_config(project, freezes=[FREEZE])
    start, to = (FROZEN - timedelta(minutes=1), FROZEN) if freeze else (CLOSES - timedelta(seconds=5), CLOSES)
    clock = clock_journal(monkeypatch, start)
    listener = CloseAfterFirstBatch(clock, to)
    result = apply_project(load_project(project), ApplyDecisions(confirm=lambda plan: True), [listener])
    assert listener.first is not None and result.report is not None and result.report.stopped
    assert coupons(project) == len(listener.first)  # only the first batch, sent before the clock moved
