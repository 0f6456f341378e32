"""The apply lifecycle its listeners hear, against the embedded sandbox: the example project, copied to a temporary
directory, applied through the use case (and once through the command line)."""

from __future__ import annotations

import dataclasses
import json
import logging
import shutil
import sqlite3
from pathlib import Path

import pytest
from click.testing import CliRunner

from reconciler.app.apply import ApplyDecisions, ApplyResult, apply_project
from reconciler.app.events import (
    ApplyEvent,
    ApplyFinished,
    ApplyListener,
    ApplyNote,
    ApplyStarted,
    BatchSent,
    InDoubtResolved,
    ItemsVerified,
    LiveScopeRead,
    ResolutionStage,
)
from reconciler.app.plan import plan_project
from reconciler.app.session import load_project
from reconciler.apply.verify import Verdict
from reconciler.cli.main import ApplyProgressReport, main
from reconciler.errors import ExitCode, RefusedError
from reconciler.plan.checksum import with_checksum
from reconciler.providers.base import Outcome

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
EXAMPLE_ITEMS = 3 + 2 + 4 + 3 + 3  # accounts + emails + emails from the CSV (spring) + winback emails + reseller uids
EXAMPLE_SCOPES = 3


class Recorder:
    """Hears every event, in order."""

    def __init__(self) -> None:
        self.events: list[ApplyEvent] = []

    def on_event(self, event: ApplyEvent) -> None:
        self.events.append(event)

    def of(self, kind: type[ApplyEvent]) -> list[ApplyEvent]:
        return [e for e in self.events if isinstance(e, kind)]

    @property
    def finished(self) -> ApplyFinished:
        last = self.events[-1]
        assert isinstance(last, ApplyFinished)
        return last


class Exploding:
    """A listener that fails on every event it hears (but notes, with ``takes_notes``)."""

    def __init__(self, *, takes_notes: bool = False) -> None:
        self.heard = 0
        self.takes_notes = takes_notes

    def on_event(self, event: ApplyEvent) -> None:
        self.heard += 1
        if not (self.takes_notes and isinstance(event, ApplyNote)):
            raise RuntimeError(f"listener broke on {type(event).__name__}")


@pytest.fixture
def project(tmp_path: Path) -> Path:
    target = tmp_path / "project"
    shutil.copytree(EXAMPLES, target, ignore=shutil.ignore_patterns(".couponctl"))
    return target


def issued_in_store(project: Path) -> set[tuple[str, str]]:
    """Every (coupon class, holder) the sandbox store holds as issued: msads classes by name, aliyun templates by
    id."""
    store = sqlite3.connect(project / ".couponctl" / "sandbox.sqlite")
    try:
        msads = store.execute(
            "SELECT class_name, COALESCE(send_to_email, CAST(claim_account_id AS TEXT)) FROM coupons "
            "WHERE send_to_email IS NOT NULL OR claim_account_id IS NOT NULL"
        ).fetchall()
        aliyun = store.execute("SELECT CAST(template_id AS TEXT), CAST(uid AS TEXT) FROM aliyun_coupons").fetchall()
    finally:
        store.close()
    held = [(str(c), str(h)) for c, h in [*msads, *aliyun]]
    assert len(held) == len(set(held)), "no holder was paid twice"
    return set(held)


def apply(project: Path, *listeners: ApplyListener, confirm: bool = True) -> ApplyResult:
    return apply_project(load_project(project), ApplyDecisions(confirm=lambda plan: confirm), listeners)


