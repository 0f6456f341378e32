"""A wall clock skewed per process: couponctl run under libfaketime (Debian's ``faketime`` package), its monotonic
clock left alone, as a runner whose clock is wrong would be."""

from __future__ import annotations

import glob
import os
import subprocess
import sys
from functools import cache

import pytest

CANDIDATES = (
    "/usr/lib/*/faketime/libfaketime.so.1",
    "/usr/lib/faketime/libfaketime.so.1",
    "/usr/local/lib/faketime/libfaketime.so.1",
)


@cache
def faketime_library() -> str | None:
    """The libfaketime that skews a process's clock, if it is installed and works on this Python."""
    given = os.environ.get("COUPONCTL_TEST_FAKETIME_LIB")
    found = [given] if given else [path for pattern in CANDIDATES for path in sorted(glob.glob(pattern))]
    for library in found:
        env = {**os.environ, **_variables(library, 86400)}
        probe = subprocess.run(
            [sys.executable, "-c", "import time; print(time.time())"], env=env, capture_output=True, text=True
        )
        now = subprocess.run([sys.executable, "-c", "import time; print(time.time())"], capture_output=True, text=True)
        try:
            if 86000 < float(probe.stdout) - float(now.stdout) < 86800:
                return library
        except ValueError:
            continue
    return None


def _variables(library: str, seconds: int) -> dict[str, str]:
    return {
        "LD_PRELOAD": library,
        "FAKETIME": f"{seconds:+d}s",
        "DONT_FAKE_MONOTONIC": "1",  # a runner whose wall clock is wrong still measures durations right
        "FAKETIME_DONT_FAKE_MONOTONIC": "1",
    }


def skewed(seconds: int) -> dict[str, str]:
    """Environment variables that run a process with its wall clock ``seconds`` ahead (behind if negative).

    Without libfaketime the test is skipped with the reason, except under CI=true, where it fails: CI installs it
    (.ci/run)."""
    library = faketime_library()
    if library is None:
        message = "libfaketime is not installed or does not skew Python's clock here (apt-get install faketime)"
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)
    return _variables(library, seconds)
