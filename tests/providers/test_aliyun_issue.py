"""SendCoupon through MockTransport: exact requests (method, form body, signature headers), one RequestId per call,
batch sizes, and which failures are FAILED (proved not processed) or IN_DOUBT (may have been processed)."""

from __future__ import annotations

import asyncio
import logging
import uuid
from decimal import Decimal

import httpx
import pytest

from reconciler.errors import ProviderError
from reconciler.plan.model import PlanItem
from reconciler.providers.aliyun.provider import AliyunSettings
from reconciler.providers.aliyun.wire import SEND
from reconciler.providers.base import Batch, BatchResult, Outcome
from reconciler.signing import acs
from reconciler.state.desired import Target
from tests.support.aliyun_fakes import (
    FAST_ISSUES,
    KEY_ID,
    SCOPE,
    SECRET,
    SPEC,
    STS,
    TOKEN,
    Script,
    Sleeps,
    envelope,
    form,
    gateway_error,
    make_provider,
    query,
    reply,
    sent,
    uids,
    v1_valid,
    v3_valid,
)
from tests.support.provider_calls import issue_once


def issue(
    script: Script,
    batch: Batch,
    *,
    settings: AliyunSettings | None = None,
    sleeps: Sleeps | None = None,
    **kwargs: object,
) -> BatchResult:
    provider = make_provider(script, settings=settings, sleeps=sleeps, **kwargs)  # type: ignore[arg-type]
    return issue_once(provider, SPEC, batch)


def send_batch(*values: int) -> Batch:
    return Batch(SCOPE, SEND, tuple(uids(*values)))


def outcomes(result: BatchResult) -> list[Outcome]:
    return [r.outcome for r in result.results]


# --- batches --------------------------------------------------------------------------------------------


def test_batches_of_send_batch_size_in_order() -> None:
    items = uids(*range(1, 121))
    batches = make_provider(Script()).batches(SPEC, items)
    assert [(b.operation, len(b.items)) for b in batches] == [(SEND, 50), (SEND, 50), (SEND, 20)]
    assert [i for b in batches for i in b.items] == items
    small = make_provider(Script(), settings=AliyunSettings(send_batch_size=2)).batches(SPEC, items[:5])
    assert [len(b.items) for b in small] == [2, 2, 1]


@pytest.mark.parametrize(
    "item",
    [PlanItem(Target.email("a@example.com"), "m"), PlanItem(Target.uid(1), "m"), PlanItem(Target.account(1), "m")],
)
def test_only_uids_with_an_amount_can_be_batched(item: PlanItem) -> None:
    with pytest.raises(ProviderError, match="uids with an amount"):
        make_provider(Script()).batches(SPEC, [item])


def test_settings_are_checked() -> None:
    for bad in (
        {"signature": "v2"},
        {"send_batch_size": 0},
        {"send_batch_size": 1001},
        {"from_app": ""},
        {"bid": -1},
        {"bid": 2**63},
        {"operator": ""},
    ):
        with pytest.raises(ValueError):
            AliyunSettings(**bad)


# --- the request ----------------------------------------------------------------------------------------


def test_send_coupon_is_a_signed_v3_form_post() -> None:
    script = Script(sent("1918000000883", "1918000000884"))
    result = issue(script, send_batch(1918000000883, 1918000000884))
    assert outcomes(result) == [Outcome.ISSUED, Outcome.ISSUED]
    (request,) = script.requests
    assert request.method == "POST" and str(request.url) == "https://resellertrade.aliyuncs.com/"
    assert request.headers["Content-Type"] == "application/x-www-form-urlencoded"
    assert request.content == (
        b"FromApp=couponctl&RequestId=req-1&SellerId=3944837183&TemplateId=295873"
        b"&UserAmountModelList.1.Amount=100&UserAmountModelList.1.Uid=1918000000883"
        b"&UserAmountModelList.2.Amount=100&UserAmountModelList.2.Uid=1918000000884"
    )
    assert query(request) == {}
    headers = request.headers
    assert headers["x-acs-action"] == "SendCoupon" and headers["x-acs-version"] == "2019-12-27"
    assert headers["x-acs-date"] == "2026-06-01T12:00:00Z" and headers["x-acs-signature-nonce"] == "nonce-1"
    assert headers["x-acs-content-sha256"] == acs.sha256_hex(request.content)
    assert headers["Authorization"].startswith(f"ACS3-HMAC-SHA256 Credential={KEY_ID},SignedHeaders=content-type;host;")
    assert v3_valid(request)
    assert "x-acs-security-token" not in headers
    assert result.request_id == "req-1" and result.tracking_id == "GW-REQ-1"


