"""A lean HTTP/1.1 transport for httpx over asyncio streams: keep-alive connections, http:// and https://.

httpx stays the client API (requests, responses, timeouts, errors); this replaces only the connection layer
(httpcore, anyio, h11), which cost most of couponctl's CPU per request (benchmarks/plan_cpu.py). What it keeps
of httpcore's behaviour, as couponctl relies on it:

- at most ``max_connections`` requests in flight, one connection each; a request waits at most the pool timeout
  for one (``httpx.PoolTimeout``); idle connections are kept and reused for at most ``keepalive_expiry`` seconds
  (httpx's 5 s), and never once the server closed them or sent anything unasked (readable while idle, as
  httpcore checks): a request is only ever written on a connection that nothing says is stale, and never twice;
- the connect, write and read timeouts of the request (``httpx.ConnectTimeout``, ``WriteTimeout``,
  ``ReadTimeout``; each read of the socket waits at most the read timeout); a connection that fails is never
  reused, and a failure is raised as the httpx error of its phase (``ConnectError`` before any byte was written,
  ``WriteError``/``ReadError``/``RemoteProtocolError`` after);
- the ``trace`` request extension: ``http11.send_request_headers.started`` is awaited once the connection is open,
  right before the request's first byte is written; an error it raises sends nothing;
- response framing by ``Content-Length``, ``Transfer-Encoding: chunked`` or the connection's end, read as strictly
  as h11 reads it (a framing h11 refuses is a ``RemoteProtocolError`` here too, never an answer); a head over
  100 KiB is refused as h11 refuses it; interim 1xx answers skipped; the body is handed to httpx undecoded (httpx
  applies ``Content-Encoding``).
"""

from __future__ import annotations

import asyncio
import re
import select
import ssl
import time
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

import httpx

Origin = tuple[bytes, bytes, int]
Opener = Callable[
    [str, int, ssl.SSLContext | None, str | None], Awaitable[tuple[asyncio.StreamReader, asyncio.StreamWriter]]
]

_DEFAULT_PORTS = {b"http": 80, b"https": 443}
_NO_BODY_STATUSES = frozenset({204, 304})
_READ_SIZE = 65536
_HEADER_LIMIT = 1 << 20  # the stream's buffer limit: a head not ended within it is unreadable
_MAX_HEAD = 100 * 1024  # httpcore's limit for h11 (MAX_INCOMPLETE_EVENT_SIZE): a longer head is unreadable
# h11's grammar (h11/_abnf.py): a header field, a chunk's size line, a Content-Length
_FIELD = re.compile(rb"[-!#$%&'*+.^_`|~0-9a-zA-Z]+:[ \t]*(?:[^\x00\s]+(?:[ \t]+[^\x00\s]+)*)?[ \t]*")
_CHUNK_SIZE = re.compile(rb"([0-9A-Fa-f]{1,20})(?:;.*)?[ \t]*\r\n", re.DOTALL)
_LENGTH = re.compile(rb"[0-9]+")


async def _open(
    host: str, port: int, context: ssl.SSLContext | None, server_hostname: str | None
) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    return await asyncio.open_connection(host, port, ssl=context, server_hostname=server_hostname, limit=_HEADER_LIMIT)


class _Connection:
    __slots__ = ("idle_since", "reader", "writer")

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer
        self.idle_since = 0.0

    def idle_usable(self) -> bool:
        """Still open at both ends, nothing unasked for received: not in the stream's buffer, and not waiting in the
        socket either (a close or an answer the event loop has not read yet: httpcore's ``is_readable`` check)."""
        if self.writer.is_closing() or self.reader.at_eof() or self.reader.exception() is not None:
            return False
        if getattr(self.reader, "_buffer", None):  # bytes no request asked for (asyncio keeps them there)
            return False
        return not _readable(self.writer.get_extra_info("socket"))

    def close(self) -> None:
        self.writer.close()


def _readable(sock: Any) -> bool:
    """Whether the socket has something to read (or is closed, or in error): an idle connection must not."""
    if sock is None:
        return False
    try:
        fd = sock.fileno()
    except OSError:
        return True
    if fd < 0:
        return True
    if hasattr(select, "poll"):
        poller = select.poll()
        poller.register(fd, select.POLLIN)
        return bool(poller.poll(0))
    return bool(select.select([fd], [], [], 0)[0])  # pragma: no cover (no poll: Windows)