def test_a_real_apply_tells_started_each_batch_its_outcomes_and_finished(project: Path) -> None:
    heard = Recorder()
    result = apply(project, heard)

    kinds = [type(e) for e in heard.events]
    (started,) = heard.of(ApplyStarted)
    assert isinstance(started, ApplyStarted)
    assert kinds == [
        ApplyNote,  # the journal is new
        InDoubtResolved,
        *[LiveScopeRead] * EXAMPLE_SCOPES,
        ApplyStarted,
        *[BatchSent] * started.batches,
        InDoubtResolved,
        ItemsVerified,
        ApplyFinished,
    ]
    before, after = heard.of(InDoubtResolved)
    assert isinstance(before, InDoubtResolved) and isinstance(after, InDoubtResolved)
    assert (before.stage, before.run_id, before.resolutions) == (ResolutionStage.BEFORE_ISSUING, None, ())
    assert (after.stage, after.run_id, after.resolutions) == (ResolutionStage.AFTER_ISSUING, started.run_id, ())

    # started: the run, the plan in figures, the scopes it issues in
    assert result.report is not None and started.run_id == result.report.run_id
    assert started.plan.items == EXAMPLE_ITEMS and started.plan.checksum == result.plan.checksum
    assert dict(started.plan.exposure) == {"CNY": 300, "USD": 3 * 100 + 6 * 100 + 3 * 50}
    assert len(started.scopes) == EXAMPLE_SCOPES

    # batch sent: progress counts up to every item, and the items sent are exactly what the store now holds
    batches = [e for e in heard.of(BatchSent) if isinstance(e, BatchSent)]
    assert {e.run_id for e in batches} == {started.run_id}
    assert [e.total_items for e in batches] == [EXAMPLE_ITEMS] * len(batches)
    done = [e.done_items for e in batches]
    assert done == sorted(done) and done[-1] == EXAMPLE_ITEMS
    assert [e.done_items - d for e, d in zip(batches, [0, *done[:-1]], strict=True)] == [
        len(e.result.results) for e in batches
    ]
    sent = {
        (e.result.batch.scope.coupon_class, r.item.target.value)
        for e in batches
        for r in e.result.results
        if r.outcome is Outcome.ISSUED
    }
    assert len(sent) == EXAMPLE_ITEMS
    assert sent == issued_in_store(project)
    assert {e.result.batch.scope for e in batches} == set(started.scopes)

    # outcome: every item answered issued and, nothing being in doubt, not read back (verify: needed)
    (verified,) = heard.of(ItemsVerified)
    assert isinstance(verified, ItemsVerified) and verified.run_id == started.run_id
    assert [i.verdict for i in verified.items] == [Verdict.ISSUED_UNCONFIRMED] * EXAMPLE_ITEMS
    assert {(i.scope.coupon_class, i.target.value) for i in verified.items} == sent
    assert verified.paid_twice == ()

    # finished: the report, its exit code, no failure
    finished = heard.finished
    assert finished.report == result.report and finished.failure is None and not finished.refused
    assert (finished.exit_code, finished.run_id, finished.plan) == (ExitCode.OK, started.run_id, started.plan)


def test_an_apply_with_nothing_to_issue_finishes_without_starting_a_run(project: Path) -> None:
    apply(project)
    heard = Recorder()
    result = apply(project, heard)

    assert result.report is None and result.exit_code == ExitCode.OK
    assert [type(e) for e in heard.events] == [InDoubtResolved, *[LiveScopeRead] * EXAMPLE_SCOPES, ApplyFinished]
    finished = heard.finished
    assert (finished.exit_code, finished.run_id, finished.report, finished.failure) == (ExitCode.OK, None, None, None)
    assert finished.plan is not None and finished.plan.items == 0


def test_a_refused_apply_finishes_with_the_refusal_and_exit_code_3(project: Path) -> None:
    heard = Recorder()
    with pytest.raises(RefusedError, match="not confirmed") as refused:
        apply(project, heard, confirm=False)

    assert not heard.of(ApplyStarted) and not heard.of(BatchSent) and not heard.of(ItemsVerified)
    finished = heard.finished
    assert finished.failure is refused.value and finished.refused
    assert finished.exit_code == ExitCode.REFUSED == 3
    assert finished.run_id is None and finished.report is None
    assert finished.plan is not None and finished.plan.items == EXAMPLE_ITEMS  # what was refused
    assert issued_in_store(project) == set()


