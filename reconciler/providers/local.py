"""Environment ``local``: the embedded sandbox answers for the vendor, in the process, with no network.

The one place outside the simulator's own command line that loads the simulator, and only when it is needed: when
a provider of environment ``local`` is built, or the ``sandbox.faults`` of couponctl.yaml are checked. The
production wiring never imports it.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

import httpx

from reconciler.config.model import ProviderConfig, SandboxConfig
from reconciler.errors import InputError

LOCAL = "local"
LOCAL_BASE_URL = "http://sandbox.local"


def in_process(config: ProviderConfig) -> bool:
    """Whether the provider of ``config`` talks to the embedded sandbox: environment local, no endpoint given."""
    return config.environment == LOCAL and config.endpoint is None


def embedded_transport(sandbox: SandboxConfig) -> httpx.AsyncBaseTransport:
    """The embedded sandbox (environment ``local``), with the faults couponctl.yaml asks for."""
    from reconciler.sandbox.embedded import embedded_transport as transport
    from reconciler.sandbox.faults import FaultPlan

    faults = FaultPlan.parse(sandbox.faults, seed=sandbox.fault_seed) if sandbox.faults else None
    return transport(sandbox.database, sandbox.seed, faults=faults)


def fault_spec_problems(spec: str) -> list[str]:
    """Why ``spec`` is not a valid ``sandbox.faults`` entry (ENDPOINT:KIND=VALUE); empty when it is."""
    from reconciler.sandbox.faults import parse_fault_spec

    try:
        parse_fault_spec(spec)
    except InputError as exc:
        return [p.message for p in exc.problems]
    return []


@dataclass(frozen=True, eq=False)
class LocalSandbox:
    """How the embedded sandbox stands in for one vendor in environment ``local``: ``credentials`` reads the ones
    the sandbox store was seeded with (used when couponctl.yaml configures none), ``transport`` answers the
    provider's requests in the process."""

    credentials: Callable[[SandboxConfig], Mapping[str, str]]
    transport: Callable[[SandboxConfig], httpx.AsyncBaseTransport] = embedded_transport

    def wire(
        self, config: ProviderConfig, sandbox: SandboxConfig, transport: httpx.AsyncBaseTransport | None
    ) -> httpx.AsyncBaseTransport | None:
        """``transport`` when given (tests); the embedded sandbox when the provider is in-process; else None (the
        network)."""
        if transport is None and in_process(config):
            return self.transport(sandbox)
        return transport
