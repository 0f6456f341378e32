"""Sending one request body to one destination: retried with exponential backoff (bounded attempts and total
time), honouring a 429's Retry-After, never following a redirect. It never raises: what happened is its result."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from enum import StrEnum

import httpx

from reconciler.config.redaction import scrub
from reconciler.providers.endpoints import is_loopback

USER_AGENT = "couponctl-notify"


class Status(StrEnum):
    DELIVERED = "delivered"
    FAILED = "failed"


@dataclass(frozen=True)
class Backoff:
    """Waits between attempts: ``base`` seconds, doubled each time up to ``cap``; ``timeout`` per request."""

    base: float = 0.5
    cap: float = 8.0
    timeout: float = 5.0

    def wait(self, attempt: int) -> float:
        """The wait after failed attempt number ``attempt`` (1-based)."""
        return float(min(self.cap, self.base * 2 ** (attempt - 1)))


@dataclass(frozen=True)
class Outcome:
    """How one delivery ended: after ``attempts`` requests, with the last ``error`` when it failed."""

    status: Status
    attempts: int
    error: str | None = None

    @property
    def delivered(self) -> bool:
        return self.status is Status.DELIVERED


DEFAULT_BACKOFF = Backoff()

#: Answers worth another attempt: the receiver was busy or broken, not the request wrong.
RETRIED = frozenset({408, 425, 429, 500, 502, 503, 504})


def url_problem(url: str) -> str | None:
    """Why ``url`` may not receive a notification: it must be https, or http to loopback (a local receiver)."""
    try:
        parsed = httpx.URL(url)
        host = parsed.host
    except (httpx.InvalidURL, ValueError):  # a host IDNA refuses raises its own error (a UnicodeError)
        return "is not a URL"
    if parsed.scheme == "https" and host:
        return None
    if parsed.scheme == "http" and is_loopback(url):
        return None
    return "is neither https nor loopback: refused (a webhook URL carries its secret; plain http would leak it)"


def deliver(
    client: httpx.Client,
    url: str,
    content: bytes,
    headers: Mapping[str, str],
    *,
    attempts: int,
    deadline: float,
    backoff: Backoff = DEFAULT_BACKOFF,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
) -> Outcome:
    """POST ``content`` to ``url`` until a 2xx answer, at most ``attempts`` times and never past ``deadline`` (on
    ``clock``). A 429 waits what its Retry-After says (when that fits before the deadline), other retried answers
    and transport errors the backoff; any other answer (a 4xx, a redirect) fails at once. Errors never quote the
    URL (it is a secret)."""
    problem = url_problem(url)
    if problem is not None:
        return Outcome(Status.FAILED, 0, f"the URL {problem}")
    error = "no attempt fitted in the time allowed"
    for attempt in range(1, attempts + 1):
        left = deadline - clock()
        if left <= 0:
            return Outcome(Status.FAILED, attempt - 1, f"{error}; out of time")
        wait: float | None = backoff.wait(attempt)
        sent = {"Content-Type": "application/json", "User-Agent": USER_AGENT, **headers}
        try:
            answer = post_within(client, url, content, sent, min(backoff.timeout, left))
        except TooSlow as exc:
            error = str(exc)
        except httpx.HTTPError as exc:
            error = f"{type(exc).__name__}: {_clean(str(exc), url)}"
        except Exception as exc:  # e.g. a host IDNA cannot encode: its message quotes part of the (secret) URL
            return Outcome(Status.FAILED, attempt, f"{type(exc).__name__}: the request could not be made")
        else:
            if answer.is_success:
                return Outcome(Status.DELIVERED, attempt)
            error = f"HTTP {answer.status_code}"
            if answer.status_code not in RETRIED:
                return Outcome(Status.FAILED, attempt, error)
            if answer.status_code == 429:
                wait = retry_after(answer.headers.get("Retry-After"), now=datetime.now(UTC)) or wait
        if attempt == attempts:
            break
        assert wait is not None
        if clock() + wait >= deadline:
            return Outcome(Status.FAILED, attempt, f"{error}; the next attempt would be past the time allowed")
        sleep(wait)
    return Outcome(Status.FAILED, attempts, f"{error}; gave up after {attempts} attempt(s)")


class TooSlow(Exception):
    """The receiver did not finish answering in the time a request is allowed."""


def post_within(
    client: httpx.Client, url: str, content: bytes, headers: Mapping[str, str], seconds: float
) -> httpx.Response:
    """``client.post`` that returns within ``seconds`` of wall-clock time, or raises :class:`TooSlow`. httpx's
    timeouts bound each read, not the whole exchange: a receiver that trickles its answer a byte at a time would
    hold the command for as long as it likes. The request runs in a daemon thread, abandoned when it is late."""
    result: list[httpx.Response | BaseException] = []

    def run() -> None:
        try:
            result.append(client.post(url, content=content, headers=dict(headers), timeout=seconds))
        except BaseException as exc:  # handed to the caller's thread
            result.append(exc)

    thread = threading.Thread(target=run, name="couponctl-notify", daemon=True)
    thread.start()
    thread.join(seconds)
    if not result:
        raise TooSlow(f"no complete answer within {seconds:g}s: abandoned")
    answer = result[0]
    if isinstance(answer, BaseException):
        raise answer
    return answer


def retry_after(value: str | None, *, now: datetime) -> float | None:
    """Seconds a Retry-After header asks to wait: delay-seconds or an HTTP date; None when absent or unreadable."""
    if value is None:
        return None
    text = value.strip()
    if text.isascii() and text.isdigit():  # "²" is a digit float() cannot read
        return float(text)
    try:
        when = parsedate_to_datetime(text)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - now).total_seconds())


def _clean(text: str, url: str) -> str:
    return scrub(text.replace(url, "<url>"))
