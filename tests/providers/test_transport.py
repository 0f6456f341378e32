"""The lean HTTP/1.1 transport providers use: keep-alive, framing, timeouts, errors, TLS, proxies."""

from __future__ import annotations

import asyncio
import datetime
import ssl
from collections.abc import Awaitable, Callable
from pathlib import Path

import httpx
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from reconciler.errors import NotSentError, OutcomeUnknownError
from reconciler.providers.http import HttpSettings, build_client, transport_failure
from reconciler.providers.transport import LeanTransport

Answer = Callable[[bytes, asyncio.StreamWriter], Awaitable[bool]]  # False: close the connection


def ok(body: bytes = b'{"ok":true}') -> bytes:
    return b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n%b" % (len(body), body)


class Scripted:
    """A loopback server answering each request with the next scripted answer; it counts connections."""

    def __init__(self, *answers: bytes | Answer) -> None:
        self.answers = list(answers)
        self.connections = 0
        self.requests: list[bytes] = []

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        try:
            while self.answers:
                head = await reader.readuntil(b"\r\n\r\n")
                length = 0
                for line in head.split(b"\r\n"):
                    if line.lower().startswith(b"content-length:"):
                        length = int(line.split(b":")[1])
                self.requests.append(head + await reader.readexactly(length))
                answer = self.answers.pop(0)
                if isinstance(answer, bytes):
                    writer.write(answer)
                    await writer.drain()
                elif not await answer(head, writer):
                    break
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        writer.close()


async def serve(server: Scripted, context: ssl.SSLContext | None = None) -> tuple[asyncio.Server, int]:
    listening = await asyncio.start_server(server.handle, "127.0.0.1", 0, ssl=context)
    return listening, listening.sockets[0].getsockname()[1]


def run(server: Scripted, call: Callable[[int], Awaitable[object]], context: ssl.SSLContext | None = None) -> object:
    async def main() -> object:
        listening, port = await serve(server, context)
        try:
            return await call(port)
        finally:
            listening.close()

    return asyncio.run(main())


async def transport_error(request: Awaitable[httpx.Response]) -> httpx.TransportError | None:
    """The transport error ``request`` ends in; None when it is answered."""
    try:
        await request
    except httpx.TransportError as exc:
        return exc
    return None


def lean(port: int, *, scheme: str = "http", max_connections: int = 4, **timeouts: float) -> httpx.AsyncClient:
    transport = LeanTransport(max_connections=max_connections)
    return httpx.AsyncClient(
        base_url=f"{scheme}://127.0.0.1:{port}", transport=transport, timeout=httpx.Timeout(5.0, **timeouts)
    )


def test_keep_alive_reuses_one_connection_and_sends_the_request_as_given() -> None:
    server = Scripted(ok(b'{"n":1}'), ok(b'{"n":2}'))

    async def call(port: int) -> list[object]:
        client = build_client(base_url=f"http://127.0.0.1:{port}", user_agent="couponctl/t", settings=HttpSettings())
        async with client:
            first = await client.post("/a?x=1", json={"k": "v"}, headers={"DeveloperToken": "dev"})
            second = await client.post("/b", content=b"raw")
        return [first.json(), second.json(), first.headers["Content-Type"], first.http_version]

    assert run(server, call) == [{"n": 1}, {"n": 2}, "application/json", "HTTP/1.1"]
    assert server.connections == 1
    first, second = server.requests
    assert first.startswith(b"POST /a?x=1 HTTP/1.1\r\n")
    assert b"\r\nDeveloperToken: dev\r\n" in first and b"\r\nUser-Agent: couponctl/t\r\n" in first
    assert b"\r\nHost: 127.0.0.1:" in first and first.endswith(b'\r\n\r\n{"k":"v"}')
    assert second.endswith(b"\r\nContent-Length: 3\r\n\r\nraw")


def test_chunked_and_read_to_close_bodies_and_interim_answers() -> None:
    chunked = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n4;ext=1\r\nabcd\r\n3\r\nefg\r\n0\r\nX-T: 1\r\n\r\n"
    interim = b"HTTP/1.1 100 Continue\r\n\r\n" + ok(b"after")
    to_close = b"HTTP/1.0 200 OK\r\n\r\nuntil the end"

    async def close_after(head: bytes, writer: asyncio.StreamWriter) -> bool:
        writer.write(to_close)
        await writer.drain()
        return False

    server = Scripted(chunked, interim, close_after, ok(b"new connection"))

    async def call(port: int) -> list[bytes]:
        async with lean(port) as client:
            return [(await client.get(f"/{i}")).content for i in range(4)]

    assert run(server, call) == [b"abcdefg", b"after", b"until the end", b"new connection"]
    assert server.connections == 2  # the connection read to its end is not reused


def test_a_connection_the_server_closed_while_idle_is_not_reused() -> None:
    async def answer_and_close(head: bytes, writer: asyncio.StreamWriter) -> bool:
        writer.write(ok(b"first"))
        await writer.drain()
        return False

    server = Scripted(answer_and_close, ok(b"second"))

    async def call(port: int) -> list[bytes]:
        async with lean(port) as client:
            first = (await client.get("/")).content
            await asyncio.sleep(0.1)  # the server's close reaches the client
            return [first, (await client.get("/")).content]

    assert run(server, call) == [b"first", b"second"]
    assert server.connections == 2


