"""A vendor's manifest dialect: which ``spec`` keys name the scope, which declare targets and per-scope settings,
the JSON Schema of its ``spec``, and the offline checks only it needs. Each vendor's descriptor holds one; the
loader (reconciler.manifest.build) reads every manifest through the dialect of its provider's type.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from reconciler.errors import Problem
from reconciler.manifest.loader import NodePath
from reconciler.state.desired import TargetKind

if TYPE_CHECKING:
    from reconciler.manifest.parse import Manifest

INT32_MAX = 2_147_483_647
SPEC: NodePath = ("spec",)
_DIGITS = re.compile(r"[0-9]+")


@dataclass(frozen=True, slots=True)
class Setting:
    """A per-scope setting a manifest gives explicitly, and where. Keyed by the ScopeSpec field it sets
    (``feature_id``, ``send_notification``) or ``expect.amount`` / ``expect.currency``."""

    value: object
    path: NodePath


@dataclass(frozen=True, slots=True)
class Declared:
    """One target a manifest declares, at ``path``: an account id or uid as digits, or an email address as
    written (the loader checks it); ``amount`` when the dialect gives each target its own."""

    path: NodePath
    kind: TargetKind
    value: str
    amount: Decimal | None = None


Spec = Mapping[str, object]


def _no_files(spec: Spec) -> Iterator[tuple[NodePath, str]]:
    return iter(())


def _no_settings(spec: Spec) -> dict[str, Setting]:
    return {}


def _no_checks(manifests: Sequence[Manifest]) -> list[Problem]:
    return []


def _no_advisories(spec: Spec) -> Iterator[tuple[NodePath, str, str]]:
    return iter(())


@dataclass(frozen=True, eq=False)
class ManifestDialect:
    """How manifests of one provider type are written.

    ``schema`` holds the ``$defs`` the dialect adds to the manifest schema, among them ``<type>Spec``, the schema
    of its ``spec``; ``markers`` are spec keys only this dialect has, by which the published schema tells it apart
    for editors (one dialect may have none: the default). ``scope`` reads (owner, class) as digits or a name;
    ``targets`` the targets in declaration order, ``email_files`` the files of email addresses it names (relative to
    the manifest), ``settings`` its per-scope settings; ``checks`` runs over every manifest of the project and
    reports what only this dialect forbids (each check looks at its own type's manifests only); ``advisories``
    what a spec's values may break of the vendor's documented rules where the docs leave open whether the rule
    applies, as (path, code, message): warnings, never errors.
    """

    schema: Mapping[str, Any]
    target_kinds: tuple[TargetKind, ...]
    scope: Callable[[Spec], tuple[str, str] | None]
    targets: Callable[[Spec], Iterator[Declared]]
    markers: tuple[str, ...] = ()
    email_files: Callable[[Spec], Iterator[tuple[NodePath, str]]] = _no_files
    settings: Callable[[Spec], dict[str, Setting]] = _no_settings
    checks: Callable[[Sequence[Manifest]], list[Problem]] = _no_checks
    advisories: Callable[[Spec], Iterator[tuple[NodePath, str, str]]] = _no_advisories


# --- helpers for reading a spec tolerantly (a value of the wrong type is simply absent) -------------------------


def digits(value: object) -> str | None:
    """A non-negative integer or a digit string, as digits without leading zeros; else None."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int) and value >= 0:
        return str(value)
    if isinstance(value, str) and _DIGITS.fullmatch(value):
        return str(int(value))
    return None


def positive(value: object) -> Decimal | None:
    """A positive finite amount; else None."""
    if isinstance(value, bool) or not isinstance(value, int | Decimal):
        return None
    amount = Decimal(value)
    return amount if amount.is_finite() and amount > 0 else None


def get(data: object, *keys: str | int) -> object:
    """``data[k1][k2]...`` through mappings, or None."""
    for key in keys:
        if not isinstance(data, dict):
            return None
        data = data.get(str(key))
    return data


def items(spec: Spec, path: NodePath) -> Iterator[tuple[int, object]]:
    """The entries of the list at ``path`` in ``spec``, with their indexes; none when it is not a list."""
    value = get(spec, *path)
    return enumerate(value) if isinstance(value, list) else iter(())
