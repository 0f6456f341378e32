"""HTTP plumbing shared by providers: client construction, rate limiting, read retries, httpx error mapping.

Nothing here knows a vendor. Retrying is only ever applied to reads, or to calls the vendor proved it did
not process (the caller decides which errors are retryable).
"""

from __future__ import annotations

import asyncio
import email.utils
import logging
import random
import re
import time
import urllib.request
from collections.abc import Awaitable, Callable, Coroutine, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from types import TracebackType
from typing import Any, Protocol, TypeVar

import httpx

from reconciler.config.secrets import Secret
from reconciler.errors import MalformedResponse, NotSentError, OutcomeUnknownError, ProviderError, ThrottledError
from reconciler.providers.adaptive import AdaptiveLimiter
from reconciler.providers.base import Fence
from reconciler.providers.transport import LeanTransport
from reconciler.render.terminal import visible

log = logging.getLogger(__name__)

T = TypeVar("T")
Sleep = Callable[[float], Awaitable[None]]
Clock = Callable[[], float]

DEFAULT_RETRY_AFTER = 60.0


@dataclass(frozen=True, slots=True)
class HttpSettings:
    """Timeouts (seconds), concurrent requests and the request rate (per second; 0 means unlimited)."""

    connect_timeout: float = 10.0
    read_timeout: float = 60.0
    write_timeout: float = 60.0
    pool_timeout: float = 60.0
    concurrency: int = 4
    requests_per_second: float = 5.0
    adaptive: bool = True  # calls in flight and rate find their level under both caps (reconciler.providers.adaptive)


def build_client(
    *,
    base_url: str,
    user_agent: str,
    settings: HttpSettings,
    transport: httpx.AsyncBaseTransport | None = None,
) -> httpx.AsyncClient:
    """An AsyncClient for one provider. No default auth headers: every call sets its own.

    Without a ``transport`` (tests pass one), requests go through :class:`LeanTransport`, at most
    ``settings.concurrency`` connections; when the environment names a proxy (``HTTPS_PROXY`` and the like),
    through httpx's own transport, which honours it."""
    timeout = httpx.Timeout(
        connect=settings.connect_timeout,
        read=settings.read_timeout,
        write=settings.write_timeout,
        pool=settings.pool_timeout,
    )
    limits = httpx.Limits(max_connections=settings.concurrency, max_keepalive_connections=settings.concurrency)
    if transport is None and not urllib.request.getproxies():
        transport = LeanTransport(max_connections=settings.concurrency, keepalive_expiry=limits.keepalive_expiry)
    return httpx.AsyncClient(
        base_url=base_url,
        timeout=timeout,
        limits=limits,
        transport=transport,
        headers={"User-Agent": user_agent},
        follow_redirects=False,
    )


class TokenBucket:
    """At most ``rate`` acquisitions a second on average, bursts of ``burst``. Waiters are served in turn."""

    def __init__(self, rate: float, burst: int, *, clock: Clock = time.monotonic, sleep: Sleep = asyncio.sleep):
        if rate <= 0:
            raise ValueError("rate must be positive")
        self._rate = rate
        self._capacity = float(max(1, burst))
        self._tokens = self._capacity
        self._clock = clock
        self._sleep = sleep
        self._stamp = clock()
        self._lock = asyncio.Lock()

    async def acquire(self) -> None:
        async with self._lock:
            while True:
                now = self._clock()
                self._tokens = min(self._capacity, self._tokens + (now - self._stamp) * self._rate)
                self._stamp = now
                if self._tokens >= 1:
                    self._tokens -= 1
                    return
                await self._sleep((1 - self._tokens) / self._rate)


class Limiter(Protocol):
    """``async with limiter:`` around one request, the vendor's answer classified inside the block (a
    ThrottledError raised from it tells an adaptive limiter to back off)."""

    async def __aenter__(self) -> None: ...

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None: ...


class FixedLimiter:
    """A fixed concurrency slot, then a rate token (``adaptive: false``)."""

    def __init__(self, concurrency: int, bucket: TokenBucket | None) -> None:
        self._slots = asyncio.Semaphore(max(1, concurrency))
        self._bucket = bucket

    async def __aenter__(self) -> None:
        await self._slots.acquire()
        if self._bucket is not None:
            try:
                await self._bucket.acquire()
            except BaseException:
                self._slots.release()
                raise

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._slots.release()


def limiter_for(settings: HttpSettings, *, clock: Clock = time.monotonic, sleep: Sleep = asyncio.sleep) -> Limiter:
    rate = settings.requests_per_second
    if settings.adaptive:
        return AdaptiveLimiter(settings.concurrency, rate, clock=clock, sleep=sleep)
    bucket = TokenBucket(rate, settings.concurrency, clock=clock, sleep=sleep) if rate > 0 else None
    return FixedLimiter(settings.concurrency, bucket)


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """Bounded attempts with exponential backoff and jitter; a throttle waits its Retry-After.

    ``attempts`` counts every try, the first included. A Retry-After above ``max_retry_after`` is not
    waited for: the error is raised.
    """

    attempts: int = 5
    base_delay: float = 0.5
    max_delay: float = 30.0
    max_retry_after: float = 120.0

    def backoff(self, failures: int, rng: random.Random) -> float:
        """Equal jitter: between half and all of ``base * 2**(failures-1)``, capped at ``max_delay``."""
        cap = min(self.max_delay, self.base_delay * 2.0 ** (failures - 1))
        return cap / 2 + rng.uniform(0, cap / 2)

    def delay(self, error: ProviderError, failures: int, rng: random.Random) -> float | None:
        """Seconds to wait before the next try, or None to give up."""
        if failures >= self.attempts:
            return None
        backoff = self.backoff(failures, rng)
        if isinstance(error, ThrottledError):
            wait = DEFAULT_RETRY_AFTER if error.retry_after is None else error.retry_after
            return None if wait > self.max_retry_after else max(wait, backoff)
        return backoff


