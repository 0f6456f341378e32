"""A bug's traceback goes to a file, never to the terminal.

An exception that is not a :class:`reconciler.errors.CouponctlError` reaching the command line is a bug in
couponctl. The terminal gets one short message naming a debug log file; the file gets the full traceback, for a
bug report. It is a new file in the system's temporary directory (``couponctl-debug-<UTC time>-<random>.log``),
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


def write_debug_log(error: BaseException, directory: Path | None = None) -> Path:
    """Write ``error``'s traceback, scrubbed, to a new file only its owner can read, and return its path: in the
    temporary directory (or ``directory``), named by the time to the second (UTC) and a random part nobody can
    guess beforehand (``mkstemp``: created exclusively with mode 0600, never through a planted link). Raises
    OSError when the file cannot be written."""
    text = redaction.scrub(
        f"couponctl {__version__} on Python {platform.python_version()} ({platform.platform()})\n\n"
        + "".join(traceback.format_exception(error))
    )
    moment = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    fd, name = tempfile.mkstemp(prefix=f"{PREFIX}{moment}-", suffix=".log", dir=directory)
    with os.fdopen(fd, "w", encoding="utf-8", errors="backslashreplace") as file:
        file.write(text)
    return Path(name)
