"""Which files are manifests: files, directories (recursively) and glob patterns, relative to the root."""

from __future__ import annotations

import glob
import os
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from reconciler.config.containment import escapes, outside_reason
from reconciler.errors import Problem

MANIFEST_SUFFIXES = (".yaml", ".yml")
"""Manifest files in a directory end with one of these, in any case (``*.YAML`` too)."""
_GLOB_CHARS = frozenset("*?[")


@dataclass(frozen=True, order=True)
class SourceFile:
    """A file to read: ``display`` is its path relative to the root (POSIX), else absolute."""

    display: str
    path: Path


def display_path(path: Path, root: Path) -> str:
    """``path`` relative to ``root`` in POSIX form when it lies under it, else as given."""
    try:
        return path.relative_to(root).as_posix()
    except ValueError:
        return path.as_posix()


def normalized(root: Path, entry: str | Path) -> Path:
    """``entry`` joined to ``root`` with ``..`` and ``.`` resolved lexically (symlinks are kept)."""
    return Path(os.path.normpath(root / entry))


def find_manifests(root: Path, entries: Sequence[str | Path]) -> tuple[list[SourceFile], list[Problem]]:
    """The manifest files ``entries`` name, sorted and without repeats, and a problem per entry that
    names nothing: a missing path, or a glob that matches no file. Directories are searched
    recursively for *.yaml and *.yml, skipping names that start with a dot; files named directly or
    matched by a glob are read whatever their suffix. Every file lies inside ``root`` once symlinks are
    followed and is a regular file (reconciler.config.containment): anything else is a problem, never read."""
    found: set[Path] = set()
    problems: list[Problem] = []
    for entry in entries:
        if not _GLOB_CHARS.intersection(str(entry)):
            # Absolute: a command-line path (made absolute from where couponctl runs); it must still lie inside.
            absolute = Path(entry).is_absolute()
            refused = escapes(root, Path(entry)) if absolute else outside_reason(root, entry)
            if refused is not None:
                shown = display_path(Path(entry), root) if absolute else str(entry)
                problems.append(Problem(shown, 0, 0, "", refused))
                continue
        text = str(entry)
        if _GLOB_CHARS.intersection(text):
            matches = [normalized(root, m) for m in glob.glob(text, root_dir=root, recursive=True)]
            files = [f for m in matches for f in _expand(m)]
            if not files:
                problems.append(Problem(text, 0, 0, "", "the pattern matches no manifest file"))
        else:
            path = normalized(root, entry)
            files = list(_expand(path))
            shown = display_path(path, root) if Path(text).is_absolute() else text
            if not path.exists():
                problems.append(Problem(shown, 0, 0, "", "no such file or directory"))
            elif path.is_dir() and not files:
                problems.append(
                    Problem(shown, 0, 0, "", "holds no manifest file (*.yaml or *.yml, searched recursively)")
                )
        for file in files:
            refused = escapes(root, file)
            if refused is None:
                found.add(file)
            else:
                problems.append(Problem(display_path(file, root), 0, 0, "", refused))
    return sorted(SourceFile(display_path(p, root), p) for p in found), problems


def is_manifest_name(name: str) -> bool:
    """A file a directory search reads: a YAML suffix in any case, not hidden."""
    return name.lower().endswith(MANIFEST_SUFFIXES) and not name.startswith(".")


def _expand(path: Path) -> Iterator[Path]:
    if not path.is_dir():
        if path.is_file():
            yield path
        return
    for directory, dirnames, filenames in os.walk(path):
        dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
        for name in sorted(filenames):
            if is_manifest_name(name):
                yield Path(directory, name)
