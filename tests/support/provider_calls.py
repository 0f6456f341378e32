"""A provider's calls made from a synchronous test: each in its own event loop, the provider closed after it,
whatever the call did."""

from __future__ import annotations

import asyncio

from reconciler.providers.base import NO_FENCE, Batch, BatchResult, Fence, Provider
from reconciler.state.desired import ScopeSpec
from reconciler.state.live import ScopeLive


def read_scope_once(provider: Provider, spec: ScopeSpec) -> ScopeLive:
    """``provider.read_scope(spec)``, then ``provider.aclose()`` (also when the read raises)."""

    async def run() -> ScopeLive:
        try:
            return await provider.read_scope(spec)
        finally:
            await provider.aclose()

    return asyncio.run(run())


def issue_once(provider: Provider, spec: ScopeSpec, batch: Batch, fence: Fence = NO_FENCE) -> BatchResult:
    """``provider.issue(spec, batch, fence)``, then ``provider.aclose()`` (also when the call raises)."""

    async def run() -> BatchResult:
        try:
            return await provider.issue(spec, batch, fence)
        finally:
            await provider.aclose()

    return asyncio.run(run())
