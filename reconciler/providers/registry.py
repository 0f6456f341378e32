"""The registry of vendors: provider type name -> descriptor, and what couponctl does with a provider block
through it (build the provider, say where it connects, give it its write credentials).

This is the one core place that names the built-in vendors (:data:`BUILT_IN`). :func:`register` adds another
(a plugin, a test). A provider block of a type no vendor has is a located problem (``providers.<name>.type``)
that names the registered types (:func:`vendor_of`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace

import httpx

from reconciler.config.model import ProviderConfig, SandboxConfig
from reconciler.providers.aliyun.descriptor import DESCRIPTOR as ALIYUN
from reconciler.providers.base import Provider
from reconciler.providers.descriptor import VendorDescriptor
from reconciler.providers.endpoints import Connection
from reconciler.providers.local import LOCAL
from reconciler.providers.msads.descriptor import DESCRIPTOR as MSADS
from reconciler.providers.options import config_error

BUILT_IN: tuple[VendorDescriptor, ...] = (MSADS, ALIYUN)
_VENDORS: dict[str, VendorDescriptor] = {descriptor.type: descriptor for descriptor in BUILT_IN}


def register(descriptor: VendorDescriptor) -> None:
    """Add a vendor; its type name must be new."""
    if descriptor.type in _VENDORS:
        raise ValueError(f"provider type {descriptor.type!r} is already registered")
    _VENDORS[descriptor.type] = descriptor


def unregister(type_name: str) -> None:
    """Remove a vendor :func:`register` added (the built-in ones stay)."""
    if any(d.type == type_name for d in BUILT_IN):
        raise ValueError(f"provider type {type_name!r} is built in")
    _VENDORS.pop(type_name, None)


def vendors() -> tuple[VendorDescriptor, ...]:
    """Every registered vendor, the built-in ones first, in registration order."""
    return tuple(_VENDORS.values())


def find(type_name: object) -> VendorDescriptor | None:
    """The vendor of ``type_name``, or None when no vendor of that type is registered."""
    return _VENDORS.get(type_name) if isinstance(type_name, str) else None


def unknown_type(type_name: object) -> str:
    """The message for a provider type no vendor has."""
    return f"unknown provider type {type_name!r} (expected one of: {', '.join(_VENDORS)})"


def vendor(type_name: str) -> VendorDescriptor:
    """The vendor of ``type_name``; KeyError (with :func:`unknown_type`'s message) when there is none."""
    descriptor = find(type_name)
    if descriptor is None:
        raise KeyError(unknown_type(type_name))
    return descriptor


def vendor_of(config: ProviderConfig) -> VendorDescriptor:
    """The vendor of a provider block; an unknown type is a ConfigError at ``providers.<name>.type``."""
    descriptor = find(config.type)
    if descriptor is None:
        raise config_error(config, "type", unknown_type(config.type))
    return descriptor


def void_statuses() -> dict[str, frozenset[str]]:
    """Per provider type, the coupon statuses that mean "held, but worth nothing any more"."""
    return {d.type: d.void_statuses for d in _VENDORS.values()}


def build_provider(
    config: ProviderConfig,
    sandbox: SandboxConfig,
    environ: Mapping[str, str],
    *,
    transport: httpx.AsyncBaseTransport | None = None,
    write: bool = False,
) -> Provider:
    """The provider ``config`` describes. ``transport`` replaces the network (tests).

    With ``write`` (apply) the ``write:`` credentials replace the read ones; read-only commands never look
    at them, so their environment variables need not even be set there.
    """
    descriptor = vendor_of(config)
    config = for_writing(config) if write else config
    return descriptor.build(config, sandbox, environ, transport)


def for_writing(config: ProviderConfig) -> ProviderConfig:
    """The provider with its write credentials; outside environment ``local`` they must be configured."""
    descriptor = vendor_of(config)
    if not config.write_credentials and config.environment != LOCAL:
        hints = "; ".join(f"{d.type}: {d.credentials.write_hint}" for d in _VENDORS.values())
        raise config_error(
            config,
            "write",
            f"apply needs write credentials: add a write: block with the credentials that may issue ({hints}), "
            "as ${env:NAME}; plan, drift and export use only the read ones",
        )
    identity = descriptor.credentials.identity
    if config.environment != LOCAL and identity and not any(key in config.write_credentials for key in identity):
        raise config_error(
            config,
            "write",
            f"the write: block names no credential that says who issues ({' or '.join(identity)}): apply would "
            "issue as the read identity",
        )
    credentials = descriptor.credentials.for_writing(config.credentials, config.write_credentials)
    return replace(config, credentials=credentials)


def connections(config: ProviderConfig) -> tuple[Connection, ...]:
    """Where the provider of ``config`` connects (reconciler.providers.endpoints): each URL it sends credentials
    to, as the plan shows it."""
    return vendor_of(config).connections(config)
