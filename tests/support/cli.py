"""Running couponctl from a test: in-process through click's runner, or as the installed command in a process."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from click.testing import CliRunner, Result

from reconciler.cli.main import main

COUPONCTL = [sys.executable, "-m", "reconciler"]


def run(project: Path, *args: str, stdin: str | None = None, env: dict[str, str] | None = None) -> Result:
    """couponctl in-process, in ``project``, without colour."""
    return CliRunner().invoke(main, ["-C", str(project), "--no-color", *args], input=stdin, env=env)


def couponctl(
    project: Path, *args: str, timeout: float = 120, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*COUPONCTL, "-C", str(project), "--no-color", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
        env={**os.environ, **(env or {})},
    )
