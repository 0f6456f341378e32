"""A bug's traceback goes to a file, never to the terminal.

An exception that is not a :class:`reconciler.errors.CouponctlError` reaching the command line is a bug in
couponctl. The terminal gets one short message naming a debug log file; the file gets the full traceback, for a
bug report. It is a new file in the system's temporary directory (``couponctl-debug-<UTC time>-<pid>.log``),
readable by its owner only, and what it holds is scrubbed of every registered secret
(:func:`reconciler.config.redaction.scrub`) like everything else couponctl writes.
"""

from __future__ import annotations

import os
import platform
import tempfile
import traceback
from datetime import UTC, datetime
from pathlib import Path

from reconciler import __version__
from reconciler.config import redaction

PREFIX = "couponctl-debug-"


def debug_log_path(directory: Path | None = None, *, now: datetime | None = None) -> Path:
    """Where the next debug log goes: the temporary directory, the time to the second (UTC) and the process id."""
    moment = (now or datetime.now(UTC)).astimezone(UTC)
    folder = directory if directory is not None else Path(tempfile.gettempdir())
    return folder / f"{PREFIX}{moment.strftime('%Y%m%dT%H%M%SZ')}-{os.getpid()}.log"


def write_debug_log(error: BaseException, directory: Path | None = None) -> Path:
    """Write ``error``'s traceback, scrubbed, to a new file only its owner can read, and return its path.
    Raises OSError when the file cannot be written (it is never overwritten: another one is chosen)."""
    text = redaction.scrub(
        f"couponctl {__version__} on Python {platform.python_version()} ({platform.platform()})\n\n"
        + "".join(traceback.format_exception(error))
    )
    path = debug_log_path(directory)
    for attempt in range(100):
        candidate = path if attempt == 0 else path.with_name(f"{path.stem}-{attempt}{path.suffix}")
        try:
            fd = os.open(candidate, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            continue
        with os.fdopen(fd, "w", encoding="utf-8", errors="backslashreplace") as file:
            file.write(text)
        return candidate
    raise FileExistsError(f"no free debug log name beside {path}")
