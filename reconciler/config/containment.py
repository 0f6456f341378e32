"""Every file a project names lies inside the project: a pull request that edits couponctl.yaml or a manifest must
not make couponctl read (and echo into a CI log) ``/proc/self/environ``, ``../.git/config`` or a symlink to them.

A path a project names is relative, resolves inside the project root once symlinks are followed, and, where it
exists, is a regular file or a directory (never a FIFO, a device or a socket). The problem never shows content.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path


def outside_reason(root: Path, given: str | Path, *, base: Path | None = None) -> str | None:
    """Why the path ``given`` (relative to ``base``, default ``root``) is not a project file, or None when it is."""
    text = str(given)
    if os.path.isabs(text) or text.startswith("~"):
        return "an absolute path: a project names its files relative to itself"
    real_root = root.resolve()
    candidate = Path(os.path.normpath((base or root) / text))
    try:
        resolved = candidate.resolve()
    except (OSError, RuntimeError):  # a symlink loop
        return "cannot be resolved (a symlink loop?)"
    if not resolved.is_relative_to(real_root):
        how = "a symlink" if candidate.is_symlink() or _has_symlink(root, candidate) else "'..'"
        return f"leads outside the project root {real_root} (through {how}): refused"
    return _special(resolved)


def _has_symlink(root: Path, candidate: Path) -> bool:
    current = candidate
    while current != current.parent and current != root:
        if current.is_symlink():
            return True
        current = current.parent
    return False


def _special(path: Path) -> str | None:
    try:
        mode = path.stat().st_mode
    except (FileNotFoundError, NotADirectoryError):
        return None  # missing: the caller says so in its own words
    except OSError as exc:  # a name too long, a permission: said here, never a traceback later
        return f"cannot be used: {exc.strerror or type(exc).__name__}"
    if stat.S_ISREG(mode) or stat.S_ISDIR(mode):
        return None
    return "is not a regular file (a FIFO, a device or a socket): refused"


def escapes(root: Path, path: Path) -> str | None:
    """Why ``path`` (absolute, as a directory walk or a glob found it) is not a project file, or None."""
    try:
        resolved = path.resolve()
    except (OSError, RuntimeError):
        return "cannot be resolved (a symlink loop?)"
    if not resolved.is_relative_to(root.resolve()):
        return f"leads outside the project root {root.resolve()} (through a symlink): refused"
    return _special(resolved)
