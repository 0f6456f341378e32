"""Freezes through the use cases, on the journal's clock: apply refuses during one (exit 3) and issues nothing;
an override naming the freeze lets it through and the journal records it; a plan made before a freeze, applied
during it, is refused; plans show the freezes that apply to them."""

from __future__ import annotations

import json
import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from reconciler.app.apply import ApplyDecisions, ApplyResult, apply_project
from reconciler.app.plan import plan_project
from reconciler.app.session import load_project
from reconciler.errors import CouponctlError, ExitCode, RefusedError
from reconciler.governance.model import Override
from reconciler.plan.model import Plan
from reconciler.plan.serialize import plan_from_json, plan_to_json
from tests.support.projects import EXAMPLE_ITEMS, holders, make_project, set_config
from tests.support.windows import clock_journal

BEGINS = datetime(2026, 11, 30, 23, 0, tzinfo=UTC)  # 1 December, midnight in Berlin
ENDS = datetime(2026, 12, 31, 23, 0, tzinfo=UTC)
YEAR_END = {"name": "year-end", "from": "2026-12-01", "until": "2027-01-01", "timeZone": "Europe/Berlin"}


@pytest.fixture
def project(tmp_path: Path) -> Path:
    project = make_project(tmp_path, faults=[])
    set_config(project, freezes=[YEAR_END], planTTL="2d")
    return project


def apply(project: Path, saved: Plan | None = None, overrides: tuple[Override, ...] = ()) -> ApplyResult:
    decisions = ApplyDecisions(confirm=lambda plan: True, saved_plan=saved, saved_name="plan.json", overrides=overrides)
    return apply_project(load_project(project), decisions)


def coupons(project: Path) -> int:
    return sum(counter.total() for counter in holders(project))


def recorded_overrides(project: Path) -> list[list[dict[str, object]]]:
    db = sqlite3.connect(project / ".couponctl" / "journal.sqlite")
    try:
        return [json.loads(row[0] or "[]") for row in db.execute("SELECT overrides FROM runs")]
    finally:
        db.close()


def test_apply_during_a_freeze_is_refused_with_exit_3_and_issues_nothing(
    project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    clock_journal(monkeypatch, BEGINS)
    with pytest.raises(RefusedError, match="freeze year-end") as refused:
        apply(project)
    assert refused.value.exit_code == ExitCode.REFUSED == 3
    assert coupons(project) == 0


def test_one_second_before_and_at_the_end_of_a_freeze_apply_goes_ahead(
    project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    clock = clock_journal(monkeypatch, BEGINS - timedelta(seconds=1))
    assert apply(project).exit_code == 0
    assert coupons(project) == EXAMPLE_ITEMS
    clock.at = ENDS
    assert apply(project).exit_code == 0


def test_an_override_naming_the_freeze_lets_apply_through_and_the_journal_records_it(
    project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    clock_journal(monkeypatch, BEGINS + timedelta(days=3))
    override = Override("year-end", "finance approved the December campaign")
    assert apply(project, overrides=(override,)).exit_code == 0
    assert coupons(project) == EXAMPLE_ITEMS
    [recorded] = [r for r in recorded_overrides(project) if r]
    assert [(o["name"], o["reason"]) for o in recorded] == [("year-end", "finance approved the December campaign")]


def test_a_reviewed_plan_carrying_the_override_is_applied_during_the_freeze(
    project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    clock = clock_journal(monkeypatch, BEGINS - timedelta(hours=1))
    saved = plan_project(load_project(project), overrides=(Override("year-end", "reviewed: ship before Christmas"),))
    assert [s.name for s in saved.freezes] == ["year-end"]  # begins before the plan expires
    clock.at = BEGINS + timedelta(minutes=5)
    assert apply(project, saved).exit_code == 0
    assert coupons(project) == EXAMPLE_ITEMS


def test_a_saved_plan_made_outside_a_freeze_applied_inside_it_is_refused(
    project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    clock = clock_journal(monkeypatch, BEGINS - timedelta(hours=1))
    saved = plan_project(load_project(project))
    clock.at = BEGINS
    with pytest.raises(RefusedError, match="freeze year-end"):
        apply(project, saved)
    assert coupons(project) == 0


def test_an_override_of_no_freeze_is_refused(project: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    clock_journal(monkeypatch, BEGINS)
    with pytest.raises(CouponctlError, match="no rule, budget, freeze or limit"):
        apply(project, overrides=(Override("summer", "why not"),))
    assert not (project / ".couponctl" / "sandbox.sqlite").exists()  # refused before the sandbox was opened


def test_the_plan_json_shows_the_freezes_and_the_checksum_covers_them(
    project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    clock_journal(monkeypatch, BEGINS + timedelta(days=1))
    plan = plan_project(load_project(project))
    data = json.loads(plan_to_json(plan))
    assert data["freezes"] == [
        {"name": "year-end", "from": "2026-11-30T23:00:00Z", "until": "2026-12-31T23:00:00Z", "inForce": True}
    ]
    assert plan_from_json(plan_to_json(plan), "plan.json").freezes == plan.freezes  # schema-valid, read back


def test_a_freeze_far_from_the_plan_is_not_shown_and_the_digest_covers_freezes(
    project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    clock_journal(monkeypatch, BEGINS - timedelta(days=30))
    plan = plan_project(load_project(project))
    assert plan.freezes == ()
    set_config(project, freezes=[{**YEAR_END, "until": "2027-01-02"}])
    changed = plan_project(load_project(project))
    assert plan.governance is not None and changed.governance is not None
    assert plan.governance.digest != changed.governance.digest
