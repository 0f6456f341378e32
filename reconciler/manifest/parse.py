"""A typed view of one manifest document, read tolerantly.

The schema reports what is malformed; this reads whatever is well-formed, so that the semantic checks
run over the rest of the document too and every problem is reported at once. A value of the wrong type
is simply absent here. What a ``spec`` holds beyond ``provider`` and ``expect`` is its provider type's dialect
(reconciler.manifest.dialect).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from reconciler.manifest.dialect import SPEC, ManifestDialect, Setting, get, positive
from reconciler.manifest.loader import Document
from reconciler.state.desired import Scope


@dataclass(frozen=True)
class Manifest:
    """What one document declares, as far as it is well-formed; ``dialect`` is its provider type's (None when
    the provider is unknown)."""

    document: Document
    name: str | None
    provider: str | None
    provider_type: str | None
    scope: Scope | None
    settings: Mapping[str, Setting]
    dialect: ManifestDialect | None = None

    @property
    def spec(self) -> Mapping[str, object]:
        return _mapping(get(self.document.data, "spec"))


def parse_manifest(
    document: Document, provider_types: Mapping[str, str], dialects: Mapping[str, ManifestDialect]
) -> Manifest:
    """Read ``document``; ``provider_types`` maps provider names of couponctl.yaml to their type, ``dialects`` each
    type to its dialect."""
    name = get(document.data, "metadata", "name")
    spec = _mapping(get(document.data, "spec"))
    provider = spec.get("provider")
    provider = provider if isinstance(provider, str) else None
    provider_type = provider_types.get(provider) if provider else None
    dialect = dialects.get(provider_type) if provider_type else None
    scope = dialect.scope(spec) if provider and dialect else None
    return Manifest(
        document,
        name if isinstance(name, str) else None,
        provider,
        provider_type,
        Scope(provider, *scope) if provider and scope else None,
        {**dialect.settings(spec), **_expect(spec)} if dialect else _expect(spec),
        dialect,
    )


def _expect(spec: Mapping[str, object]) -> dict[str, Setting]:
    """``expect.amount`` and ``expect.currency``, which every provider type reads alike."""
    settings: dict[str, Setting] = {}
    amount = positive(get(spec, "expect", "amount"))
    if amount is not None:
        settings["expect.amount"] = Setting(amount, (*SPEC, "expect", "amount"))
    currency = get(spec, "expect", "currency")
    if isinstance(currency, str):
        settings["expect.currency"] = Setting(currency, (*SPEC, "expect", "currency"))
    return settings


def _mapping(value: object) -> Mapping[str, object]:
    return value if isinstance(value, dict) else {}