class LeanTransport(httpx.AsyncBaseTransport):
    """HTTP/1.1 with keep-alive over asyncio streams; ``ssl_context`` verifies https:// servers."""

    def __init__(
        self,
        *,
        max_connections: int,
        ssl_context: ssl.SSLContext | None = None,
        opener: Opener = _open,
        keepalive_expiry: float | None = 5.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._slots = asyncio.Semaphore(max(1, max_connections))
        self._idle: dict[Origin, list[_Connection]] = {}
        self._ssl_context = ssl_context
        self._opener = opener
        self._keepalive_expiry = keepalive_expiry
        self._clock = clock
        self._closed = False

    async def aclose(self) -> None:
        self._closed = True
        for connections in self._idle.values():
            for connection in connections:
                connection.close()
        self._idle.clear()

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        url = request.url
        scheme = url.raw_scheme
        if scheme not in _DEFAULT_PORTS:
            raise httpx.UnsupportedProtocol(
                f"unsupported URL scheme {scheme.decode(errors='replace')!r}", request=request
            )
        if self._closed:
            raise httpx.ConnectError("the transport is closed", request=request)
        timeouts: Mapping[str, float | None] = request.extensions.get("timeout", {})
        origin = (scheme, url.raw_host, url.port or _DEFAULT_PORTS[scheme])
        try:
            if self._slots.locked():
                async with asyncio.timeout(timeouts.get("pool")):
                    await self._slots.acquire()
            else:
                await self._slots.acquire()  # free: taken at once
        except TimeoutError:
            raise httpx.PoolTimeout("no connection free within the pool timeout", request=request) from None
        try:
            connection = self._reuse(origin) or await self._connect(origin, request, timeouts.get("connect"))
            try:
                status, headers, body, reusable = await self._exchange(connection, request, timeouts)
            except BaseException:
                connection.close()
                raise
            if reusable and not self._closed:
                connection.idle_since = self._clock()
                self._idle.setdefault(origin, []).append(connection)
            else:
                connection.close()
        finally:
            self._slots.release()
        return httpx.Response(status, headers=headers, content=body, extensions={"http_version": b"HTTP/1.1"})

    def _reuse(self, origin: Origin) -> _Connection | None:
        idle = self._idle.get(origin)
        if not idle:
            return None
        expiry = self._keepalive_expiry
        oldest = None if expiry is None else self._clock() - expiry
        while idle:
            connection = idle.pop()
            if (oldest is None or connection.idle_since >= oldest) and connection.idle_usable():
                return connection
            connection.close()
        return None

    async def _connect(self, origin: Origin, request: httpx.Request, timeout: float | None) -> _Connection:
        scheme, raw_host, port = origin
        host = raw_host.decode("ascii")
        context = None
        if scheme == b"https":
            if self._ssl_context is None:
                self._ssl_context = httpx.create_ssl_context()  # certifi's roots, or SSL_CERT_FILE / SSL_CERT_DIR
            context = self._ssl_context
        try:
            async with asyncio.timeout(timeout):
                reader, writer = await self._opener(host, port, context, host if context else None)
        except TimeoutError:
            raise httpx.ConnectTimeout(f"connecting to {host}:{port} timed out", request=request) from None
        except (OSError, ssl.SSLError) as exc:
            raise httpx.ConnectError(f"cannot connect to {host}:{port}: {exc}", request=request) from exc
        return _Connection(reader, writer)

    async def _exchange(
        self, connection: _Connection, request: httpx.Request, timeouts: Mapping[str, float | None]
    ) -> tuple[int, list[tuple[bytes, bytes]], bytes, bool]:
        """Write ``request`` and read its answer: status, headers, body, and whether the connection may be reused."""
        trace: Callable[[str, dict[str, Any]], Awaitable[None]] | None = request.extensions.get("trace")
        if trace is not None:
            await trace("http11.send_request_headers.started", {"request": request})
        await self._send(connection, request, timeouts.get("write"))
        return await _Reader(connection.reader, request, timeouts.get("read")).response()

    async def _send(self, connection: _Connection, request: httpx.Request, timeout: float | None) -> None:
        chunked = request.headers.get("Transfer-Encoding", "").lower() == "chunked"
        parts = [request.method.encode("ascii"), b" ", request.url.raw_path, b" HTTP/1.1\r\n"]
        for name, value in request.headers.raw:
            parts += (name, b": ", value, b"\r\n")
        parts.append(b"\r\n")
        if isinstance(request.stream, httpx.ByteStream):
            body = request.content  # the usual case: content known (json=, content=), read by httpx
            if chunked and body:
                parts += (b"%x\r\n" % len(body), body, b"\r\n0\r\n\r\n")
            elif chunked:
                parts.append(b"0\r\n\r\n")
            else:
                parts.append(body)
            await self._write(connection, b"".join(parts), request, timeout)
            return
        await self._write(connection, b"".join(parts), request, timeout)
        async for chunk in request.stream:  # type: ignore[union-attr]
            if chunk:
                await self._write(
                    connection, b"%x\r\n%b\r\n" % (len(chunk), chunk) if chunked else chunk, request, timeout
                )
        if chunked:
            await self._write(connection, b"0\r\n\r\n", request, timeout)

    @staticmethod
    async def _write(connection: _Connection, data: bytes, request: httpx.Request, timeout: float | None) -> None:
        try:
            connection.writer.write(data)
            async with asyncio.timeout(timeout):
                await connection.writer.drain()
        except TimeoutError:
            raise httpx.WriteTimeout("writing the request timed out", request=request) from None
        except OSError as exc:
            raise httpx.WriteError(f"writing the request failed: {exc}", request=request) from exc


class _Reader:
    """Reads one HTTP/1.1 response, each read of the socket within ``timeout``."""

    __slots__ = ("_reader", "_request", "_timeout")

    def __init__(self, reader: asyncio.StreamReader, request: httpx.Request, timeout: float | None) -> None:
        self._reader = reader
        self._request = request
        self._timeout = timeout

    def _protocol_error(self, message: str) -> httpx.RemoteProtocolError:
        return httpx.RemoteProtocolError(message, request=self._request)

    async def _read(self, operation: Awaitable[bytes]) -> bytes:
        try:
            async with asyncio.timeout(self._timeout):
                return await operation
        except TimeoutError:
            raise httpx.ReadTimeout("reading the response timed out", request=self._request) from None
        except asyncio.IncompleteReadError:
            raise self._protocol_error("the server closed the connection before the response was complete") from None
        except asyncio.LimitOverrunError:
            raise self._protocol_error("the response's head is too long") from None
        except ValueError:  # a separator not found within the stream's limit
            raise self._protocol_error("the response's head is too long") from None
        except OSError as exc:
            raise httpx.ReadError(f"reading the response failed: {exc}", request=self._request) from exc

    async def response(self) -> tuple[int, list[tuple[bytes, bytes]], bytes, bool]:
        while True:
            head = await self._read(self._reader.readuntil(b"\r\n\r\n"))
            if len(head) > _MAX_HEAD:
                raise self._protocol_error("the response's head is too long")
            version, status, headers = self._head(head)
            if not 100 <= status < 200:
                break
            if status == 101:
                raise self._protocol_error("the server switched protocols")
        keep_alive = version == b"HTTP/1.1"
        length: int | None = None
        chunked = False
        for name, value in headers:
            lowered = name.lower()
            if lowered == b"content-length":
                values = {v.strip() for v in value.split(b",")}  # "2, 2" is 2, as h11 reads it
                if len(values) != 1 or not _LENGTH.fullmatch(found := values.pop()):
                    raise self._protocol_error("the response's Content-Length is unreadable")
                if length is not None and length != int(found):
                    raise self._protocol_error("the response's Content-Length is unreadable")
                length = int(found)
            elif lowered == b"transfer-encoding":
                if chunked or value.strip().lower() != b"chunked":  # the only coding h11 reads
                    raise self._protocol_error("the response's Transfer-Encoding is not supported")
                chunked = True
            elif lowered == b"connection":
                tokens = {t.strip().lower() for t in value.split(b",")}
                keep_alive = b"close" not in tokens and (keep_alive or b"keep-alive" in tokens)
        if self._request.method == "HEAD" or status in _NO_BODY_STATUSES:
            body = b""
        elif chunked:
            body = await self._chunked()
        elif length is not None:
            body = await self._exactly(length)
        else:
            body = await self._until_closed()
            keep_alive = False
        return status, headers, body, keep_alive

    def _head(self, head: bytes) -> tuple[bytes, int, list[tuple[bytes, bytes]]]:
        lines = head[:-4].split(b"\r\n")
        parts = lines[0].split(b" ", 2)
        if len(parts) < 2 or parts[0] not in (b"HTTP/1.1", b"HTTP/1.0") or len(parts[1]) != 3 or not parts[1].isdigit():
            raise self._protocol_error("the response's status line is unreadable")
        headers = []
        for line in lines[1:]:
            if not _FIELD.fullmatch(line):
                raise self._protocol_error("a response header is unreadable")
            name, _, value = line.partition(b":")
            headers.append((name, value.strip(b" \t")))
        return parts[0], int(parts[1]), headers

    async def _exactly(self, length: int) -> bytes:
        chunks = []
        remaining = length
        while remaining:
            chunk = await self._read(self._reader.read(min(remaining, _READ_SIZE * 16)))
            if not chunk:
                raise self._protocol_error("the server closed the connection before the response was complete")
            chunks.append(chunk)
            remaining -= len(chunk)
        return chunks[0] if len(chunks) == 1 else b"".join(chunks)

    async def _chunked(self) -> bytes:
        chunks = []
        while True:
            line = await self._read(self._reader.readuntil(b"\r\n"))
            found = _CHUNK_SIZE.fullmatch(line)
            if found is None:
                raise self._protocol_error("a chunk size of the response is unreadable")
            size = int(found[1], 16)
            if size == 0:
                break
            chunks.append(await self._exactly(size))
            if await self._read(self._reader.readexactly(2)) != b"\r\n":
                raise self._protocol_error("a chunk of the response is not terminated")
        while await self._read(self._reader.readuntil(b"\r\n")) != b"\r\n":  # trailers, ignored
            pass
        return b"".join(chunks)

    async def _until_closed(self) -> bytes:
        chunks = []
        while chunk := await self._read(self._reader.read(_READ_SIZE)):
            chunks.append(chunk)
        return b"".join(chunks)
