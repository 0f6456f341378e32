"""Who runs an apply or makes a plan, on which branch and commit: recorded in the journal and the plan."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Callable, Mapping
from pathlib import Path

from reconciler.governance.model import GitContext

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
    return _git(directory, "rev-parse", "HEAD")


def git_context(directory: Path, environ: Mapping[str, str]) -> GitContext:
    """The git author, branch and commit a plan is made at: the CI's (GitHub Actions: the actor, the pull
    request's head branch or the ref) where it says, else the repository's HEAD; None where unknown."""
    author = environ.get("GITHUB_ACTOR", "").strip() or _git(directory, "log", "-1", "--format=%an")
    branch = (
        environ.get("GITHUB_HEAD_REF", "").strip()
        or environ.get("GITHUB_REF_NAME", "").strip()
        or _git(directory, "rev-parse", "--abbrev-ref", "HEAD")
    )
    return GitContext(author=author or None, branch=None if branch == "HEAD" else branch, commit=git_commit(directory))


def _git(directory: Path, *args: str) -> str | None:
    try:
        completed = subprocess.run(
            ["git", *args], cwd=directory, capture_output=True, text=True, timeout=10, check=False
        )
    except (OSError, subprocess.SubprocessError):
        return None
    output = completed.stdout.strip()
    return output if completed.returncode == 0 and output else None