def test_gzip_bodies_are_decoded_by_httpx() -> None:
    import gzip

    body = gzip.compress(b'{"a":1}')
    answer = b"HTTP/1.1 200 OK\r\nContent-Encoding: gzip\r\nContent-Length: %d\r\n\r\n%b" % (len(body), body)

    async def call(port: int) -> object:
        async with lean(port) as client:
            return (await client.get("/")).json()

    assert run(Scripted(answer), call) == {"a": 1}


async def never_answer(head: bytes, writer: asyncio.StreamWriter) -> bool:
    await asyncio.sleep(30)
    return False


def test_a_read_timeout_is_outcome_unknown() -> None:
    async def call(port: int) -> object:
        async with lean(port, read=0.2) as client:
            return await transport_error(client.post("/issue", json={}))

    failure = run(Scripted(never_answer), call)
    assert isinstance(failure, httpx.ReadTimeout)
    assert isinstance(transport_failure(failure, provider="p", operation="o"), OutcomeUnknownError)


@pytest.mark.parametrize(
    "answer",
    [
        b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nshort",
        b"garbage\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nbad header\r\n\r\n",
    ],
)
def test_a_broken_answer_is_a_protocol_error_and_outcome_unknown(answer: bytes) -> None:
    async def close_after(head: bytes, writer: asyncio.StreamWriter) -> bool:
        writer.write(answer)
        await writer.drain()
        return False

    async def call(port: int) -> object:
        async with lean(port) as client:
            return await transport_error(client.post("/issue", json={}))

    failure = run(Scripted(close_after), call)
    assert isinstance(failure, httpx.RemoteProtocolError)
    assert isinstance(transport_failure(failure, provider="p", operation="o"), OutcomeUnknownError)


def test_a_refused_connection_is_not_sent() -> None:
    async def call() -> object:
        async with lean(1) as client:
            return await transport_error(client.post("/issue", json={}))

    failure = asyncio.run(call())
    assert isinstance(failure, httpx.ConnectError)
    assert isinstance(transport_failure(failure, provider="p", operation="o"), NotSentError)


def test_requests_beyond_the_connections_wait_at_most_the_pool_timeout() -> None:
    server = Scripted(never_answer)

    async def call(port: int) -> object:
        async with lean(port, max_connections=1, pool=0.2) as client:
            hanging = asyncio.create_task(client.get("/slow"))
            await asyncio.sleep(0.1)
            try:
                return await transport_error(client.get("/second"))
            finally:
                hanging.cancel()

    failure = run(server, call)
    assert isinstance(failure, httpx.PoolTimeout)
    assert isinstance(transport_failure(failure, provider="p", operation="o"), NotSentError)
    assert server.connections == 1


def test_a_cancelled_request_frees_its_connection_slot() -> None:
    server = Scripted(never_answer, ok(b"next"))

    async def call(port: int) -> bytes:
        async with lean(port, max_connections=1, pool=2.0) as client:
            hanging = asyncio.create_task(client.get("/slow"))
            await asyncio.sleep(0.1)
            hanging.cancel()
            return (await client.get("/next")).content

    assert run(server, call) == b"next"
    assert server.connections == 2  # the cancelled request's connection was closed, not reused


def self_signed(directory: Path) -> tuple[ssl.SSLContext, ssl.SSLContext]:
    """A server context with a certificate for 127.0.0.1, and a client context that trusts only it."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.datetime.now(datetime.UTC)
    import ipaddress

    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), True)
        .sign(key, hashes.SHA256())
    )
    cert_file, key_file = directory / "cert.pem", directory / "key.pem"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    server = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server.load_cert_chain(cert_file, key_file)
    return server, ssl.create_default_context(cafile=str(cert_file))


def test_https_verifies_the_server_and_keeps_the_connection(tmp_path: Path) -> None:
    server_context, client_context = self_signed(tmp_path)
    server = Scripted(ok(b"one"), ok(b"two"))

    async def call(port: int) -> list[bytes]:
        transport = LeanTransport(max_connections=2, ssl_context=client_context)
        async with httpx.AsyncClient(base_url=f"https://127.0.0.1:{port}", transport=transport) as client:
            return [(await client.get("/")).content, (await client.get("/")).content]

    assert run(server, call, server_context) == [b"one", b"two"]
    assert server.connections == 1


def test_https_refuses_a_server_it_cannot_verify(tmp_path: Path) -> None:
    server_context, _ = self_signed(tmp_path)  # the client trusts only the default roots

    async def call(port: int) -> object:
        async with lean(port, scheme="https") as client:
            return await transport_error(client.get("/"))

    failure = run(Scripted(ok()), call, server_context)
    assert isinstance(failure, httpx.ConnectError)
    assert isinstance(transport_failure(failure, provider="p", operation="o"), NotSentError)


def test_a_proxy_named_in_the_environment_is_used(monkeypatch: pytest.MonkeyPatch) -> None:
    server = Scripted(ok(b"through the proxy"))

    async def call(port: int) -> bytes:
        monkeypatch.setenv("HTTP_PROXY", f"http://127.0.0.1:{port}")
        client = build_client(base_url="http://vendor.invalid", user_agent="t", settings=HttpSettings())
        async with client:
            return (await client.get("/x")).content

    assert run(server, call) == b"through the proxy"
    assert server.requests[0].startswith(b"GET http://vendor.invalid/x HTTP/1.1\r\n")
