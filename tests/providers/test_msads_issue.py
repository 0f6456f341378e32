"""DistributeCoupons / DispatchCoupons through MockTransport: batches, exact bodies, per-item outcomes, and
which failures are FAILED (proved not processed) or IN_DOUBT (may have been processed)."""

from __future__ import annotations

import asyncio
import json

import httpx
import pytest

from reconciler.plan.model import PlanItem
from reconciler.providers.base import Batch, BatchResult, Outcome
from reconciler.providers.msads.provider import MsAdsSettings
from reconciler.providers.msads.wire import DISPATCH, DISTRIBUTE
from reconciler.state.desired import Target
from tests.support.msads_fakes import (
    ACCESS_TOKEN,
    DEV_TOKEN,
    FAST_READS,
    OWNER,
    SCOPE,
    SPEC,
    Script,
    Sleeps,
    accounts,
    emails,
    fault,
    make_provider,
    reply,
)
from tests.support.provider_calls import issue_once


def issue(script: Script, batch: Batch, *, sleeps: Sleeps | None = None) -> BatchResult:
    provider = make_provider(script, sleeps=sleeps)
    return issue_once(provider, SPEC, batch)


def dispatch(items: list[PlanItem]) -> Batch:
    return Batch(SCOPE, DISPATCH, tuple(items))


def distribute(items: list[PlanItem]) -> Batch:
    return Batch(SCOPE, DISTRIBUTE, tuple(items))


def outcomes(result: BatchResult) -> list[Outcome]:
    return [r.outcome for r in result.results]


# --- batches --------------------------------------------------------------------------------------------


def test_2500_emails_make_dispatch_batches_of_1000() -> None:
    items = emails(2500)
    batches = make_provider(Script()).batches(SPEC, items)
    assert [(b.operation, len(b.items)) for b in batches] == [(DISPATCH, 1000), (DISPATCH, 1000), (DISPATCH, 500)]
    assert [i for b in batches for i in b.items] == items
    assert all(b.scope == SCOPE for b in batches)


def test_accounts_use_the_distribute_batch_size_then_emails_follow() -> None:
    items = [*emails(3), *accounts(range(1, 8))]
    settings = MsAdsSettings(distribute_batch_size=3, dispatch_batch_size=2)
    batches = make_provider(Script(), settings=settings).batches(SPEC, items)
    assert [(b.operation, [i.target.value for i in b.items]) for b in batches] == [
        (DISTRIBUTE, ["1", "2", "3"]),
        (DISTRIBUTE, ["4", "5", "6"]),
        (DISTRIBUTE, ["7"]),
        (DISPATCH, ["user0@example.com", "user1@example.com"]),
        (DISPATCH, ["user2@example.com"]),
    ]


def test_default_distribute_batch_is_100() -> None:
    batches = make_provider(Script()).batches(SPEC, accounts(range(1, 251)))
    assert [len(b.items) for b in batches] == [100, 100, 50]


def test_dispatch_batch_size_cannot_exceed_1000() -> None:
    with pytest.raises(ValueError):
        MsAdsSettings(dispatch_batch_size=1001)


# --- exact requests -------------------------------------------------------------------------------------


def test_dispatch_request_is_exact() -> None:
    script = Script(reply({"PartialErrors": []}, tracking="T-42"))
    result = issue(script, dispatch(emails(2)))
    (request,) = script.requests
    assert request.method == "POST"
    assert request.url.path == "/CustomerBilling/v13/Coupons/Dispatch"
    assert json.loads(request.content) == {
        "SendToEmails": ["user0@example.com", "user1@example.com"],
        "CustomerId": OWNER,
        "CouponClassName": "SPRING27-ACQ-100",
    }
    assert isinstance(json.loads(request.content)["CustomerId"], str)
    assert request.headers["Authorization"] == f"Bearer {ACCESS_TOKEN}"
    assert request.headers["DeveloperToken"] == DEV_TOKEN
    assert outcomes(result) == [Outcome.ISSUED, Outcome.ISSUED]
    assert result.tracking_id == "T-42"


def test_distribute_request_is_exact() -> None:
    script = Script(reply({"OperationErrors": [], "PartialErrors": []}))
    result = issue(script, distribute(accounts([180535609, 180535610])))
    (request,) = script.requests
    assert request.url.path == "/CustomerBilling/v13/Coupons/Distribute"
    body = json.loads(request.content)
    assert body == {
        "AccountIds": [180535609, 180535610],
        "ClassName": "SPRING27-ACQ-100",
        "FeatureId": 12,
        "SendNotification": True,
    }
    assert all(type(a) is int for a in body["AccountIds"])
    assert outcomes(result) == [Outcome.ISSUED, Outcome.ISSUED]


def test_distribute_without_feature_sends_null() -> None:
    script = Script(reply({"OperationErrors": None, "PartialErrors": None}))
    provider = make_provider(script)
    spec = type(SPEC)(SCOPE, "msads", ("m.yaml",))

    async def run() -> BatchResult:
        return await provider.issue(spec, distribute(accounts([1])))

    asyncio.run(run())
    body = json.loads(script.requests[0].content)
    assert body["FeatureId"] is None
    assert body["SendNotification"] is False


