"""The msads provider's claims read (the second witness of in-doubt resolution, docs/safety.md "In doubt"):
GetCouponInfo (getcouponinfo.md, couponinfodata.md) of each receiving customer, the scope's owner and the configured
``customerId``, against the in-process sandbox. A customer the caller may not read, or whose read fails, is named as
unavailable, never read as holding nothing."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from datetime import UTC, datetime
from decimal import Decimal

import pytest

from reconciler.providers.base import ClaimsRead, ClaimWitness, HeldClaim
from reconciler.providers.msads.provider import MsAdsProvider
from reconciler.sandbox.faults import FaultPlan
from reconciler.state.desired import Scope, ScopeSpec, Target
from tests.support.msads_fakes import sandbox_provider
from tests.support.sandbox import NARROW_TOKEN, SEED, START, Sandbox

OWN = ScopeSpec(Scope("msads-test", "100", "RET-20"), "msads", ("m.yaml",), send_notification=False)
# Customer 200's class; account 1004 bills to 200 but customer 100 manages it (the receiving customer).
AGENCY = ScopeSpec(Scope("msads-test", "200", "OTHER-1"), "msads", ("m.yaml",), send_notification=False)


@pytest.fixture
def sandbox() -> Iterator[Sandbox]:
    box = Sandbox()
    yield box
    box.store.close()


def read_claims(provider: MsAdsProvider, spec: ScopeSpec, targets: list[Target]) -> ClaimsRead:
    async def run() -> ClaimsRead:
        try:
            return await provider.read_claims(spec, targets)
        finally:
            await provider.aclose()

    return asyncio.run(run())


def test_the_msads_provider_is_a_claim_witness(sandbox: Sandbox) -> None:
    assert isinstance(sandbox_provider(sandbox), ClaimWitness)


def test_getcouponinfo_md_shows_the_owners_accounts_claims_and_covers_accounts_only(sandbox: Sandbox) -> None:
    """Accounts only: an emailed coupon has no account in CouponInfoData, so an email is not covered (no word
    either way); the claim carries the vendor's ClaimDate, CouponValue, CurrencyCode and FeatureId."""
    sandbox.distribute([1001], "RET-20", feature=3)
    account, email = Target.account("1001"), Target.email("a@example.com")
    read = read_claims(sandbox_provider(sandbox), OWN, [account, email])
    assert read.source == "GetCouponInfo of customer 100" and read.unavailable == ()
    assert read.covered == frozenset({account})
    assert read.claims == (HeldClaim(account, datetime.fromtimestamp(START, UTC), Decimal(20), "EUR", 3),)


def test_getcouponinfo_md_a_receiving_customer_the_caller_may_not_read_is_unavailable(sandbox: Sandbox) -> None:
    """Account 1004 claims a coupon of customer 200's class. A caller reaching customer 200 alone may read 200
    (which does not manage 1004) but not 100 (which does): 100 is named unavailable (code 1001, not authorized),
    and the claim is not shown. A caller that may read 100 sees it."""
    assert sandbox.distribute([1004], "OTHER-1", feature=None, customer="200").json()["PartialErrors"] == [[]]
    agency = Target.account("1004")
    refused = read_claims(sandbox_provider(sandbox, token=NARROW_TOKEN, customer_id="100"), AGENCY, [agency])
    assert refused.source == "GetCouponInfo of customer 200, 100"
    assert refused.claims == () and refused.covered == frozenset({agency})
    (why,) = refused.unavailable
    assert why.startswith("GetCouponInfo of customer 100 failed") and "1001" in why
    allowed = read_claims(sandbox_provider(sandbox, customer_id="100"), AGENCY, [agency])
    assert allowed.unavailable == () and [c.target for c in allowed.claims] == [agency]


def test_getcouponinfo_md_a_failing_read_is_unavailable_not_empty() -> None:
    box = Sandbox(faults=FaultPlan.parse(["couponinfo:error-500=1"], seed=0), seed=SEED)
    try:
        box.distribute([1001], "RET-20")
        read = read_claims(sandbox_provider(box), OWN, [Target.account("1001")])
    finally:
        box.store.close()
    assert read.claims == () and len(read.unavailable) == 1 and "customer 100" in read.unavailable[0]
