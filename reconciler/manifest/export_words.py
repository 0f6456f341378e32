"""What a vendor's exported manifests say: the words of their header and the spec keys they write. Each vendor's
descriptor holds one :class:`ExportWords`; the writer is reconciler.manifest.export."""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from decimal import Decimal


@dataclass(frozen=True, slots=True)
class ExportedTargets:
    """The targets of one exported manifest, sorted: account ids, emails (in ``emails_file`` instead when it is
    set: a CSV beside the manifest) and (uid, amount) pairs."""

    accounts: Sequence[int]
    emails: Sequence[str]
    emails_file: str | None
    sends: Sequence[tuple[int, Decimal]]


def _no_notes(targets: ExportedTargets) -> list[str]:
    return []


@dataclass(frozen=True, eq=False)
class ExportWords:
    """``owner`` and ``klass`` name the scope's owner and class in the header (``customer``, ``class``);
    ``owner_key`` and ``class_key`` are the spec keys that hold them; a manifest is named ``name_prefix`` + the
    class, as a DNS label. ``targets`` writes the spec lines that declare the targets (YAML, two-space indented
    under ``spec:``); ``notes`` adds header comment lines (each starting with ``# ``)."""

    owner: str
    klass: str
    owner_key: str
    class_key: str
    targets: Callable[[ExportedTargets], list[str]]
    name_prefix: str = ""
    notes: Callable[[ExportedTargets], list[str]] = _no_notes


def quote(text: str) -> str:
    """A YAML double-quoted scalar (JSON's escaping is valid YAML): never read as a number, a bool or null."""
    return json.dumps(text, ensure_ascii=True)
