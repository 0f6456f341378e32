"""Delivery: retried with exponential backoff within bounded attempts and time, a 429's Retry-After honoured, only
https or loopback, and a failure that says why without quoting the URL."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import httpx
import pytest

from reconciler.notify.delivery import Backoff, Status, deliver, retry_after, url_problem
from tests.support.trickle import trickling_receiver

URL = "https://hooks.example.com/services/T000/B000/XXXXSECRET"


class Clock:
    """A clock that only moves when slept on."""

    def __init__(self) -> None:
        self.now = 0.0
        self.slept: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


def scripted(*answers: int | httpx.Response | Exception) -> tuple[httpx.Client, list[httpx.Request]]:
    seen: list[httpx.Request] = []
    queue: Iterator[int | httpx.Response | Exception] = iter(answers)

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        answer = next(queue, 200)
        if isinstance(answer, Exception):
            raise answer
        return answer if isinstance(answer, httpx.Response) else httpx.Response(answer)

    return httpx.Client(transport=httpx.MockTransport(handler)), seen


def test_a_failed_attempt_is_retried_with_exponential_backoff_until_it_succeeds() -> None:
    client, seen = scripted(503, 502, httpx.ConnectError("refused"), 200)
    clock = Clock()
    outcome = deliver(
        client, URL, b"{}", {}, attempts=5, deadline=60, backoff=Backoff(0.5, 4.0), sleep=clock.sleep, clock=clock
    )
    assert outcome.status is Status.DELIVERED and outcome.attempts == 4
    assert clock.slept == [0.5, 1.0, 2.0]
    assert len(seen) == 4 and seen[0].content == b"{}" and seen[0].headers["content-type"] == "application/json"


def test_backoff_doubles_up_to_its_cap() -> None:
    assert [Backoff(0.5, 3.0).wait(n) for n in range(1, 6)] == [0.5, 1.0, 2.0, 3.0, 3.0]


def test_attempts_exhausted_is_a_failure_with_the_last_error() -> None:
    client, seen = scripted(500, 500, 500, 500)
    clock = Clock()
    outcome = deliver(client, URL, b"{}", {}, attempts=3, deadline=60, sleep=clock.sleep, clock=clock)
    assert outcome.status is Status.FAILED and outcome.attempts == 3 and len(seen) == 3
    assert outcome.error is not None and "HTTP 500" in outcome.error


def test_a_429_waits_what_its_retry_after_says() -> None:
    client, _ = scripted(httpx.Response(429, headers={"Retry-After": "7"}), 200)
    clock = Clock()
    outcome = deliver(client, URL, b"{}", {}, attempts=3, deadline=60, sleep=clock.sleep, clock=clock)
    assert outcome.delivered and clock.slept == [7.0]  # not the backoff's 0.5


def test_a_retry_after_past_the_time_allowed_fails_without_waiting() -> None:
    client, seen = scripted(httpx.Response(429, headers={"Retry-After": "120"}))
    clock = Clock()
    outcome = deliver(client, URL, b"{}", {}, attempts=3, deadline=30, sleep=clock.sleep, clock=clock)
    assert outcome.status is Status.FAILED and outcome.attempts == 1 and clock.slept == [] and len(seen) == 1


def test_the_total_time_bounds_the_attempts() -> None:
    client, seen = scripted(503, 503, 503, 503, 503, 503)
    clock = Clock()
    outcome = deliver(
        client, URL, b"{}", {}, attempts=10, deadline=2.0, backoff=Backoff(0.5, 8.0), sleep=clock.sleep, clock=clock
    )
    assert (
        outcome.status is Status.FAILED and clock.slept == [0.5, 1.0] and len(seen) == 3
    )  # the next wait, 2s, would end past 2s


def test_retry_after_as_an_http_date() -> None:
    now = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)
    assert retry_after(format_datetime(now + timedelta(seconds=30), usegmt=True), now=now) == 30.0
    assert retry_after("soon", now=now) is None and retry_after(None, now=now) is None


def test_a_retry_after_of_non_ascii_digits_is_unreadable_not_a_crash() -> None:
    """``str.isdigit()`` holds for "²", which ``float()`` cannot read: such a header is unreadable (None)."""
    now = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)
    assert retry_after("²", now=now) is None and retry_after("1²", now=now) is None


@pytest.mark.parametrize("status", [400, 401, 404, 301])
def test_an_answer_that_retrying_cannot_change_fails_at_once(status: int) -> None:
    client, seen = scripted(status)
    clock = Clock()
    outcome = deliver(client, URL, b"{}", {}, attempts=4, deadline=60, sleep=clock.sleep, clock=clock)
    assert outcome.status is Status.FAILED and outcome.attempts == 1 and len(seen) == 1 and clock.slept == []


@pytest.mark.parametrize(
    ("url", "allowed"),
    [
        ("https://hooks.slack.com/services/x", True),
        ("http://127.0.0.1:8080/hook", True),
        ("http://localhost/hook", True),
        ("http://hooks.example.com/hook", False),
        ("ftp://hooks.example.com/hook", False),
        ("not a url", False),
    ],
)
def test_only_https_or_loopback_receives(url: str, allowed: bool) -> None:
    assert (url_problem(url) is None) is allowed


def test_plain_http_elsewhere_is_never_sent() -> None:
    client, seen = scripted()
    outcome = deliver(client, "http://hooks.example.com/x", b"{}", {}, attempts=3, deadline=60)
    assert outcome.status is Status.FAILED and outcome.attempts == 0 and seen == []


def test_a_transport_error_does_not_quote_the_url() -> None:
    client, _ = scripted(httpx.ConnectError(f"cannot reach {URL}"))
    clock = Clock()
    outcome = deliver(client, URL, b"{}", {}, attempts=1, deadline=60, sleep=clock.sleep, clock=clock)
    assert outcome.error is not None and "XXXXSECRET" not in outcome.error and "ConnectError" in outcome.error


def test_a_receiver_that_trickles_its_answer_is_abandoned_when_the_request_time_is_up() -> None:
    """httpx's timeouts bound each read: a byte every 0.2s never trips a 0.5s timeout. The delivery must still end
    when its request time is up (the whole answer would take seconds), as a failure that says why."""
    with trickling_receiver() as url, httpx.Client(trust_env=False) as client:
        outcome = deliver(
            client, url, b"{}", {}, attempts=1, deadline=time.monotonic() + 30, backoff=Backoff(timeout=0.5)
        )
    assert outcome.status is Status.FAILED and outcome.attempts == 1
    assert outcome.error is not None and "abandoned" in outcome.error


@pytest.mark.parametrize("url", ["https://a..b/hook", "https://xn--a.com/hook", "https://" + "h" * 300 + ".com/"])
def test_a_url_whose_host_cannot_be_encoded_fails_the_delivery_without_raising_or_quoting_it(url: str) -> None:
    """httpx raises UnicodeError (not an httpx error) for such a host, when it parses it or when it connects."""
    with httpx.Client(trust_env=False) as client:
        outcome = deliver(client, url, b"{}", {}, attempts=3, deadline=time.monotonic() + 30)
    assert outcome.status is Status.FAILED and outcome.attempts <= 1
    assert outcome.error is not None and ("could not be made" in outcome.error or "not a URL" in outcome.error)
    assert url.split("/")[2][:8] not in outcome.error
