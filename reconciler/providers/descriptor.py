"""What couponctl knows of one vendor, in one value: a :class:`VendorDescriptor`.

A vendor is one package (``reconciler/providers/<type>/``) with one descriptor; the registry
(:mod:`reconciler.providers.registry`) maps each type name of couponctl.yaml to its descriptor. Nothing outside a
vendor's package knows anything of it but what its descriptor says: its configuration keys and credential rules,
its manifest dialect and schema fragments, its void statuses, the words export writes, its hosts and environments,
how its provider is built and how the embedded sandbox stands in for it in environment ``local``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import httpx

from reconciler.config.model import ProviderConfig, SandboxConfig
from reconciler.config.secrets import SecretRef
from reconciler.errors import Problem
from reconciler.manifest.dialect import ManifestDialect
from reconciler.manifest.export_words import ExportWords
from reconciler.manifest.loader import Document, NodePath
from reconciler.providers.base import Provider
from reconciler.providers.endpoints import Connection, api_connections
from reconciler.providers.local import LocalSandbox

ProviderFactory = Callable[
    [ProviderConfig, SandboxConfig, Mapping[str, str], httpx.AsyncBaseTransport | None], Provider
]
"""Builds the provider of a ProviderConfig (its write credentials already in place when it may issue), with the
sandbox settings, the environment its ``${env:NAME}`` references resolve in, and a transport that replaces the
network (tests; None otherwise). Raises ConfigError with every problem of the block."""

CredentialCheck = Callable[[Document, NodePath, Mapping[str, Any], str], list[Problem]]
"""The offline check of a provider block outside environment local: what it must name, given the document, the
block's path, the block and its environment. Problems only; never raises."""


def overlay(read: Mapping[str, SecretRef], write: Mapping[str, SecretRef]) -> dict[str, SecretRef]:
    """The write credentials replace the read ones key by key; the rest are shared."""
    return {**read, **write}


def required(*keys: str) -> CredentialCheck:
    """A check that each of ``keys`` is named."""

    def check(document: Document, path: NodePath, block: Mapping[str, Any], environment: str) -> list[Problem]:
        message = f"is required for environment {environment}"
        return [document.problem((*path, key), message) for key in keys if key not in block]

    return check


@dataclass(frozen=True, eq=False)
class Credentials:
    """A vendor's credential keys (flat: ``oauth.clientId``), the same in the ``write:`` block; ``check``, what a
    block must name outside environment local; ``write_hint``, which write credentials may issue (said when apply
    has none); ``for_writing``, how a write identity replaces the read one; ``identity``, the keys that say who
    issues, of which a write block outside environment local must name one (else apply would issue as the
    reader)."""

    keys: tuple[str, ...]
    check: CredentialCheck
    write_hint: str
    for_writing: Callable[[Mapping[str, SecretRef], Mapping[str, SecretRef]], dict[str, SecretRef]] = overlay
    identity: tuple[str, ...] = ()  # a write block names at least one of these: who issues, never the reader


@dataclass(frozen=True, eq=False)
class VendorDescriptor:
    """One vendor. ``type`` is its name in couponctl.yaml, ``title`` what it is (for the schema's description).

    ``environments`` maps an environment (production, sandbox) to its base URL, ``documented_hosts`` are the
    only hosts it sends credentials to over https unflagged, and ``connections`` says where a provider block
    connects (by default its ``endpoint`` or its environment's base URL; environment local: in-process).
    ``config_schema`` holds the ``$defs`` it adds to config.schema.json, among them ``<type>Provider``;
    ``digit_options`` are the options written as numeric ids (kept as digits). ``void_statuses`` are the coupon
    statuses (case-insensitive) that mean "held, but worth nothing any more" (drift). ``local`` is how the
    embedded sandbox stands in for it in environment local (None: it has no sandbox).
    """

    type: str
    title: str
    build: ProviderFactory
    credentials: Credentials
    manifest: ManifestDialect
    export: ExportWords
    config_schema: Mapping[str, Any]
    environments: Mapping[str, str] = field(default_factory=dict)
    documented_hosts: frozenset[str] = frozenset()
    void_statuses: frozenset[str] = frozenset()
    digit_options: frozenset[str] = frozenset()
    local: LocalSandbox | None = None
    connect: Callable[[ProviderConfig], tuple[Connection, ...]] | None = None

    def connections(self, config: ProviderConfig) -> tuple[Connection, ...]:
        """Where the provider of ``config`` connects, each URL it sends credentials to."""
        if self.connect is not None:
            return self.connect(config)
        return api_connections(config, self.environments, self.documented_hosts)