def test_decimal_amounts_and_from_app() -> None:
    script = Script(sent("7"))
    items = (PlanItem(Target.uid(7), "m", Decimal("99.50")),)
    issue(script, Batch(SCOPE, SEND, items), settings=AliyunSettings(from_app="channel-team"))
    body = form(script.requests[0])
    assert body["UserAmountModelList.1.Amount"] == "99.50" and body["FromApp"] == "channel-team"


def test_bid_and_operator_are_form_fields_as_the_sdk_sends_them() -> None:
    """Seed 003's example sends bid and operator; the SDK's SendCouponRequest has ``Bid`` (a Long) and ``Operator``
    (a string), sent in the form body with the other fields, only when set (the exact body above has neither)."""
    script = Script(sent("1"))
    issue(script, send_batch(1), settings=AliyunSettings(bid=26842, operator="12345"))
    (request,) = script.requests
    assert request.content == (
        b"Bid=26842&FromApp=couponctl&Operator=12345&RequestId=req-1&SellerId=3944837183&TemplateId=295873"
        b"&UserAmountModelList.1.Amount=100&UserAmountModelList.1.Uid=1"
    )
    assert query(request) == {} and v3_valid(request)


def test_v1_puts_the_signature_in_the_query_and_the_parameters_in_the_form() -> None:
    script = Script(sent("1"))
    issue(script, send_batch(1), settings=AliyunSettings(signature="v1", issue_retry=FAST_ISSUES), credentials=STS)
    (request,) = script.requests
    params = query(request)
    assert {k for k in params if k != "Signature"} == {
        "Action", "Version", "Format", "AccessKeyId", "SignatureMethod", "SignatureVersion", "SignatureNonce",
        "Timestamp", "SecurityToken",
    }  # fmt: skip
    assert params["Action"] == "SendCoupon" and params["Timestamp"] == "2026-06-01T12:00:00Z"
    assert params["SecurityToken"] == TOKEN
    assert form(request)["UserAmountModelList.1.Uid"] == "1"
    assert "Authorization" not in request.headers and v1_valid(request)


def test_an_sts_token_is_sent_and_signed_with_v3() -> None:
    script = Script(sent("1"))
    issue(script, send_batch(1), credentials=STS)
    request = script.requests[0]
    assert request.headers["x-acs-security-token"] == TOKEN
    assert "x-acs-security-token" in request.headers["Authorization"] and v3_valid(request)


def test_every_call_has_its_own_request_id_and_nonce() -> None:
    script = Script(sent("1"), sent("2"))
    provider = make_provider(script, deterministic=False)

    async def run() -> list[BatchResult]:
        try:
            return [await provider.issue(SPEC, send_batch(1)), await provider.issue(SPEC, send_batch(2))]
        finally:
            await provider.aclose()

    first, second = asyncio.run(run())
    bodies = [form(r) for r in script.requests]
    assert first.request_id == bodies[0]["RequestId"] and second.request_id == bodies[1]["RequestId"]
    assert first.request_id != second.request_id
    for request_id in (first.request_id, second.request_id):  # a random UUID: nothing of the AccessKey in it
        assert request_id is not None and str(uuid.UUID(request_id)) == request_id
        assert KEY_ID not in request_id and SECRET not in request_id
    nonces = {r.headers["x-acs-signature-nonce"] for r in script.requests}
    assert len(nonces) == 2


# --- outcomes -------------------------------------------------------------------------------------------


def test_throttling_is_retried_after_backoff_with_a_fresh_signature_and_the_same_request_id() -> None:
    script = Script(gateway_error("Throttling.User", 400), gateway_error("Throttling", 400), sent("1"))
    sleeps = Sleeps()
    result = issue(script, send_batch(1), sleeps=sleeps)
    assert outcomes(result) == [Outcome.ISSUED]
    assert len(script.requests) == 3 and len(sleeps.waits) == 2
    assert {form(r)["RequestId"] for r in script.requests} == {"req-1"}
    assert len({r.headers["x-acs-signature-nonce"] for r in script.requests}) == 3
    assert all(v3_valid(r) for r in script.requests)


