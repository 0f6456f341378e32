"""Serving the sandbox over real HTTP with uvicorn, on a socket bound here (so port 0 works).

``serve`` runs in the foreground until SIGINT or SIGTERM and then returns normally; ``BackgroundServer``
runs one in a thread on a free loopback port, for tests and benchmarks.
"""

from __future__ import annotations

import signal
import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from types import FrameType, TracebackType

import uvicorn
from starlette.types import ASGIApp, Receive, Scope, Send

from reconciler.errors import SandboxError
from reconciler.sandbox.faults import ConnectionDropped

STARTUP_TIMEOUT_S = 10.0


def close_on_drop(app: ASGIApp) -> ASGIApp:
    """The app for a real server: a dropped answer starts a response and never finishes it.

    uvicorn then closes the connection, so the client sees the connection end before any body, as when a
    proxy or the network loses the answer after the service committed.
    """

    async def wrapped(scope: Scope, receive: Receive, send: Send) -> None:
        try:
            await app(scope, receive, send)
        except ConnectionDropped:
            await send(
                {
                    "type": "http.response.start",
                    "status": 500,
                    "headers": [(b"content-length", b"1"), (b"connection", b"close")],
                }
            )

    return wrapped


def bind(host: str, port: int) -> socket.socket:
    """A listening TCP socket on ``host:port`` (port 0: a free one)."""
    try:
        family, kind, proto, _, address = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0]
        sock = socket.socket(family, kind, proto)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(address)
        sock.listen(128)
    except OSError as exc:
        raise SandboxError(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from None
    return sock


def url_of(sock: socket.socket) -> str:
    host, port = sock.getsockname()[:2]
    return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"


def _server(app: ASGIApp, log_level: str) -> uvicorn.Server:
    # h11, never httptools (uvicorn's choice when it is installed): httptools sends header names lower-cased, and the
    # SDK looks the TrackingId header up case-sensitively. No access log: every call is in the store's call log, and
    # a line per request was about a fifth of the served sandbox's CPU per Search page (benchmarks/sandbox_cpu.py).
    config = uvicorn.Config(
        close_on_drop(app),
        log_level=log_level,
        lifespan="off",
        timeout_graceful_shutdown=5,
        http="h11",
        access_log=False,
    )
    return uvicorn.Server(config)


def serve(app: ASGIApp, *, host: str, port: int, announce: Callable[[str], None]) -> None:
    """Serve until SIGINT or SIGTERM; ``announce`` gets the base URL once the socket listens."""
    sock = bind(host, port)
    try:
        server = _server(app, "info")
        announce(url_of(sock))
        with _signals_end_quietly():
            server.run(sockets=[sock])
    finally:
        sock.close()


@contextmanager
def _signals_end_quietly() -> Iterator[None]:
    """uvicorn stops gracefully on SIGINT/SIGTERM and then re-raises the signal to the handler that was in place
    before it: make that handler a no-op, so the process ends normally after the shutdown."""
    signals = (signal.SIGINT, signal.SIGTERM)

    def ignore(signum: int, frame: FrameType | None) -> None:
        return None

    previous = {sig: signal.signal(sig, ignore) for sig in signals}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


class BackgroundServer:
    """A served sandbox in a background thread on a free port (``url`` once entered)."""

    def __init__(self, app: ASGIApp, *, host: str = "127.0.0.1", port: int = 0) -> None:
        self._app = app
        self._host = host
        self._port = port
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None
        self._sock: socket.socket | None = None
        self.url = ""

    def __enter__(self) -> BackgroundServer:
        self._sock = bind(self._host, self._port)
        self.url = url_of(self._sock)
        self._server = _server(self._app, "critical")
        self._thread = threading.Thread(target=self._server.run, kwargs={"sockets": [self._sock]}, daemon=True)
        self._thread.start()
        deadline = time.monotonic() + STARTUP_TIMEOUT_S
        while not self._server.started:
            if time.monotonic() > deadline or not self._thread.is_alive():
                self.__exit__(None, None, None)
                raise SandboxError("the sandbox server did not start")
            time.sleep(0.01)
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self._server is not None:
            self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(STARTUP_TIMEOUT_S)
        if self._sock is not None:
            self._sock.close()
