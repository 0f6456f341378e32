"""Semantic checks: what the schema cannot say. Each returns problems; none raises."""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence

from reconciler.errors import Problem
from reconciler.manifest.parse import Manifest
from reconciler.state.desired import DesiredItem, Position, Scope

# A practical address syntax: dot-atom local part, and a domain of at least two DNS labels.
_ATOM = r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+"
_LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
_EMAIL = re.compile(rf"(?:{_ATOM}(?:\.{_ATOM})*)@(?:{_LABEL}(?:\.{_LABEL})+)")
MAX_EMAIL_LENGTH = 254
MAX_LOCAL_PART_LENGTH = 64


def email_error(address: str, *, reveal: bool = True) -> str | None:
    """Why ``address`` is not a usable email address, or None when it is. With ``reveal`` False (a line of a list
    file, which may be anything, a secret included) the address is shown only as a masked preview."""
    if not address:
        return "the email address is empty"
    if len(address) > MAX_EMAIL_LENGTH or address.find("@") > MAX_LOCAL_PART_LENGTH or not _EMAIL.fullmatch(address):
        return f"invalid email address {address!r}" if reveal else f"invalid email address {masked_preview(address)}"
    return None


def masked_preview(text: str) -> str:
    """Enough to find the line, nothing to read: its first character (when a letter or digit) and its length."""
    first = text[0] if text[:1].isascii() and text[:1].isalnum() else "?"
    return f"'{first}***' ({len(text)} characters)"


def check_provider(manifest: Manifest, providers: Iterable[str]) -> list[Problem]:
    """The provider a manifest names must be one of couponctl.yaml."""
    if manifest.provider is None or manifest.provider_type is not None:
        return []
    known = ", ".join(sorted(providers)) or "none"
    message = f"unknown provider {manifest.provider!r} (couponctl.yaml names: {known})"
    return [manifest.document.problem(("spec", "provider"), message)]


def check_names(manifests: Sequence[Manifest]) -> list[Problem]:
    """Manifest names are unique: a later duplicate names where the first is."""
    first: dict[str, Manifest] = {}
    problems = []
    for manifest in manifests:
        if manifest.name is None:
            continue
        seen = first.setdefault(manifest.name, manifest)
        if seen is not manifest:
            first_at = where(seen, ("metadata", "name"))
            message = f"duplicate manifest name {manifest.name!r}: also at {first_at}"
            problems.append(manifest.document.problem(("metadata", "name"), message))
    return problems


def check_settings(manifests: Sequence[Manifest]) -> list[Problem]:
    """The manifests that declare one scope agree on featureId, sendNotification and expect (each of
    amount and currency); a manifest that leaves a setting out agrees with any value."""
    first: dict[tuple[Scope, str], Manifest] = {}
    problems = []
    for manifest in manifests:
        if manifest.scope is None:
            continue
        for key, setting in manifest.settings.items():
            seen = first.setdefault((manifest.scope, key), manifest)
            other = seen.settings[key]
            if seen is not manifest and other.value != setting.value:
                message = (
                    f"{_show(setting.value)} conflicts with {_show(other.value)} in manifest {seen.name!r} "
                    f"at {where(seen, other.path)} (scope {manifest.scope})"
                )
                problems.append(manifest.document.problem(setting.path, message))
    return problems


def duplicate_target(scope: Scope, first: DesiredItem, item: DesiredItem, field: str) -> Problem:
    """``item`` repeats a (scope, target) that ``first`` declared: say where both are."""
    at = item.position
    message = f"{item.target} is declared twice in scope {scope}: first at {first.position} (manifest {first.manifest})"
    return Problem(at.file, at.line, at.column, field, message)


def _show(value: object) -> str:
    if isinstance(value, bool):
        return str(value).lower()
    return str(value)


def where(manifest: Manifest, path: tuple[str | int, ...]) -> str:
    """``file:line:col`` of the node at ``path`` in ``manifest``."""
    line, column = manifest.document.at(path)
    return str(Position(manifest.document.file, line, column))