def test_a_429_is_throttling_too() -> None:
    script = Script(reply(None, 429), sent("1"))
    assert outcomes(issue(script, send_batch(1))) == [Outcome.ISSUED]


def test_success_false_is_failed_with_the_answers_code() -> None:
    script = Script(reply(envelope(None, success=False, code="ERROR_3089", Message="The issuance limit is exceeded")))
    result = issue(script, send_batch(1, 2))
    assert outcomes(result) == [Outcome.FAILED, Outcome.FAILED]
    assert result.results[0].code == "ERROR_3089" and "issuance limit" in (result.results[0].message or "")
    assert len(script.requests) == 1


def test_success_false_but_a_uid_listed_as_sent_is_issued() -> None:
    data = [{"Amount": 100, "Uid": 1, "YouhuiId": 9}]
    script = Script(reply(envelope(data, success=False, code="PartialFailure")))
    assert outcomes(issue(script, send_batch(1, 2))) == [Outcome.ISSUED, Outcome.FAILED]


def test_success_true_without_listing_a_uid_leaves_it_in_doubt() -> None:
    result = issue(Script(sent("1")), send_batch(1, 2))
    assert outcomes(result) == [Outcome.ISSUED, Outcome.IN_DOUBT]
    assert result.results[1].code == "NotListed"
    assert outcomes(issue(Script(reply(envelope(None))), send_batch(1))) == [Outcome.IN_DOUBT]


def test_an_answer_without_success_or_unreadable_is_in_doubt() -> None:
    assert outcomes(issue(Script(reply({"RequestId": "x"})), send_batch(1))) == [Outcome.IN_DOUBT]
    unreadable = reply(envelope([{"Uid": "not-a-uid"}]))
    result = issue(Script(unreadable), send_batch(1))
    assert outcomes(result) == [Outcome.IN_DOUBT] and result.results[0].code == "MalformedResponse"


@pytest.mark.parametrize(
    ("response", "code"),
    [
        (gateway_error("InvalidParameter", 400), "InvalidParameter"),
        (gateway_error("MissingParameter", 400), "MissingParameter"),
        (gateway_error("SignatureDoesNotMatch", 400), "SignatureDoesNotMatch"),
        (gateway_error("InvalidAccessKeyId.NotFound", 404), "InvalidAccessKeyId.NotFound"),
        (gateway_error("Forbidden.RAM", 403), "Forbidden.RAM"),
        (gateway_error("InvalidAction.NotFound", 404), "InvalidAction.NotFound"),
    ],
)
def test_4xx_gateway_refusals_are_failed_and_not_retried(response: httpx.Response, code: str) -> None:
    script = Script(response)
    result = issue(script, send_batch(1))
    assert outcomes(result) == [Outcome.FAILED] and result.results[0].code == code
    assert len(script.requests) == 1


@pytest.mark.parametrize(
    "response",
    [
        gateway_error("InternalError", 500),
        gateway_error("ServiceUnavailable", 503),
        reply(None, 502),
        httpx.Response(504, text="<html>gateway timeout</html>"),
        httpx.Response(200, text="not json"),
        reply(None, 302),
    ],
)
def test_5xx_and_unreadable_answers_are_in_doubt_and_not_retried(response: httpx.Response) -> None:
    script = Script(response)
    assert outcomes(issue(script, send_batch(1, 2))) == [Outcome.IN_DOUBT, Outcome.IN_DOUBT]
    assert len(script.requests) == 1


def test_no_secret_in_results_errors_or_logs(caplog: pytest.LogCaptureFixture) -> None:
    echo = gateway_error("SignatureDoesNotMatch", 400, f"server string to sign ... {SECRET} {TOKEN}")
    caplog.set_level(logging.DEBUG)
    result = issue(Script(echo), send_batch(1), credentials=STS)
    text = f"{result} {caplog.text}"
    assert SECRET not in text and TOKEN not in text and "***" in (result.results[0].message or "")
    provider = make_provider(Script(), credentials=STS)
    assert SECRET not in repr(provider) and TOKEN not in repr(provider)
    asyncio.run(provider.aclose())