async def with_retries(
    call: Callable[[], Awaitable[T]],
    *,
    policy: RetryPolicy,
    retryable: Callable[[ProviderError], bool],
    sleep: Sleep,
    rng: random.Random,
) -> T:
    """Run ``call``; on a retryable ProviderError wait as the policy says and try again, boundedly."""
    failures = 0
    while True:
        try:
            return await call()
        except ProviderError as err:
            failures += 1
            wait = policy.delay(err, failures, rng) if retryable(err) else None
            if wait is None:
                raise
            log.info("retry: operation=%s failures=%d wait=%.2fs error=%s", err.operation, failures, wait, err)
            await sleep(wait)


async def gather_all(calls: Iterable[Coroutine[Any, Any, T]]) -> list[T]:
    """Run ``calls`` at once and return their results in order; the first failure cancels the others and is
    raised as itself (not as an ExceptionGroup)."""
    try:
        async with asyncio.TaskGroup() as group:
            tasks = [group.create_task(call) for call in calls]
    except ExceptionGroup as failed:
        raise failed.exceptions[0] from None
    return [task.result() for task in tasks]


def fenced(fence: Fence) -> dict[str, Any]:
    """httpx request extensions that prove ``fence`` fresh once more right before the request's first byte is
    written, after the connection is open (the ``trace`` hook, which :class:`LeanTransport` and httpcore both call;
    transports that do not trace, such as the in-process sandbox, rely on the fence awaited just before the
    request)."""

    async def trace(event: str, info: Mapping[str, Any]) -> None:
        if event.endswith("send_request_headers.started"):
            await fence.still_fresh()

    return {"trace": trace}


def retry_after_seconds(value: str | None, *, now: datetime | None = None) -> float | None:
    """The Retry-After header as seconds (delta-seconds or an HTTP date); None when absent or unreadable."""
    if not value:
        return None
    text = value.strip()
    try:
        return max(0.0, float(text))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(text)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - (now or datetime.now(UTC))).total_seconds())


# The request cannot have reached the server: the connection was never established.
_NOT_SENT: tuple[type[httpx.TransportError], ...] = (
    httpx.ConnectError,
    httpx.ConnectTimeout,
    httpx.PoolTimeout,
    httpx.ProxyError,
    httpx.UnsupportedProtocol,
)


def transport_failure(exc: httpx.TransportError, *, provider: str, operation: str) -> ProviderError:
    """Map an httpx transport error: not sent (NotSentError) or possibly processed (OutcomeUnknownError)."""
    kind = type(exc).__name__
    if isinstance(exc, _NOT_SENT):
        return NotSentError(
            f"request not sent: {kind} (nothing was processed)", provider=provider, operation=operation, code=kind
        )
    return OutcomeUnknownError(
        f"no complete response: {kind} after the request was sent", provider=provider, operation=operation, code=kind
    )


def malformed_response(
    exc: MalformedResponse, *, provider: str, operation: str, tracking_id: str | None
) -> ProviderError:
    """A read's answer the wire parser could not read (``exc`` says why): the call it answered, by its operation and
    the vendor's tracking or request id."""
    return ProviderError(
        f"malformed {operation} response: {exc}", provider=provider, operation=operation, tracking_id=tracking_id
    )


def redact(text: str, secrets: Iterable[Secret | None]) -> str:
    """A vendor's message made safe to keep and show: every secret value replaced by ``***``, and every control
    character (a newline that would forge an output line, an escape sequence) shown as a visible escape."""
    for secret in secrets:
        if secret is not None and secret.reveal():
            text = text.replace(secret.reveal(), "***")
    return visible(text)


_SURROGATE_ESCAPE = re.compile(rb"\\u[dD][89a-fA-F]")


def vendor_json(response: httpx.Response) -> Any:
    """A vendor's JSON answer, with any lone surrogate (``"\\ud800"``, which no text file or terminal can hold)
    replaced by U+FFFD: what a vendor sends is stored and shown as data, and never breaks couponctl's own output."""
    data = response.json()
    return _whole(data) if _SURROGATE_ESCAPE.search(response.content) else data


def _whole(value: Any) -> Any:
    if isinstance(value, str):
        return "".join("\ufffd" if "\ud800" <= c <= "\udfff" else c for c in value) if _has_surrogate(value) else value
    if isinstance(value, list):
        return [_whole(v) for v in value]
    if isinstance(value, dict):
        return {_whole(k): _whole(v) for k, v in value.items()}
    return value


def _has_surrogate(text: str) -> bool:
    return any("\ud800" <= c <= "\udfff" for c in text)
