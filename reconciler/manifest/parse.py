"""A typed view of one manifest document, read tolerantly.

The schema reports what is malformed; this reads whatever is well-formed, so that the semantic checks
run over the rest of the document too and every problem is reported at once. A value of the wrong type
is simply absent here.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from decimal import Decimal

from reconciler.manifest.loader import Document, NodePath
from reconciler.manifest.model import Scope

INT32_MAX = 2_147_483_647
_DIGITS = re.compile(r"[0-9]+")
_SPEC = ("spec",)


@dataclass(frozen=True)
class Setting:
    """A per-scope setting a manifest gives explicitly (featureId, sendNotification, expect.amount,
    expect.currency), and where."""

    value: object
    path: NodePath


@dataclass(frozen=True)
class Manifest:
    """What one document declares, as far as it is well-formed."""

    document: Document
    name: str | None
    provider: str | None
    provider_type: str | None
    scope: Scope | None
    settings: Mapping[str, Setting]

    @property
    def spec(self) -> Mapping[str, object]:
        return _mapping(_get(self.document.data, "spec"))


def parse_manifest(document: Document, provider_types: Mapping[str, str]) -> Manifest:
    """Read ``document``; ``provider_types`` maps provider names of couponctl.yaml to their type."""
    name = _get(document.data, "metadata", "name")
    spec = _mapping(_get(document.data, "spec"))
    provider = spec.get("provider")
    provider = provider if isinstance(provider, str) else None
    provider_type = provider_types.get(provider) if provider else None
    return Manifest(
        document,
        name if isinstance(name, str) else None,
        provider,
        provider_type,
        _scope(provider, provider_type, spec),
        _settings(spec),
    )


def accounts(manifest: Manifest) -> Iterator[tuple[NodePath, int]]:
    """The well-formed account ids of ``spec.distribute.accounts``."""
    path = (*_SPEC, "distribute", "accounts")
    for index, value in _items(manifest.spec, path[1:]):
        if isinstance(value, int) and not isinstance(value, bool) and 1 <= value <= INT32_MAX:
            yield (*path, index), value


def emails(manifest: Manifest) -> Iterator[tuple[NodePath, str]]:
    """The strings of ``spec.dispatch.emails`` (syntax unchecked)."""
    path = (*_SPEC, "dispatch", "emails")
    for index, value in _items(manifest.spec, path[1:]):
        if isinstance(value, str):
            yield (*path, index), value


def email_files(manifest: Manifest) -> Iterator[tuple[NodePath, str]]:
    """The file names of ``spec.dispatch.emailsFrom`` (a string or a list of strings)."""
    path = (*_SPEC, "dispatch", "emailsFrom")
    value = _get(manifest.spec, *path[1:])
    if isinstance(value, str) and value:
        yield path, value
    elif isinstance(value, list):
        yield from (((*path, i), v) for i, v in enumerate(value) if isinstance(v, str) and v)


def sends(manifest: Manifest) -> Iterator[tuple[NodePath, str, Decimal]]:
    """The well-formed (uid, amount) entries of ``spec.send``, uids as digit strings."""
    path = (*_SPEC, "send")
    for index, entry in _items(manifest.spec, path[1:]):
        uid = digits(_get(entry, "uid"))
        amount = _positive(_get(entry, "amount"))
        if uid is not None and amount is not None:
            yield (*path, index, "uid"), uid, amount


def send_amounts(manifest: Manifest) -> Iterator[tuple[NodePath, Decimal]]:
    """The well-formed amounts of ``spec.send``, each with the path of its ``amount``."""
    path = (*_SPEC, "send")
    for index, entry in _items(manifest.spec, path[1:]):
        amount = _positive(_get(entry, "amount"))
        if amount is not None:
            yield (*path, index, "amount"), amount


def digits(value: object) -> str | None:
    """A non-negative integer or a digit string, as digits without leading zeros; else None."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int) and value >= 0:
        return str(value)
    if isinstance(value, str) and _DIGITS.fullmatch(value):
        return str(int(value))
    return None


def _scope(provider: str | None, provider_type: str | None, spec: Mapping[str, object]) -> Scope | None:
    if provider is None or provider_type is None:
        return None
    if provider_type == "aliyun":
        owner, coupon_class = digits(spec.get("sellerId")), digits(spec.get("templateId"))
    else:
        owner, klass = digits(spec.get("customerId")), spec.get("couponClass")
        coupon_class = klass if isinstance(klass, str) and klass else None
    if owner is None or coupon_class is None:
        return None
    return Scope(provider, owner, coupon_class)


def _settings(spec: Mapping[str, object]) -> dict[str, Setting]:
    settings: dict[str, Setting] = {}
    feature = _get(spec, "distribute", "featureId")
    if isinstance(feature, int) and not isinstance(feature, bool) and 0 <= feature <= INT32_MAX:
        settings["featureId"] = Setting(feature, (*_SPEC, "distribute", "featureId"))
    notify = _get(spec, "distribute", "sendNotification")
    if isinstance(notify, bool):
        settings["sendNotification"] = Setting(notify, (*_SPEC, "distribute", "sendNotification"))
    amount = _positive(_get(spec, "expect", "amount"))
    if amount is not None:
        settings["expect.amount"] = Setting(amount, (*_SPEC, "expect", "amount"))
    currency = _get(spec, "expect", "currency")
    if isinstance(currency, str):
        settings["expect.currency"] = Setting(currency, (*_SPEC, "expect", "currency"))
    return settings


def _positive(value: object) -> Decimal | None:
    if isinstance(value, bool) or not isinstance(value, int | Decimal):
        return None
    amount = Decimal(value)
    return amount if amount.is_finite() and amount > 0 else None


def _items(spec: Mapping[str, object], path: NodePath) -> Iterator[tuple[int, object]]:
    value = _get(spec, *path)
    return enumerate(value) if isinstance(value, list) else iter(())


def _get(data: object, *keys: str | int) -> object:
    for key in keys:
        if not isinstance(data, dict):
            return None
        data = data.get(str(key))
    return data


def _mapping(value: object) -> Mapping[str, object]:
    return value if isinstance(value, dict) else {}
