"""The journal as a ledger for finance: CSV or JSON Lines, one row per item, in order."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Sequence

from reconciler.apply.journal import LEDGER_COLUMNS

FORMATS = ("csv", "jsonl")


def render_ledger(rows: Sequence[dict[str, object]], fmt: str) -> str:
    """``rows`` from :meth:`Journal.ledger` as CSV (with a header) or JSON Lines."""
    if fmt == "jsonl":
        return "".join(json.dumps(row, ensure_ascii=False) + "\n" for row in rows)
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=LEDGER_COLUMNS, lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return buffer.getvalue()
