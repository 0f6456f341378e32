"""Issue windows through the use cases, against the embedded sandbox, on the journal's clock: only due items are
issued (counted in the sandbox's own store), scheduled and closed ones never; a saved plan's binding."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from reconciler.app.apply import ApplyDecisions, ApplyResult, apply_project
from reconciler.app.plan import plan_project
from reconciler.app.session import load_project
from reconciler.errors import PlanFileError
from reconciler.plan.checksum import verify_checksum
from reconciler.plan.model import Plan
from reconciler.plan.serialize import plan_from_json, plan_to_json
from tests.support.projects import declared_targets, holders, make_project
from tests.support.windows import clock_journal, schedule

# Europe/Berlin is on summer time (UTC+2) from 2026-03-29: its midnight of 1 April is 22:00 UTC on 31 March.
OPENS = datetime(2026, 3, 31, 22, 0, tzinfo=UTC)
WINBACK = "winback27.yaml"  # 3 emails
RESELLER = "reseller-q1.yaml"  # 3 uids
SPRING_ITEMS = 3 + 2 + 4


@pytest.fixture
def project(tmp_path: Path) -> Path:
    project = make_project(tmp_path, faults=[])
    schedule(project, WINBACK, {"notBefore": "2026-04-01", "notAfter": "2026-05-01", "timeZone": "Europe/Berlin"})
    schedule(project, RESELLER, {"notAfter": "2026-03-01T00:00:00Z"})
    return project


def apply(project: Path, saved: Plan | None = None) -> ApplyResult:
    decisions = ApplyDecisions(confirm=lambda plan: True, saved_plan=saved, saved_name="plan.json")
    return apply_project(load_project(project), decisions)


def issued(project: Path) -> tuple[int, int, int]:
    """Coupons the sandbox's store holds: winback emails, reseller uids, and in all."""
    winback, _, _ = declared_targets(project, WINBACK)
    emails, accounts, uids = holders(project)
    return sum(emails[e] for e in winback), sum(uids.values()), emails.total() + accounts.total() + uids.total()


def test_one_second_before_the_window_the_items_are_scheduled_with_their_date(
    project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    clock_journal(monkeypatch, OPENS - timedelta(seconds=1))
    plan = plan_project(load_project(project))
    assert plan.item_count == SPRING_ITEMS and plan.scheduled_count == 3 and plan.closed_count == 3
    assert {t.at for s in plan.scopes for t in s.scheduled} == {OPENS}
    assert {t.at for s in plan.scopes for t in s.closed} == {datetime(2026, 3, 1, tzinfo=UTC)}
    assert not any(t.item.manifest == "winback27-retention" for s in plan.scopes for t in s.closed)


def test_exactly_at_not_before_the_items_are_due(project: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    clock_journal(monkeypatch, OPENS)
    plan = plan_project(load_project(project))
    assert plan.item_count == SPRING_ITEMS + 3 and plan.scheduled_count == 0 and plan.closed_count == 3


def test_exactly_at_not_after_the_items_are_closed(project: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    closes = datetime(2026, 4, 30, 22, 0, tzinfo=UTC)  # Berlin's midnight of 1 May
    clock = clock_journal(monkeypatch, closes - timedelta(seconds=1))
    assert plan_project(load_project(project)).item_count == SPRING_ITEMS + 3
    clock.at = closes
    plan = plan_project(load_project(project))
    assert plan.item_count == SPRING_ITEMS and plan.closed_count == 3 + 3
    assert {t.at for s in plan.scopes for t in s.closed if t.item.manifest == "winback27-retention"} == {closes}


def test_apply_issues_only_what_is_due_and_a_later_apply_what_became_due(
    project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    clock = clock_journal(monkeypatch, OPENS - timedelta(seconds=1))
    assert apply(project).exit_code == 0
    assert issued(project) == (0, 0, SPRING_ITEMS)  # scheduled and closed items: nothing in the store
    clock.at = OPENS
    assert apply(project).exit_code == 0
    assert issued(project) == (3, 0, SPRING_ITEMS + 3)  # the closed reseller items: never
    clock.at = OPENS + timedelta(days=60)
    assert apply(project).plan.item_count == 0
    assert issued(project) == (3, 0, SPRING_ITEMS + 3)


def test_a_saved_plan_issues_its_scheduled_items_once_due_and_never_closed_ones(
    project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    clock = clock_journal(monkeypatch, OPENS - timedelta(seconds=1))
    saved = plan_project(load_project(project))
    assert saved.scheduled_count == 3
    clock.at = OPENS + timedelta(seconds=30)  # within planTTL
    result = apply(project, saved)
    assert result.exit_code == 0
    assert issued(project) == (3, 0, SPRING_ITEMS + 3)


def test_a_saved_plan_applied_after_the_window_closed_issues_nothing_of_it(
    project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    closes = datetime(2026, 4, 30, 22, 0, tzinfo=UTC)
    clock = clock_journal(monkeypatch, closes - timedelta(seconds=5))
    saved = plan_project(load_project(project))
    assert saved.item_count == SPRING_ITEMS + 3
    clock.at = closes
    assert apply(project, saved).exit_code == 0
    assert issued(project) == (0, 0, SPRING_ITEMS)


def test_scheduled_and_closed_items_survive_the_json_and_its_checksum(
    project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    clock_journal(monkeypatch, OPENS - timedelta(seconds=1))
    plan = plan_project(load_project(project))
    read = plan_from_json(plan_to_json(plan), "plan.json")  # validated against the plan schema on the way
    assert read.scopes == plan.scopes and verify_checksum(read)
    moved = plan_from_json(plan_to_json(plan).replace("2026-03-31T22:00:00", "2026-03-31T21:00:00"), "plan.json")
    assert not verify_checksum(moved)  # a scheduled item's date is covered by the checksum


def test_a_saved_plan_whose_due_date_is_no_timestamp_is_a_located_error(
    project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    clock_journal(monkeypatch, OPENS - timedelta(seconds=1))
    text = plan_to_json(plan_project(load_project(project))).replace(
        '"dueAt": "2026-03-31T22:00:00Z"', '"dueAt": "next tuesday"', 1
    )
    with pytest.raises(PlanFileError, match=r"scopes\[\d\]\.scheduled\[0\]\.dueAt"):
        plan_from_json(text, "plan.json")