# --- per-item results -----------------------------------------------------------------------------------


def test_dispatch_partial_errors_fail_their_email_only() -> None:
    errors = [{"Code": 4512, "Details": None, "Index": 1, "Message": "Invalid email"}]
    result = issue(Script(reply({"PartialErrors": errors})), dispatch(emails(3)))
    assert outcomes(result) == [Outcome.ISSUED, Outcome.FAILED, Outcome.ISSUED]
    failed = result.results[1]
    assert failed.item.target == Target.email("user1@example.com")
    assert (failed.code, failed.message) == ("4512", "Invalid email")


def test_distribute_partial_errors_are_aligned_with_account_ids() -> None:
    partial = [None, [{"Code": 2108, "Details": None, "Message": "Invalid account"}], []]
    result = issue(Script(reply({"OperationErrors": [], "PartialErrors": partial})), distribute(accounts([1, 2, 3])))
    assert outcomes(result) == [Outcome.ISSUED, Outcome.FAILED, Outcome.ISSUED]
    assert (result.results[1].code, result.results[1].message) == ("2108", "Invalid account")


def test_distribute_an_error_after_a_null_in_an_account_s_partial_errors_still_fails_it() -> None:
    """An account's PartialErrors entry is a list of OperationErrors: any error in it refuses the account, not
    only a first one (a null before it was read as success)."""
    partial = [[None, {"Code": 2108, "Message": "Invalid account"}], [None]]
    result = issue(Script(reply({"OperationErrors": [], "PartialErrors": partial})), distribute(accounts([1, 2])))
    assert outcomes(result) == [Outcome.FAILED, Outcome.ISSUED]
    assert (result.results[0].code, result.results[0].message) == ("2108", "Invalid account")


def test_distribute_operation_errors_alone_fail_every_item() -> None:
    body = {"OperationErrors": [{"Code": 202, "Details": None, "Message": "cannot complete"}], "PartialErrors": []}
    result = issue(Script(reply(body)), distribute(accounts([1, 2])))
    assert outcomes(result) == [Outcome.FAILED, Outcome.FAILED]
    assert result.results[0].code == "202"


def test_distribute_operation_errors_beside_partial_errors_leave_the_rest_in_doubt() -> None:
    body = {"OperationErrors": [{"Code": 202, "Message": "x"}], "PartialErrors": [[{"Code": 1, "Message": "y"}], []]}
    result = issue(Script(reply(body)), distribute(accounts([1, 2])))
    assert outcomes(result) == [Outcome.FAILED, Outcome.IN_DOUBT]


@pytest.mark.parametrize(
    ("batch", "body"),
    [
        (distribute(accounts([1, 2, 3])), {"PartialErrors": [[{"Code": 1, "Message": "y"}]]}),
        (dispatch(emails(2)), {"PartialErrors": [{"Code": 1, "Index": 5, "Message": "y"}]}),
        (dispatch(emails(2)), ["not", "an", "object"]),
    ],
    ids=["unaligned-partial-errors", "index-out-of-range", "not-an-object"],
)
def test_a_success_that_cannot_be_read_per_item_is_in_doubt(batch: Batch, body: object) -> None:
    result = issue(Script(reply(body)), batch)
    assert set(outcomes(result)) == {Outcome.IN_DOUBT}


def test_a_success_that_is_not_json_is_in_doubt() -> None:
    result = issue(Script(httpx.Response(200, text="<html>ok</html>")), dispatch(emails(1)))
    assert outcomes(result) == [Outcome.IN_DOUBT]


# --- whole-call failures --------------------------------------------------------------------------------

FAILURES: list[tuple[str, httpx.Response | Exception, Outcome]] = [
    ("400-api-fault", fault("ApiFault", 3024, 400), Outcome.FAILED),
    ("401-invalid-credentials", fault("AdApiFaultDetail", 105, 401), Outcome.FAILED),
    ("401-no-body", reply(None, 401), Outcome.FAILED),
    ("403-not-authorized", fault("ApiFault", 1001, 403), Outcome.FAILED),
    ("429-throttled", fault("AdApiFaultDetail", 117, 429, Retry_After="1"), Outcome.FAILED),
    ("500-internal", fault("AdApiFaultDetail", 0, 500), Outcome.IN_DOUBT),
    ("502-no-body", reply(None, 502), Outcome.IN_DOUBT),
    ("503-html", httpx.Response(503, text="<html>busy</html>", headers={"TrackingId": "TRK-1"}), Outcome.IN_DOUBT),
    ("read-timeout", httpx.ReadTimeout("timed out"), Outcome.IN_DOUBT),
    ("write-timeout", httpx.WriteTimeout("timed out"), Outcome.IN_DOUBT),
    ("remote-protocol-error", httpx.RemoteProtocolError("Server disconnected"), Outcome.IN_DOUBT),
    ("read-error", httpx.ReadError("connection reset"), Outcome.IN_DOUBT),
    ("connect-error", httpx.ConnectError("connection refused"), Outcome.FAILED),
    ("connect-timeout", httpx.ConnectTimeout("timed out"), Outcome.FAILED),
]


