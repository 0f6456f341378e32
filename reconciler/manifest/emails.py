"""``emailsFrom`` files: one address a line, or CSV with an ``email`` column, read as a stream.

Only the format is checked here (size, UTF-8, the CSV header); address syntax and duplicates are the
caller's, so that inline and file addresses follow one rule.
"""

from __future__ import annotations

import csv
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import NamedTuple

from reconciler.errors import InputError, Problem
from reconciler.manifest.loader import MiB, too_large

MAX_EMAILS_FILE_BYTES = 200 * MiB
"""The largest ``emailsFrom`` file read."""


class EmailLine(NamedTuple):
    """One address as written (stripped, not lower-cased), with its 1-based line and column."""

    line: int
    column: int
    address: str


def read_emails(path: Path, display: str, *, max_bytes: int | None = None) -> Iterator[EmailLine]:
    """Yield the addresses of an emails file; ``.csv`` files are CSV, any other a plain list.

    Raises InputError (naming ``display`` and, where it applies, the line) for a file that cannot be
    read, is too large, is not UTF-8 or is a CSV file without an ``email`` column; addresses before
    the problem have been yielded by then.
    """
    max_bytes = MAX_EMAILS_FILE_BYTES if max_bytes is None else max_bytes
    try:
        if path.stat().st_size > max_bytes:
            raise InputError([too_large(display, max_bytes, "email lists")])
        with path.open("rb") as stream:
            lines = _decoded(stream, display)
            yield from (_csv(lines, display) if path.suffix.lower() == ".csv" else _plain(lines))
    except OSError as exc:
        raise InputError([Problem(display, 0, 0, "", f"cannot read: {exc.strerror or exc}")]) from None


def _decoded(raw_lines: Iterable[bytes], display: str) -> Iterator[str]:
    for number, raw in enumerate(raw_lines, 1):
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            message = f"not valid UTF-8 (byte 0x{raw[exc.start]:02x})"
            raise InputError([Problem(display, number, exc.start + 1, "", message)]) from None
        yield text.removeprefix("\ufeff") if number == 1 else text


def _plain(lines: Iterable[str]) -> Iterator[EmailLine]:
    for number, text in enumerate(lines, 1):
        address = text.strip()
        if address and not address.startswith("#"):
            yield EmailLine(number, len(text) - len(text.lstrip()) + 1, address)


def _csv(lines: Iterable[str], display: str) -> Iterator[EmailLine]:
    reader = csv.reader(lines)
    column: int | None = None
    start = 1  # a quoted field may span lines: a record starts on the line after the last one's end
    try:
        for row in reader:
            first, start = start, reader.line_num + 1
            if column is None:
                if any(cell.strip() for cell in row):
                    column = _email_column(row, display, first)
                continue
            address = row[column].strip() if column < len(row) else ""
            if address or any(cell.strip() for cell in row):
                yield EmailLine(first, 1, address)
    except csv.Error as exc:
        raise InputError([Problem(display, reader.line_num, 1, "", f"invalid CSV: {exc}")]) from None


def _email_column(header: list[str], display: str, line: int) -> int:
    names = [cell.strip().lower() for cell in header]
    if "email" not in names:
        raise InputError([Problem(display, line, 1, "", "the CSV header row has no email column")])
    return names.index("email")
