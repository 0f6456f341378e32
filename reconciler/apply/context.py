"""Who runs an apply and on which commit: recorded in the journal."""

from __future__ import annotations

import subprocess
from collections.abc import Mapping
from pathlib import Path


def ci_actor(environ: Mapping[str, str]) -> str | None:
    """The actor from a CI environment (GitHub Actions, GitLab CI), else the local user."""
    for name in ("GITHUB_ACTOR", "GITLAB_USER_LOGIN", "BUILDKITE_BUILD_CREATOR", "USER", "USERNAME"):
        if environ.get(name):
            return environ[name]
    return None


def git_commit(directory: Path) -> str | None:
    """The HEAD commit of the repository holding ``directory``, or None outside one."""
    try:
        completed = subprocess.run(
            ["git", "rev-parse", "HEAD"],
            cwd=directory,
            capture_output=True,
            text=True,
            timeout=10,
            check=False,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    commit = completed.stdout.strip()
    return commit if completed.returncode == 0 and commit else None
