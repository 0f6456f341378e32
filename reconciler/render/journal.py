"""The journal's views: the runs as a table (``journal list``, ``journal show``), items one per line (``journal
show``, ``journal in-doubt``), and the ledger for finance as CSV or JSON Lines (``journal export``)."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from reconciler.apply.journal import LEDGER_COLUMNS, JournalItem, RunInfo
from reconciler.render.csv_cells import safe_cell

RUN_HEADER = ("RUN", "STARTED (UTC)", "OUTCOME", "ITEMS", "ACTOR", "PLAN")

Ledger = Sequence[dict[str, object]]
"""Rows of :meth:`reconciler.apply.journal.Journal.ledger`, one per item, in order."""


@dataclass(frozen=True, slots=True)
class RunItems:
    """One run and its items: what ``journal show`` prints."""

    run: RunInfo
    items: Sequence[JournalItem]


def when(timestamp: str | None) -> str:
    """An ISO timestamp from the journal, to the second, in UTC."""
    if not timestamp:
        return "-"
    try:
        return datetime.fromisoformat(timestamp).astimezone(UTC).strftime("%Y-%m-%d %H:%M:%SZ")
    except ValueError:
        return timestamp


def table(header: Sequence[str], rows: Sequence[Sequence[str]], *, right: Sequence[int] = ()) -> list[str]:
    """Lines of a plain-text table: a header, then columns padded to their widest cell (``right``: the
    indexes of columns aligned to the right, such as counts)."""
    widths = [max(len(cell) for cell in column) for column in zip(header, *rows, strict=True)]

    def line(cells: Sequence[str]) -> str:
        padded = [
            cell.rjust(width) if index in right else cell.ljust(width)
            for index, (cell, width) in enumerate(zip(cells, widths, strict=True))
        ]
        return "  ".join(padded).rstrip()

    return [line(header), *(line(row) for row in rows)]


def _run_row(run: RunInfo) -> list[str]:
    return [
        run.id,
        when(run.started_at),
        run.outcome or "unfinished",
        str(run.items),
        run.actor or "-",
        run.plan_checksum[:12],
    ]


def _run_table(runs: Sequence[RunInfo]) -> list[str]:
    return table(RUN_HEADER, [_run_row(run) for run in runs], right=(3,))


def item_lines(items: Sequence[JournalItem]) -> list[str]:
    """One line per item, led by its id as `journal resolve` takes it (#5), the ids padded to one width."""
    width = max((len(f"#{item.id}") for item in items), default=0)
    lines = []
    for item in items:
        extra = f" [{item.code}]" if item.code else ""
        resolution = f" — {item.resolved_by}: {item.resolution_reason}" if item.resolved_by else ""
        tracking = f" TrackingId {item.tracking_id}" if item.tracking_id else ""
        lines.append(
            f"  {f'#{item.id}':<{width}} {item.state:<19} {item.operation} {item.scope} {item.target}{extra}"
            f"{tracking} ({item.updated_at}){resolution}"
        )
    return lines


def render_runs_text(runs: Sequence[RunInfo]) -> str:
    """``journal list``: the runs as a table, newest first (as given)."""
    return "\n".join(_run_table(runs)) if runs else "No runs recorded."


def render_run_text(shown: RunItems) -> str:
    """``journal show``: the run's row, then every item."""
    lines = _run_table([shown.run])
    if not shown.items:
        lines.append("  (no items: nothing was issued in this run)")
    return "\n".join([*lines, *item_lines(shown.items)])


def render_in_doubt_text(items: Sequence[JournalItem]) -> str:
    """``journal in-doubt``: every item whose issuing call has an unknown outcome."""
    return "\n".join(item_lines(items)) if items else "Nothing in doubt."


def render_ledger_csv(rows: Ledger) -> str:
    """The ledger as CSV, with a header; a text cell that a spreadsheet would run as a formula (a label, an override
    reason or an actor from a pull request) starts with ``'``."""
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=LEDGER_COLUMNS, lineterminator="\n")
    writer.writeheader()
    writer.writerows({k: safe_cell(v) if isinstance(v, str) else v for k, v in row.items()} for row in rows)
    return buffer.getvalue()


def render_ledger_jsonl(rows: Ledger) -> str:
    """The ledger as JSON Lines: one object per row."""
    return "".join(json.dumps(row, ensure_ascii=False) + "\n" for row in rows)
