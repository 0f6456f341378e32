"""Every report couponctl writes, in every format it writes it: one table.

A :class:`ReportKind` (a plan, a drift report, an apply report, a journal view) lists its :class:`Format` s, the
first being the default; each format renders the report as the document couponctl writes, in pieces (a large
plan is never one string), ending with its newline. The command line takes each ``--format`` option's choices
from here, and looks a format up with :meth:`ReportKind.format`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from reconciler.apply.journal import JournalItem, RunInfo
from reconciler.apply.report import ApplyReport
from reconciler.errors import CouponctlError
from reconciler.plan.drift import Drift
from reconciler.plan.masking import UNKEYED
from reconciler.plan.model import Plan
from reconciler.plan.serialize import iter_plan_json
from reconciler.plan.status import CampaignStatus
from reconciler.render.drift import drift_to_json, render_drift_markdown, render_drift_text
from reconciler.render.journal import (
    Ledger,
    RunItems,
    render_in_doubt_text,
    render_ledger_csv,
    render_ledger_jsonl,
    render_run_text,
    render_runs_text,
)
from reconciler.render.plan_markdown import render_markdown
from reconciler.render.plan_text import render_text
from reconciler.render.report import render_report_text, report_to_json
from reconciler.render.status import render_status_csv, render_status_markdown, render_status_text, status_to_json

R = TypeVar("R")


@dataclass(frozen=True, slots=True)
class RenderOptions:
    """What a renderer may need beyond the report: colour (terminal text) and the key of the digests beside
    masked emails (Markdown; :func:`reconciler.plan.masking.mask_key`)."""

    color: bool = False
    mask_key: bytes = UNKEYED


@dataclass(frozen=True, slots=True)
class Format(Generic[R]):
    """One format of a report: its name on the command line, how it renders, whether it carries couponctl's own
    colour (its colour sequences may then pass the output stream), and whether it masks emails (it then needs the
    project's mask key, which the others never read)."""

    name: str
    render: Callable[[R, RenderOptions], Iterable[str]]
    colourable: bool = False
    masks_emails: bool = False


@dataclass(frozen=True, slots=True)
class ReportKind(Generic[R]):
    """A report and its formats, the first being the default."""

    name: str
    formats: tuple[Format[R], ...]

    @property
    def choices(self) -> tuple[str, ...]:
        """The format names, in the order ``--format`` lists them."""
        return tuple(f.name for f in self.formats)

    @property
    def default(self) -> str:
        return self.formats[0].name

    def format(self, name: str) -> Format[R]:
        """The format called ``name``; an error naming the formats there are otherwise."""
        for candidate in self.formats:
            if candidate.name == name:
                return candidate
        raise CouponctlError(f"unknown format {name!r} for the {self.name}: choose one of {', '.join(self.choices)}")


def _line(render: Callable[[R], str]) -> Callable[[R, RenderOptions], Iterator[str]]:
    """A renderer of a document without its final newline, as one that ends with it."""

    def document(report: R, _options: RenderOptions) -> Iterator[str]:
        yield render(report) + "\n"

    return document


def _whole(render: Callable[[R], str]) -> Callable[[R, RenderOptions], Iterator[str]]:
    """A renderer of a document that ends with its newline already (or is empty)."""

    def document(report: R, _options: RenderOptions) -> Iterator[str]:
        yield render(report)

    return document


def _plan_text(plan: Plan, options: RenderOptions) -> Iterator[str]:
    yield render_text(plan, color=options.color) + "\n"


def _plan_json(plan: Plan, _options: RenderOptions) -> Iterator[str]:
    """The saved-plan format (reconciler.plan.serialize), streamed as it is produced."""
    yield from iter_plan_json(plan)
    yield "\n"


def _plan_markdown(plan: Plan, options: RenderOptions) -> Iterator[str]:
    yield render_markdown(plan, mask_key=options.mask_key) + "\n"


def _drift_markdown(drift: Drift, options: RenderOptions) -> Iterator[str]:
    yield render_drift_markdown(drift, mask_key=options.mask_key)


PLAN: ReportKind[Plan] = ReportKind(
    "plan",
    (
        Format("text", _plan_text, colourable=True),
        Format("json", _plan_json),
        Format("markdown", _plan_markdown, masks_emails=True),
    ),
)
DRIFT: ReportKind[Drift] = ReportKind(
    "drift report",
    (
        Format("text", _line(render_drift_text)),
        Format("json", _line(drift_to_json)),
        Format("markdown", _drift_markdown, masks_emails=True),
    ),
)
STATUS: ReportKind[CampaignStatus] = ReportKind(
    "campaign status",
    (
        Format("text", _line(render_status_text)),
        Format("json", _line(status_to_json)),
        Format("markdown", _whole(render_status_markdown)),
        Format("csv", _whole(render_status_csv)),
    ),
)
APPLY_REPORT: ReportKind[ApplyReport] = ReportKind(
    "apply report", (Format("text", _line(render_report_text)), Format("json", _line(report_to_json)))
)
JOURNAL_RUNS: ReportKind[Sequence[RunInfo]] = ReportKind("journal runs", (Format("text", _line(render_runs_text)),))
JOURNAL_RUN: ReportKind[RunItems] = ReportKind("journal run", (Format("text", _line(render_run_text)),))
JOURNAL_IN_DOUBT: ReportKind[Sequence[JournalItem]] = ReportKind(
    "journal in-doubt items", (Format("text", _line(render_in_doubt_text)),)
)
LEDGER: ReportKind[Ledger] = ReportKind(
    "ledger", (Format("csv", _whole(render_ledger_csv)), Format("jsonl", _whole(render_ledger_jsonl)))
)

REPORT_KINDS: tuple[ReportKind[Any], ...] = (
    PLAN,
    DRIFT,
    STATUS,
    APPLY_REPORT,
    JOURNAL_RUNS,
    JOURNAL_RUN,
    JOURNAL_IN_DOUBT,
    LEDGER,
)


def render_document(kind: ReportKind[R], fmt: str, report: R, options: RenderOptions | None = None) -> str:
    """The whole document, as one string (for a file; a terminal takes the pieces as they come)."""
    return "".join(kind.format(fmt).render(report, options or RenderOptions()))
