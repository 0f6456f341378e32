"""HTTP plumbing: the token bucket, the concurrency limit, retry policy, Retry-After, httpx error mapping."""

from __future__ import annotations

import asyncio
import random
from datetime import UTC, datetime

import httpx
import pytest

from reconciler.config.secrets import Secret
from reconciler.errors import (
    ApiFaultError,
    MalformedResponse,
    NotSentError,
    OutcomeUnknownError,
    ProviderError,
    ThrottledError,
)
from reconciler.providers.adaptive import AdaptiveLimiter
from reconciler.providers.http import (
    FixedLimiter,
    HttpSettings,
    RetryPolicy,
    TokenBucket,
    build_client,
    limiter_for,
    malformed_response,
    redact,
    retry_after_seconds,
    transport_failure,
    with_retries,
)
from tests.support.virtual_time import SteppedTime


def test_token_bucket_allows_a_burst_then_the_rate() -> None:
    time = SteppedTime()
    bucket = TokenBucket(rate=2.0, burst=3, clock=time.clock, sleep=time.sleep)

    async def run() -> None:
        for _ in range(7):
            await bucket.acquire()

    asyncio.run(run())
    assert time.now == pytest.approx(2.0)  # 3 at once, then 4 more at 2 a second
    assert len(time.sleeps) == 4


def test_token_bucket_refills_while_idle() -> None:
    time = SteppedTime()
    bucket = TokenBucket(rate=1.0, burst=2, clock=time.clock, sleep=time.sleep)

    async def run() -> None:
        await bucket.acquire()
        await bucket.acquire()
        time.now += 10
        await bucket.acquire()
        await bucket.acquire()

    asyncio.run(run())
    assert time.sleeps == []


def test_limiter_bounds_concurrency() -> None:
    limiter = FixedLimiter(2, None)
    running = 0
    peak = 0

    async def one() -> None:
        nonlocal running, peak
        async with limiter:
            running += 1
            peak = max(peak, running)
            await asyncio.sleep(0)
            running -= 1

    async def run() -> None:
        await asyncio.gather(*(one() for _ in range(6)))

    asyncio.run(run())
    assert peak == 2


def test_unlimited_rate_has_no_bucket() -> None:
    unlimited = limiter_for(HttpSettings(requests_per_second=0, adaptive=False))
    limited = limiter_for(HttpSettings(requests_per_second=3, adaptive=False))
    assert isinstance(unlimited, FixedLimiter) and unlimited._bucket is None
    assert isinstance(limited, FixedLimiter) and limited._bucket is not None


def test_the_limiter_is_adaptive_unless_turned_off() -> None:
    assert isinstance(limiter_for(HttpSettings()), AdaptiveLimiter)
    assert isinstance(limiter_for(HttpSettings(adaptive=False)), FixedLimiter)


def test_backoff_is_exponential_with_jitter_and_capped() -> None:
    policy = RetryPolicy(attempts=10, base_delay=1.0, max_delay=8.0)
    rng = random.Random(1)
    for failures, cap in [(1, 1.0), (2, 2.0), (3, 4.0), (4, 8.0), (6, 8.0)]:
        delay = policy.backoff(failures, rng)
        assert cap / 2 <= delay <= cap


def test_retry_policy_gives_up_after_attempts() -> None:
    policy = RetryPolicy(attempts=3, base_delay=0.0)
    error = OutcomeUnknownError("x")
    rng = random.Random(0)
    assert policy.delay(error, 1, rng) == 0.0
    assert policy.delay(error, 2, rng) == 0.0
    assert policy.delay(error, 3, rng) is None


def test_retry_policy_waits_retry_after_within_the_limit() -> None:
    policy = RetryPolicy(attempts=3, base_delay=0.0, max_retry_after=30.0)
    rng = random.Random(0)
    assert policy.delay(ThrottledError("t", retry_after=12.0), 1, rng) == 12.0
    assert policy.delay(ThrottledError("t", retry_after=31.0), 1, rng) is None
    assert policy.delay(ThrottledError("t"), 1, rng) is None  # default 60 s is above this limit


def test_with_retries_only_retries_what_it_is_told() -> None:
    calls = 0
    time = SteppedTime()

    async def flaky() -> str:
        nonlocal calls
        calls += 1
        if calls < 3:
            raise OutcomeUnknownError("5xx")
        return "ok"

    async def rejected() -> str:
        raise ApiFaultError("400")

    policy = RetryPolicy(attempts=5, base_delay=0.0)
    retry_5xx = lambda e: isinstance(e, OutcomeUnknownError)  # noqa: E731
    result = asyncio.run(with_retries(flaky, policy=policy, retryable=retry_5xx, sleep=time.sleep, rng=random.Random()))
    assert (result, calls) == ("ok", 3)
    with pytest.raises(ApiFaultError):
        asyncio.run(with_retries(rejected, policy=policy, retryable=retry_5xx, sleep=time.sleep, rng=random.Random()))
    assert len(time.sleeps) == 2


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("7", 7.0),
        (" 1.5 ", 1.5),
        ("-3", 0.0),
        ("Wed, 21 Oct 2026 07:28:30 GMT", 30.0),
        ("soon", None),
        (None, None),
        ("", None),
    ],
)
def test_retry_after_seconds(header: str | None, expected: float | None) -> None:
    now = datetime(2026, 10, 21, 7, 28, 0, tzinfo=UTC)
    assert retry_after_seconds(header, now=now) == expected


@pytest.mark.parametrize(
    ("exc", "kind"),
    [
        (httpx.ConnectError("refused"), NotSentError),
        (httpx.ConnectTimeout("t"), NotSentError),
        (httpx.PoolTimeout("t"), NotSentError),
        (httpx.ReadTimeout("t"), OutcomeUnknownError),
        (httpx.WriteTimeout("t"), OutcomeUnknownError),
        (httpx.ReadError("reset"), OutcomeUnknownError),
        (httpx.WriteError("broken pipe"), OutcomeUnknownError),
        (httpx.RemoteProtocolError("dropped"), OutcomeUnknownError),
        (httpx.LocalProtocolError("bad"), OutcomeUnknownError),
    ],
)
def test_transport_failure_mapping(exc: httpx.TransportError, kind: type[Exception]) -> None:
    error = transport_failure(exc, provider="p", operation="op")
    assert type(error) is kind
    assert error.code == type(exc).__name__


def test_redact() -> None:
    assert redact("a SECRET b", [Secret("SECRET"), None, Secret("")]) == "a *** b"


def test_build_client_sets_timeouts_and_user_agent() -> None:
    settings = HttpSettings(connect_timeout=3, read_timeout=9, concurrency=2)
    client = build_client(base_url="https://x.test", user_agent="couponctl/9", settings=settings)
    assert client.timeout.connect == 3 and client.timeout.read == 9
    assert client.headers["User-Agent"] == "couponctl/9"
    assert "Authorization" not in client.headers
    asyncio.run(client.aclose())


def test_a_malformed_response_names_the_operation_and_its_tracking_id() -> None:
    error = malformed_response(
        MalformedResponse("Coupons is not a list"), provider="p", operation="SearchCoupons", tracking_id="T-1"
    )
    assert type(error) is ProviderError
    assert (error.provider, error.operation, error.tracking_id) == ("p", "SearchCoupons", "T-1")
    assert str(error) == "p SearchCoupons: malformed SearchCoupons response: Coupons is not a list (TrackingId T-1)"