def test_a_saved_plan_refused_before_anything_is_read_finishes_with_the_refusal(project: Path) -> None:
    saved = plan_project(load_project(project))
    altered = dataclasses.replace(with_checksum(saved), plan_id="another")  # its checksum no longer matches
    heard = Recorder()
    with pytest.raises(RefusedError, match="altered"):
        apply_project(
            load_project(project),
            ApplyDecisions(confirm=lambda plan: True, saved_plan=altered, saved_name="p.json"),
            [heard],
        )

    assert [type(e) for e in heard.events] == [ApplyFinished]
    assert heard.finished.refused and heard.finished.exit_code == ExitCode.REFUSED and heard.finished.plan is None


def test_a_listener_that_raises_changes_neither_the_apply_nor_the_coupons(
    project: Path, caplog: pytest.LogCaptureFixture
) -> None:
    exploding, heard = Exploding(takes_notes=True), Recorder()
    with caplog.at_level(logging.WARNING, logger="reconciler.app.events"):
        result = apply(project, exploding, heard)

    assert result.exit_code == ExitCode.OK and result.report is not None
    assert result.report.count(Verdict.ISSUED_UNCONFIRMED) == EXAMPLE_ITEMS
    assert len(issued_in_store(project)) == EXAMPLE_ITEMS  # each target once: nothing stopped, nothing sent twice
    # every listener heard every event, the one after the broken one included; each failure was logged
    assert exploding.heard == len(heard.events) and isinstance(heard.events[-1], ApplyFinished)
    notes = sum(isinstance(event, ApplyNote) for event in heard.events)
    assert notes == 1  # the journal is new
    failures = [r for r in caplog.records if "listener Exploding failed" in r.getMessage()]
    assert len(failures) == len(heard.events) - notes and all(r.exc_info for r in failures)


def test_a_listener_that_fails_to_take_a_note_stops_the_apply_before_anything_is_sent(project: Path) -> None:
    """The note that the journal is new is a warning the person applying must see: unseen, nothing is issued."""
    heard = Recorder()
    with pytest.raises(RuntimeError, match="listener broke on ApplyNote"):
        apply(project, heard, Exploding())

    assert [type(event) for event in heard.events] == [ApplyNote, ApplyFinished]
    assert heard.finished.exit_code == ExitCode.ERROR and heard.finished.run_id is None
    # nothing was issued: the next apply shows the note again, issues every item, and each target holds one coupon
    again = Recorder()
    after = apply(project, again)
    assert [type(event) for event in again.events][:1] == [ApplyNote]
    assert after.report is not None and after.report.count(Verdict.ISSUED_UNCONFIRMED) == EXAMPLE_ITEMS
    assert len(issued_in_store(project)) == EXAMPLE_ITEMS


def test_a_listener_that_raises_on_a_refusal_keeps_the_refusal(project: Path) -> None:
    heard = Recorder()
    with pytest.raises(RefusedError, match="not confirmed"):
        apply(project, Exploding(takes_notes=True), heard, confirm=False)
    assert heard.finished.exit_code == ExitCode.REFUSED


def test_the_command_lines_progress_failing_changes_no_exit_code_and_no_report(
    project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(self: ApplyProgressReport, event: BatchSent) -> None:
        raise OSError("the terminal went away")

    monkeypatch.setattr(ApplyProgressReport, "batch_sent", broken)
    report = project / "report.json"
    applied = CliRunner().invoke(main, ["-C", str(project), "--no-color", "apply", "--yes", "--report", str(report)])

    assert applied.exit_code == 0, applied.output
    assert (
        f"0 confirmed, {EXAMPLE_ITEMS} issued unconfirmed, 0 issued not yet visible, 0 failed, 0 in doubt"
        in applied.stdout
    )
    assert json.loads(report.read_text())["summary"]["ISSUED_UNCONFIRMED"] == EXAMPLE_ITEMS
    assert len(issued_in_store(project)) == EXAMPLE_ITEMS