@pytest.mark.parametrize(("failure", "expected"), [f[1:] for f in FAILURES], ids=[f[0] for f in FAILURES])
@pytest.mark.parametrize("make_batch", [dispatch, distribute], ids=["dispatch", "distribute"])
def test_whole_call_failures_are_reported_per_item(
    failure: httpx.Response | Exception, expected: Outcome, make_batch: object
) -> None:
    batch = dispatch(emails(2)) if make_batch is dispatch else distribute(accounts([1, 2]))
    script = Script(failure)
    result = issue(script, batch)
    assert outcomes(result) == [expected, expected]
    assert all(r.message for r in result.results)
    if isinstance(failure, httpx.Response):
        assert result.tracking_id == "TRK-1"
        assert "TRK-1" in (result.results[0].message or "")


def test_fault_details_reach_the_item_result() -> None:
    result = issue(Script(fault("ApiFault", 3024, 400, message="batch size exceeds the limit")), dispatch(emails(1)))
    (item,) = result.results
    assert item.code == "3024"
    assert "batch size exceeds the limit" in (item.message or "")
    assert "HTTP 400" in (item.message or "")


@pytest.mark.parametrize(("status", "expected"), [(400, Outcome.FAILED), (500, Outcome.IN_DOUBT)])
@pytest.mark.parametrize("code", ["²", "1²", "\u0661\u0660\u0660"])
def test_a_fault_code_of_non_ascii_digits_is_an_unknown_code_not_a_crash(
    code: str, status: int, expected: Outcome
) -> None:
    """``str.isdigit()`` holds for "²", which ``int()`` cannot read: a fault whose Code is such a string is read
    as a fault without a known code (its HTTP status decides), never an exception out of ``issue``."""
    body = {"Type": "ApiFault", "OperationErrors": [{"Code": code, "Message": "refused"}]}
    result = issue(Script(reply(body, status)), distribute(accounts([1])))
    assert outcomes(result) == [expected]
    assert "refused" in (result.results[0].message or "")


@pytest.mark.parametrize(
    "failure",
    [
        fault("AdApiFaultDetail", 0, 500),
        httpx.ReadTimeout("t"),
        httpx.RemoteProtocolError("x"),
        httpx.ConnectError("c"),
    ],
    ids=["500", "read-timeout", "remote-protocol-error", "connect-error"],
)
def test_issue_is_never_retried_unless_proved_unprocessed(failure: httpx.Response | Exception) -> None:
    sleeps = Sleeps()
    script = Script(failure, reply({"PartialErrors": []}))
    issue(script, dispatch(emails(1)), sleeps=sleeps)
    assert len(script.requests) == 1
    assert sleeps.waits == []


def test_issue_throttled_is_retried_after_retry_after() -> None:
    sleeps = Sleeps()
    throttled = fault("AdApiFaultDetail", 117, 429, Retry_After="12")
    script = Script(throttled, reply({"PartialErrors": []}, tracking="T-OK"))
    result = issue(script, dispatch(emails(2)), sleeps=sleeps)
    assert outcomes(result) == [Outcome.ISSUED, Outcome.ISSUED]
    assert sleeps.waits == [12.0]
    assert len(script.requests) == 2
    assert script.requests[0].content == script.requests[1].content
    assert result.tracking_id == "T-OK"


def test_issue_throttle_code_117_without_429_is_retried_too() -> None:
    sleeps = Sleeps()
    script = Script(fault("ApiFault", 117, 400), reply({"PartialErrors": []}))
    result = issue(script, dispatch(emails(1)), sleeps=sleeps)
    assert outcomes(result) == [Outcome.ISSUED]
    assert sleeps.waits == [60.0]


def test_issue_throttle_longer_than_the_limit_is_not_waited() -> None:
    sleeps = Sleeps()
    script = Script(fault("AdApiFaultDetail", 117, 429, Retry_After="86400"), reply({"PartialErrors": []}))
    result = issue(script, dispatch(emails(1)), sleeps=sleeps)
    assert outcomes(result) == [Outcome.FAILED]
    assert len(script.requests) == 1
    assert sleeps.waits == []


def test_settings_defaults_keep_issue_attempts_small() -> None:
    assert MsAdsSettings().issue_retry.attempts == 3
    assert FAST_READS.attempts > 1


def test_an_unknown_operation_fails_without_sending() -> None:
    script = Script(reply({"PartialErrors": []}))
    result = issue(script, Batch(SCOPE, "RedeemCoupon", tuple(emails(1))))
    assert outcomes(result) == [Outcome.FAILED]
    assert script.requests == []
