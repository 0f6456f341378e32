"""The lean transport reads every answer as httpx's own transport (httpcore, h11) reads it, so that an issuing call
gets the same verdict (an answer, NotSent or in doubt) through either; and a request is written only on a
connection nothing says is stale, and never twice."""

from __future__ import annotations

import asyncio
import contextlib
import select
import socket
import threading
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from reconciler.errors import OutcomeUnknownError
from reconciler.providers.http import transport_failure
from reconciler.providers.transport import LeanTransport


def ok(body: bytes) -> bytes:
    return b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n%b" % (len(body), body)


ANSWERS = {
    "content-length with an underscore": b"HTTP/1.1 200 OK\r\nContent-Length: 1_0\r\n\r\n0123456789",
    "content-length with a sign": b"HTTP/1.1 200 OK\r\nContent-Length: +2\r\n\r\nok",
    "content-length listed twice alike": b"HTTP/1.1 200 OK\r\nContent-Length: 2, 2\r\n\r\nok",
    "content-length listed twice unlike": b"HTTP/1.1 200 OK\r\nContent-Length: 2, 3\r\n\r\nok",
    "content-length cut short": b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nshort",
    "chunk size in 0x form": b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n0x2\r\nok\r\n0\r\n\r\n",
    "chunk size with a sign": b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n+2\r\nok\r\n0\r\n\r\n",
    "chunked with trailers": b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nok\r\n0\r\nA: b\r\n\r\n",
    "chunked cut mid-body": b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nok",
    "a transfer coding other than chunked": b"HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n"
    b"Content-Length: 2\r\n\r\nok",
    "a coding before chunked": b"HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n\r\n2\r\nok\r\n0\r\n\r\n",
    "chunked and a content-length": b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nContent-Length: 9\r\n\r\n"
    b"2\r\nok\r\n0\r\n\r\n",
    "a head over 100 KiB": b"HTTP/1.1 200 OK\r\nX-Big: " + b"a" * 200_000 + b"\r\nContent-Length: 2\r\n\r\nok",
    "a NUL in a header": b"HTTP/1.1 200 OK\r\nX-A: a\x00b\r\nContent-Length: 2\r\n\r\nok",
    "a space before a colon": b"HTTP/1.1 200 OK\r\nContent-Length : 2\r\n\r\nok",
    "an empty header value": b"HTTP/1.1 200 OK\r\nX-A:\r\nContent-Length: 2\r\n\r\nok",
    "HTTP/1.0 read to its end": b"HTTP/1.0 200 OK\r\n\r\nuntil the end",
    "Connection: close": b"HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 2\r\n\r\nok",
    "100-continue first": b"HTTP/1.1 100 Continue\r\n\r\n" + ok(b"ok"),
    "switching protocols": b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: x\r\n\r\n",
    "nothing at all": b"",
    "a bad gzip body": b"HTTP/1.1 200 OK\r\nContent-Encoding: gzip\r\nContent-Length: 2\r\n\r\nok",
}


async def _outcome(answer: bytes, transport: httpx.AsyncBaseTransport) -> tuple[Any, ...]:
    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readuntil(b"\r\n\r\n")
        await reader.readexactly(2)
        writer.write(answer)
        await writer.drain()
        writer.close()

    listening = await asyncio.start_server(handle, "127.0.0.1", 0)
    port = listening.sockets[0].getsockname()[1]
    try:
        async with httpx.AsyncClient(transport=transport, timeout=5.0) as client:
            try:
                response = await client.post(f"http://127.0.0.1:{port}/issue", content=b"{}")
            except httpx.HTTPError as exc:
                return (type(exc),)
            return (response.status_code, response.content)
    finally:
        listening.close()


@pytest.mark.parametrize("answer", ANSWERS.values(), ids=ANSWERS.keys())
def test_an_answer_reads_as_httpx_own_transport_reads_it(answer: bytes) -> None:
    httpcore_says = asyncio.run(_outcome(answer, httpx.AsyncHTTPTransport()))
    lean_says = asyncio.run(_outcome(answer, LeanTransport(max_connections=1)))
    assert lean_says == httpcore_says
    error = lean_says[0]
    if isinstance(error, type) and issubclass(error, httpx.TransportError):  # sent, then no answer: in doubt
        verdict = transport_failure(error("x"), provider="p", operation="o")
        assert isinstance(verdict, OutcomeUnknownError)


# --- idle connections ------------------------------------------------------------------------------------


def _read_request(conn: socket.socket) -> bytes:
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = conn.recv(65536)
        if not chunk:
            return data
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    length = next(
        (int(line.split(b":")[1]) for line in head.split(b"\r\n") if line.lower().startswith(b"content-length:")), 0
    )
    while len(body) < length:
        body += conn.recv(65536)
    return head + b"\r\n\r\n" + body


