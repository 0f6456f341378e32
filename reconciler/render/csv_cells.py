"""CSV cells a spreadsheet shows as text: what finance opens must never run as a formula."""

from __future__ import annotations

#: What makes a spreadsheet read a cell as a formula (or a command, in older ones).
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def safe_cell(text: str) -> str:
    """``text`` as a cell shown as text: one that would start a formula gets a leading ``'``."""
    return f"'{text}" if text.startswith(FORMULA_START) else text
