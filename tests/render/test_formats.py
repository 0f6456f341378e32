"""The table of formats: every command's ``--format`` takes its choices from it, every format in it renders, and
an unknown format is a clear error."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import click
import pytest

from reconciler.apply.journal import LEDGER_COLUMNS, JournalItem, RunInfo
from reconciler.apply.report import ApplyReport
from reconciler.apply.verify import ItemVerdict, Verdict
from reconciler.cli.main import main
from reconciler.errors import CouponctlError
from reconciler.plan.checksum import with_checksum
from reconciler.plan.drift import Drift, DriftItem, DriftKind, ScopeDrift
from reconciler.plan.serialize import plan_from_json, plan_to_json
from reconciler.render.formats import (
    APPLY_REPORT,
    DRIFT,
    JOURNAL_IN_DOUBT,
    JOURNAL_RUN,
    JOURNAL_RUNS,
    LEDGER,
    PLAN,
    REPORT_KINDS,
    STATUS,
    RenderOptions,
    ReportKind,
    render_document,
)
from reconciler.render.journal import RunItems
from reconciler.render.plan_text import render_text
from reconciler.state.desired import Target
from reconciler.state.live import IssuedCoupon
from tests.support.diff_factories import SCOPE
from tests.support.plan_factories import governed_plan, sample_governance, sample_plan
from tests.support.status_sample import sample_status

#: Which report each command with a ``--format`` option prints.
FORMATTED_COMMANDS: dict[str, ReportKind[Any]] = {
    "plan": PLAN,
    "show": PLAN,
    "drift": DRIFT,
    "journal export": LEDGER,
    "status": STATUS,
}

ANA = Target.email("ana@example.com")


def _commands(group: click.Group, prefix: str = "") -> Iterator[tuple[str, click.Command]]:
    """Every command under ``group``, as the command line finds them (subcommands imported on use included)."""
    context = click.Context(group)
    for name in group.list_commands(context):
        command = group.get_command(context, name)
        assert command is not None, name
        path = f"{prefix}{name}"
        if isinstance(command, click.Group):
            yield from _commands(command, f"{path} ")
        else:
            yield path, command


def _format_option(command: click.Command) -> click.Option | None:
    options = [p for p in command.params if isinstance(p, click.Option) and "--format" in p.opts]
    return options[0] if options else None


def test_every_format_option_takes_its_choices_and_default_from_the_table() -> None:
    formatted = {path: command for path, command in _commands(main) if _format_option(command) is not None}
    assert set(formatted) == set(FORMATTED_COMMANDS)
    for path, command in formatted.items():
        option = _format_option(command)
        assert option is not None and isinstance(option.type, click.Choice)
        kind = FORMATTED_COMMANDS[path]
        assert tuple(option.type.choices) == kind.choices, path
        assert option.default == kind.default, path


def _drift() -> Drift:
    stray = DriftItem(DriftKind.UNMANAGED, Target.email("stray@example.net"), (IssuedCoupon("****0001", "claimed"),))
    void = DriftItem(DriftKind.VOID, ANA, (IssuedCoupon("****1234", "expired"),), manifest="m1")
    scope = ScopeDrift(SCOPE, "msads", ("m1",), unmanaged=(stray,), void=(void,))
    return Drift(datetime(2027, 3, 2, 10, 0, tzinfo=UTC), "0.1.0", (scope,))


def _apply_report() -> ApplyReport:
    failed = ItemVerdict(SCOPE, ANA, "DispatchCoupons", Verdict.FAILED, "E1", "refused", "T-1")
    return ApplyReport("run-1", "sum", "plan-1", "t0", "t1", (failed,), 0)


def _item() -> JournalItem:
    return JournalItem(
        5, "run-1", "b1", "DispatchCoupons", SCOPE, ANA, None, "IN_DOUBT", None, None, "T-1", "t0", "t1", None, None
    )


RUN = RunInfo("run-1", "f" * 64, "2027-03-02T10:00:00+00:00", None, "success", "ci", 1)
LEDGER_ROWS = [dict.fromkeys(LEDGER_COLUMNS, "x")]

SAMPLES: dict[str, object] = {
    PLAN.name: sample_plan(),
    DRIFT.name: _drift(),
    STATUS.name: sample_status(),
    APPLY_REPORT.name: _apply_report(),
    JOURNAL_RUNS.name: [RUN],
    JOURNAL_RUN.name: RunItems(RUN, [_item()]),
    JOURNAL_IN_DOUBT.name: [_item()],
    LEDGER.name: LEDGER_ROWS,
}


def test_every_report_kind_has_a_sample_and_unique_names() -> None:
    assert [kind.name for kind in REPORT_KINDS] == list(SAMPLES)
    for kind in REPORT_KINDS:
        assert len(set(kind.choices)) == len(kind.choices) and kind.default == kind.choices[0]


@pytest.mark.parametrize(
    ("kind", "fmt"), [(kind, fmt) for kind in REPORT_KINDS for fmt in kind.choices], ids=lambda v: getattr(v, "name", v)
)
def test_every_format_renders_a_sample_report_as_a_document_ending_with_a_newline(
    kind: ReportKind[Any], fmt: str
) -> None:
    document = render_document(kind, fmt, SAMPLES[kind.name], RenderOptions(color=True))
    assert document.strip() and document.endswith("\n")
    if fmt == "json":
        json.loads(document)
    if fmt == "jsonl":
        assert [json.loads(line) for line in document.splitlines()] == LEDGER_ROWS


def test_only_the_plan_text_carries_colour_and_only_markdown_masks_emails() -> None:
    coloured = [(kind.name, f.name) for kind in REPORT_KINDS for f in kind.formats if f.colourable]
    masking = [(kind.name, f.name) for kind in REPORT_KINDS for f in kind.formats if f.masks_emails]
    assert coloured == [("plan", "text")]
    assert masking == [("plan", "markdown"), ("drift report", "markdown")]


def test_the_plan_formats_are_the_renderers_output_with_a_final_newline() -> None:
    made = with_checksum(sample_plan())
    assert render_document(PLAN, "json", made) == plan_to_json(made) + "\n"
    assert render_document(PLAN, "text", made, RenderOptions(color=True)) == render_text(made, color=True) + "\n"


def test_an_unknown_format_is_an_error_naming_the_formats_there_are() -> None:
    with pytest.raises(CouponctlError, match=r"unknown format 'xml' for the plan: choose one of text, json, markdown"):
        PLAN.format("xml")


@pytest.mark.parametrize("fmt", PLAN.choices)
def test_every_plan_format_shows_the_governance(fmt: str) -> None:
    # a deny, a warn, a tier finding, an overridden deny, a breached and an overridden budget, overrides, a journal
    # that is not shared: whatever the format, each is there for the reviewer
    made = with_checksum(governed_plan())
    document = render_document(PLAN, fmt, made, RenderOptions(mask_key=b"k"))
    if fmt == "json":
        assert plan_from_json(document, "p.json") == made
        return
    governance = sample_governance()
    for name in {f.rule for f in governance.findings} | {b.name for b in governance.budgets}:
        assert name in document, (fmt, name)
    for item in (
        *(" ".join(f.message.split()[-2:]) for f in governance.findings),
        *(o.reason for o in governance.overrides),
    ):
        assert item in document, (fmt, item)
    assert "finance" in document and "BREACH" in document and "overridden" in document
    assert "only truthful across runners with a shared journal" in document
    assert "apply refused" in document
    if PLAN.format(fmt).masks_emails:
        assert "owner@example.com" not in document and "ana@example.com" not in document
