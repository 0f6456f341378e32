"""Who runs an apply and on which commit: recorded in the journal."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Callable, Mapping
from pathlib import Path

#: Who started the job, in CI systems: preferred to the runner's own user ("runner", "root").
CI_ACTOR_VARIABLES = ("GITHUB_ACTOR", "GITLAB_USER_LOGIN", "BUILDKITE_BUILD_CREATOR")
#: The local login, as shells set it.
USER_VARIABLES = ("USER", "USERNAME", "LOGNAME")


def uid_name() -> str | None:
    """The name of the process's uid in the user database, or None (a uid without an entry, or no pwd)."""
    try:
        import pwd

        return pwd.getpwuid(os.getuid()).pw_name or None
    except (ImportError, KeyError, AttributeError):  # Windows has no pwd; containers may run an unnamed uid
        return None


def ci_actor(environ: Mapping[str, str], *, user_name: Callable[[], str | None] = uid_name) -> str:
    """Who acts: the CI's actor (GitHub Actions, GitLab CI, Buildkite), else the local user from the
    environment, else the name of the process's uid, else the uid itself. Never blank: containers often
    set no USER."""
    for name in (*CI_ACTOR_VARIABLES, *USER_VARIABLES):
        value = environ.get(name, "").strip()
        if value:
            return value
    found = user_name()
    if found:
        return found
    getuid = getattr(os, "getuid", None)
    return f"uid {getuid()}" if getuid is not None else "unknown"


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
