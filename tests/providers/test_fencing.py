"""Providers fence every attempt of an issuing call right before it leaves (throttle and token retries
included), never a read; a refused fence sends nothing, not even over a connection already open."""

from __future__ import annotations

import asyncio

import httpx
import pytest

from reconciler.apply.lock import LeaseLostError
from reconciler.config.secrets import Secret
from reconciler.providers.base import Batch, BatchResult, Outcome, Provider
from reconciler.providers.http import HttpSettings, build_client, fenced
from reconciler.providers.msads.wire import DISPATCH
from tests.support import msads_fakes as ms
from tests.support.vendor_contract import RecordingFence


def issue(provider: Provider, spec: object, batch: Batch, fence: RecordingFence) -> BatchResult:
    async def run() -> BatchResult:
        try:
            return await provider.issue(spec, batch, fence)  # type: ignore[arg-type]
        finally:
            await provider.aclose()

    return asyncio.run(run())


def dispatch(count: int) -> Batch:
    return Batch(ms.SCOPE, DISPATCH, tuple(ms.emails(count)))


class ExpiringToken:
    """A token the vendor rejects once as expired (109); the refreshed one works."""

    def __init__(self) -> None:
        self.token = Secret("old-token")

    async def access_token(self) -> Secret:
        return self.token

    async def refresh_after_rejection(self, rejected: Secret) -> Secret | None:
        self.token = Secret("new-token")
        return self.token

    def secrets(self) -> tuple[Secret, ...]:
        return (self.token,)


def test_msads_fences_the_retry_after_a_token_refresh_too() -> None:
    script = ms.Script(ms.fault("AdApiFaultDetail", 109, 401), ms.reply({"PartialErrors": []}))
    fence = RecordingFence(lambda: len(script.requests))
    result = issue(ms.make_provider(script, tokens=ExpiringToken()), ms.SPEC, dispatch(1), fence)
    assert [r.outcome for r in result.results] == [Outcome.ISSUED]
    assert fence.calls == [0, 1]


def test_msads_reads_are_never_fenced() -> None:
    pages = ms.SearchPages([ms.coupon("C1", email="a@example.com")])
    provider = ms.make_provider(pages)

    async def run() -> None:
        try:
            await provider.read_scope(ms.SPEC)
        finally:
            await provider.aclose()

    asyncio.run(run())  # read_scope takes no fence at all: a read never waits on the lease
    assert len(pages.requests) == 1


class Server:
    """A loopback HTTP server that records the bytes it receives and answers 200."""

    def __init__(self) -> None:
        self.received = b""
        self.connections = 0

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        try:
            data = await asyncio.wait_for(reader.read(65536), timeout=2)
        except TimeoutError:
            data = b""
        self.received += data
        if data:
            writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Type: application/json\r\n\r\n{}")
            await writer.drain()
        writer.close()


class LateFence:
    """Proven when awaited before the request; refused at the last moment, once the connection is open."""

    def __init__(self, refuse: bool) -> None:
        self.refuse = refuse
        self.checks: list[str] = []

    async def __call__(self) -> None:
        self.checks.append("fence")

    async def still_fresh(self) -> None:
        self.checks.append("still_fresh")
        if self.refuse:
            raise LeaseLostError("lost while connecting")


@pytest.mark.parametrize("refuse", [False, True])
def test_the_fence_is_checked_again_after_connecting_and_a_refusal_sends_no_byte(refuse: bool) -> None:
    server = Server()
    fence = LateFence(refuse)

    async def run() -> httpx.Response | LeaseLostError:
        listening = await asyncio.start_server(server.handle, "127.0.0.1", 0)
        port = listening.sockets[0].getsockname()[1]
        client = build_client(base_url=f"http://127.0.0.1:{port}", user_agent="t", settings=HttpSettings())
        try:
            return await client.post("/issue", json={"x": 1}, extensions=fenced(fence))
        except LeaseLostError as exc:
            return exc
        finally:
            await client.aclose()
            await asyncio.sleep(0.05)
            listening.close()
            await listening.wait_closed()

    outcome = asyncio.run(run())
    assert fence.checks == ["still_fresh"]  # once, when the request's first byte was about to be written
    assert server.connections == 1
    if refuse:
        assert isinstance(outcome, LeaseLostError)
        assert server.received == b""  # connected, but not one byte of the request left
    else:
        assert isinstance(outcome, httpx.Response) and outcome.status_code == 200
        assert server.received.startswith(b"POST /issue")
