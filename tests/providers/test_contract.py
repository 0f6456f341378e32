"""What every provider owes, whatever its vendor, written once and run for each (tests.support.vendor_contract):
an answer lost after the request left leaves its items in doubt and is never retried; a request that never left
fails; a server error is in doubt even when its body says throttling; a throttle, which proves nothing was
processed, is waited out as the vendor announces and retried, a bounded number of times, then fails; every attempt
is fenced right before it leaves, and a refused fence sends nothing more; a read whose paging does not advance,
or whose page cannot be read, is an error.

Vendor-specific behaviour (wire formats, signatures, partial errors, paging) stays in each vendor's tests."""

from __future__ import annotations

import httpx
import pytest

from reconciler.apply.lock import LeaseLostError
from reconciler.errors import ProviderError
from reconciler.providers.base import BatchResult, Outcome
from tests.support.msads_fakes import Sleeps
from tests.support.vendor_contract import VENDORS, RecordingFence, VendorAdapter


@pytest.fixture(params=VENDORS, ids=lambda vendor: vendor.name)
def vendor(request: pytest.FixtureRequest) -> VendorAdapter:
    adapter: VendorAdapter = request.param
    return adapter


def outcomes(result: BatchResult) -> list[Outcome]:
    return [r.outcome for r in result.results]


@pytest.mark.parametrize(
    "lost",
    [
        httpx.ReadTimeout("read"),
        httpx.WriteTimeout("write"),
        httpx.RemoteProtocolError("Server disconnected"),
        httpx.ReadError("connection reset"),
    ],
    ids=["read-timeout", "write-timeout", "remote-protocol-error", "read-error"],
)
def test_an_answer_lost_after_sending_leaves_every_item_in_doubt_and_is_never_retried(
    vendor: VendorAdapter, lost: Exception
) -> None:
    sleeps = Sleeps()
    script = vendor.script(lost, vendor.issued(2))
    result = vendor.issue(script, vendor.batch(2), sleeps=sleeps)
    assert outcomes(result) == [Outcome.IN_DOUBT, Outcome.IN_DOUBT]
    assert all(r.message for r in result.results)
    assert len(script.requests) == 1 and sleeps.waits == []
    assert result.request_id == vendor.request_id


@pytest.mark.parametrize("never_sent", [httpx.ConnectError("refused"), httpx.ConnectTimeout("connect")])
def test_a_request_that_never_left_fails_and_is_not_retried(vendor: VendorAdapter, never_sent: Exception) -> None:
    sleeps = Sleeps()
    script = vendor.script(never_sent, vendor.issued(1))
    result = vendor.issue(script, vendor.batch(1), sleeps=sleeps)
    assert outcomes(result) == [Outcome.FAILED]
    assert len(script.requests) == 1 and sleeps.waits == []


@pytest.mark.parametrize("status", [500, 502, 503])
def test_a_5xx_is_in_doubt_even_when_its_body_says_throttling(vendor: VendorAdapter, status: int) -> None:
    # A 5xx proves nothing about what the server processed before it failed: never retried, whatever the code.
    sleeps = Sleeps()
    script = vendor.script(vendor.throttled_5xx(status), vendor.issued(2))
    result = vendor.issue(script, vendor.batch(2), sleeps=sleeps)
    assert outcomes(result) == [Outcome.IN_DOUBT, Outcome.IN_DOUBT]
    assert len(script.requests) == 1 and sleeps.waits == []


def test_a_throttle_is_waited_out_as_announced_then_retried(vendor: VendorAdapter) -> None:
    throttled, wait_s = vendor.announced_wait
    sleeps = Sleeps()
    script = vendor.script(throttled, vendor.issued(2))
    result = vendor.issue(script, vendor.batch(2), sleeps=sleeps)
    assert outcomes(result) == [Outcome.ISSUED, Outcome.ISSUED]
    assert sleeps.waits == [wait_s]
    assert len(script.requests) == 2


def test_a_throttle_that_never_ends_fails_every_item_after_bounded_attempts_never_in_doubt(
    vendor: VendorAdapter,
) -> None:
    sleeps = Sleeps()
    script = vendor.script(vendor.throttled(2))
    result = vendor.issue(script, vendor.batch(2), sleeps=sleeps)
    assert outcomes(result) == [Outcome.FAILED, Outcome.FAILED]
    assert result.results[0].code == vendor.throttle_code and "throttled" in (result.results[0].message or "")
    assert len(script.requests) == vendor.issue_retry.attempts
    assert sleeps.waits == [2.0] * (vendor.issue_retry.attempts - 1)
    assert result.tracking_id == vendor.error_tracking_id and result.request_id == vendor.request_id


def test_every_attempt_is_fenced_right_before_it_leaves_throttle_retries_included(vendor: VendorAdapter) -> None:
    script = vendor.script(vendor.throttled(1), vendor.throttled(1), vendor.issued(2))
    fence = RecordingFence(lambda: len(script.requests))
    result = vendor.issue(script, vendor.batch(2), fence=fence)
    assert outcomes(result) == [Outcome.ISSUED, Outcome.ISSUED]
    assert fence.calls == [0, 1, 2]  # one fence before each of the three requests, none after


def test_a_refused_fence_sends_nothing_more(vendor: VendorAdapter) -> None:
    script = vendor.script(vendor.throttled(1), vendor.issued(1))
    fence = RecordingFence(lambda: len(script.requests), refuse_at=2)
    with pytest.raises(LeaseLostError):
        vendor.issue(script, vendor.batch(1), fence=fence)
    assert len(script.requests) == 1  # the throttled attempt (not processed); the retry never left


def test_paging_that_does_not_advance_is_an_error(vendor: VendorAdapter) -> None:
    with pytest.raises(ProviderError, match="does not advance"):
        vendor.read(vendor.script(vendor.stuck_page), settings=vendor.page_by_page)


def test_a_page_that_cannot_be_read_is_an_error(vendor: VendorAdapter) -> None:
    with pytest.raises(ProviderError, match=vendor.malformed_says):
        vendor.read(vendor.script(vendor.malformed_page))