class IdleServer:
    """A loopback server in its own thread: it answers a first request and keeps the connection, then, once told,
    does ``on_idle`` to that idle connection (closes it, or sends an answer no one asked for); every later request,
    on any connection, is recorded and answered ``fresh``."""

    def __init__(self, on_idle: Callable[[socket.socket], None]) -> None:
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.on_idle = on_idle
        self.go, self.done = threading.Event(), threading.Event()
        self.requests: list[bytes] = []
        self.connections = 0
        self._kept: list[socket.socket] = []
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _answer(self, conn: socket.socket, body: bytes) -> bool:
        request = _read_request(conn)
        if not request:
            return False
        self.requests.append(request)
        conn.sendall(ok(body))
        return True

    def _serve(self) -> None:
        try:
            first, _ = self.listener.accept()
            self.connections += 1
            self._kept.append(first)
            self._answer(first, b"first")
            self.go.wait(10)
            self.on_idle(first)
            self.done.set()
            while True:
                conn, _ = self.listener.accept()
                self.connections += 1
                self._kept.append(conn)
                while self._answer(conn, b"fresh"):
                    pass
        except OSError:
            pass  # the listener closed: the test is over
        finally:
            self.done.set()

    def close(self) -> None:
        for sock in (self.listener, *self._kept):  # shutdown wakes the thread's accept or recv; close alone does not
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
            sock.close()
        self._thread.join(10)


def _readable(sock: Any) -> bool:
    return bool(select.select([sock], [], [], 0)[0])


def _issue_after_idle(server: IdleServer, *, loop_reads_first: bool) -> tuple[Any, ...]:
    """A GET, then the server acts on the idle connection, then an issuing POST: its outcome."""
    sockets: list[Any] = []

    async def opener(
        host: str, port: int, context: Any, server_hostname: str | None
    ) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        reader, writer = await asyncio.open_connection(host, port)
        sockets.append(writer.get_extra_info("socket"))
        return reader, writer

    async def main() -> tuple[Any, ...]:
        transport = LeanTransport(max_connections=1, opener=opener)
        async with httpx.AsyncClient(transport=transport, timeout=5.0) as client:
            first = await client.get(f"http://127.0.0.1:{server.port}/read")
            server.go.set()
            server.done.wait(10)
            select.select([sockets[0]], [], [], 10)  # the kernel holds it; the event loop has not run since
            if loop_reads_first:
                for _ in range(100):  # let the event loop take it off the socket into the stream's buffer
                    if not _readable(sockets[0]):
                        break
                    await asyncio.sleep(0)
            try:
                second = await client.post(f"http://127.0.0.1:{server.port}/issue", json={"n": 1})
            except httpx.TransportError as exc:
                return (first.content, type(exc))
            return (first.content, second.content)

    try:
        return asyncio.run(main())
    finally:
        server.close()


def _close(conn: socket.socket) -> None:
    conn.shutdown(socket.SHUT_RDWR)
    conn.close()


def _unasked(conn: socket.socket) -> None:
    conn.sendall(ok(b"unasked"))


def test_an_issuing_call_is_not_written_on_a_connection_the_server_closed_before_it() -> None:
    server = IdleServer(_close)
    assert _issue_after_idle(server, loop_reads_first=False) == (b"first", b"fresh")
    assert server.connections == 2
    assert [r.split(b" ", 1)[0] for r in server.requests] == [b"GET", b"POST"]  # the POST once, on the new one


@pytest.mark.parametrize("loop_reads_first", [False, True], ids=["in the socket", "in the stream's buffer"])
def test_an_answer_no_request_asked_for_is_never_taken_for_the_next_calls(loop_reads_first: bool) -> None:
    server = IdleServer(_unasked)
    assert _issue_after_idle(server, loop_reads_first=loop_reads_first) == (b"first", b"fresh")
    assert server.connections == 2
    assert [r.split(b" ", 1)[0] for r in server.requests] == [b"GET", b"POST"]


def test_a_post_the_server_dropped_unanswered_is_in_doubt_and_never_sent_again() -> None:
    requests: list[bytes] = []
    connections = 0

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        nonlocal connections
        connections += 1
        head = await reader.readuntil(b"\r\n\r\n")
        requests.append(head)
        writer.write(ok(b"first"))
        await writer.drain()
        requests.append(await reader.readuntil(b"\r\n\r\n"))
        writer.close()  # the issuing call read, never answered

    async def main() -> object:
        listening = await asyncio.start_server(handle, "127.0.0.1", 0)
        port = listening.sockets[0].getsockname()[1]
        try:
            async with httpx.AsyncClient(transport=LeanTransport(max_connections=1), timeout=5.0) as client:
                await client.get(f"http://127.0.0.1:{port}/read")
                try:
                    await client.post(f"http://127.0.0.1:{port}/issue", json={})
                except httpx.TransportError as exc:
                    return exc
                return None
        finally:
            listening.close()

    failure = asyncio.run(main())
    assert isinstance(failure, httpx.TransportError)
    assert isinstance(transport_failure(failure, provider="p", operation="o"), OutcomeUnknownError)
    assert connections == 1 and len(requests) == 2  # not retried on a new connection


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.mark.parametrize(("idle_for", "connections"), [(4.9, 1), (5.1, 2)])
def test_an_idle_connection_is_reused_within_httpx_keepalive_expiry_only(idle_for: float, connections: int) -> None:
    opened = 0

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        nonlocal opened
        opened += 1
        try:
            while True:
                await reader.readuntil(b"\r\n\r\n")
                writer.write(ok(b"x"))
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            writer.close()

    clock = Clock()

    async def main() -> None:
        listening = await asyncio.start_server(handle, "127.0.0.1", 0)
        port = listening.sockets[0].getsockname()[1]
        try:
            transport = LeanTransport(max_connections=1, keepalive_expiry=5.0, clock=clock)
            async with httpx.AsyncClient(transport=transport, timeout=5.0) as client:
                await client.get(f"http://127.0.0.1:{port}/")
                clock.now += idle_for
                await client.get(f"http://127.0.0.1:{port}/")
        finally:
            listening.close()

    asyncio.run(main())
    assert opened == connections
