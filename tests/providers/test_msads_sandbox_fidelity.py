"""The msads provider against the in-process sandbox, for what the doc pages require of a client: the ``CustomerId``
header on DistributeCoupons (distributecoupons.md: the body names no customer), GetCouponInfo (getcouponinfo.md,
couponinfodata.md)."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import pytest

from reconciler.errors import ApiFaultError
from reconciler.providers.base import Batch, BatchResult, Outcome
from reconciler.providers.msads.provider import MsAdsProvider, MsAdsSettings
from reconciler.providers.msads.wire import DISTRIBUTE, CouponInfo
from reconciler.state.desired import Scope, ScopeSpec
from tests.support.msads_fakes import (
    FAST_READS,
    Script,
    accounts,
    make_provider,
    reply,
    sandbox_provider,
)
from tests.support.provider_calls import issue_once
from tests.support.sandbox import NARROW_TOKEN, Sandbox, pred

SCOPE = Scope("msads-test", "100", "ACQ-10")
SPEC = ScopeSpec(SCOPE, "msads", ("m.yaml",), feature_id=7, send_notification=False)


@pytest.fixture
def sandbox() -> Iterator[Sandbox]:
    box = Sandbox()
    yield box
    box.store.close()


def run_issue(provider: MsAdsProvider, spec: ScopeSpec, ids: list[int]) -> BatchResult:
    return issue_once(provider, spec, Batch(spec.scope, DISTRIBUTE, tuple(accounts(ids))))


def coupon_info(provider: MsAdsProvider, customer: str) -> list[CouponInfo]:
    async def run() -> list[CouponInfo]:
        try:
            return await provider.coupon_info(customer)
        finally:
            await provider.aclose()

    return asyncio.run(run())


def test_distributecoupons_md_the_owner_customer_is_always_the_customer_id_header() -> None:
    """Even with another customerId configured for the provider (a manager customer), DistributeCoupons carries
    the scope's owner, through which the vendor finds the class; SendNotification is always in the body."""
    script = Script(reply({"OperationErrors": [], "PartialErrors": []}))
    provider = make_provider(script, settings=MsAdsSettings(customer_id="999", read_retry=FAST_READS))
    run_issue(provider, SPEC, [1001])
    (request,) = script.requests
    assert request.headers["CustomerId"] == "100"
    assert request.headers.get_list("CustomerId") == ["100"]
    assert "SendNotification" in request.read().decode()


def test_distributecoupons_md_issues_through_the_sandbox_with_the_header(sandbox: Sandbox) -> None:
    result = run_issue(sandbox_provider(sandbox, customer_id="999"), SPEC, [1001, 1002])
    assert [r.outcome for r in result.results] == [Outcome.ISSUED, Outcome.ISSUED]
    claimed = sandbox.coupons("100", pred("CouponClassName", "ACQ-10"), ReturnAdditionalFields="CouponClaimInfo")
    assert sorted(c["ClaimInfo"]["AccountId"] for c in claimed if "ClaimInfo" in c) == ["1001", "1002"]


def test_distributecoupons_md_operation_errors_fail_every_item_and_nothing_is_issued(sandbox: Sandbox) -> None:
    """A class the owner customer does not have: the sandbox answers OperationErrors (210), couponctl fails each
    item with that code and the sandbox store holds no new claim."""
    spec = ScopeSpec(Scope("msads-test", "200", "ACQ-10"), "msads", ("m.yaml",), send_notification=False)
    result = run_issue(sandbox_provider(sandbox), spec, [2001])
    assert [(r.outcome, r.code) for r in result.results] == [(Outcome.FAILED, "210")]
    assert "has no coupon class" in (result.results[0].message or "")
    claimed = sandbox.coupons("100", ReturnAdditionalFields="CouponClaimInfo")
    assert not any("ClaimInfo" in c for c in claimed)


def test_getcouponinfo_md_the_provider_reads_feature_id_and_claim_details(sandbox: Sandbox) -> None:
    sandbox.distribute([1001], "RET-20", feature=3)
    found = coupon_info(sandbox_provider(sandbox), "100")
    assert [(i.account_id, i.feature_id, i.status, i.claim_date) for i in found] == [
        (1001, 3, 1, "2026-06-01T12:00:00Z")
    ]
    assert found[0].currency == "EUR" and found[0].value == 20 and found[0].coupon_id is not None


def test_getcouponinfo_md_a_customer_the_caller_cannot_read_is_an_api_fault(sandbox: Sandbox) -> None:
    with pytest.raises(ApiFaultError) as caught:
        coupon_info(sandbox_provider(sandbox, token=NARROW_TOKEN), "100")
    assert caught.value.code == "1001"
