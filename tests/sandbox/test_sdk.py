"""The vendor's own Python REST SDK (msads 13.0.30.1: bingads + openapi_client) against ``sandbox serve``.

The SDK is pointed at a uvicorn server on a free loopback port; its OAuth refresh goes to the sandbox's token
endpoint (the SDK's token URL table is patched to the local URL: no vendor host is ever called).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from reconciler.sandbox.app import create_app
from reconciler.sandbox.faults import FaultPlan
from reconciler.sandbox.server import BackgroundServer
from reconciler.sandbox.store import Store
from tests.support.lazy import LazyModule
from tests.support.sandbox import SEED, msads_seed

bingads_auth = LazyModule("bingads.authorization")
bingads_client = LazyModule("bingads.service_client")
billing = LazyModule("openapi_client.models.billing")
exceptions = LazyModule("openapi_client.exceptions")


@pytest.fixture
def server() -> Iterator[BackgroundServer]:
    store = Store(None)
    store.load(msads_seed(SEED))
    with BackgroundServer(create_app(store)) as running:
        yield running
    store.close()


def sdk_client(url: str, monkeypatch: pytest.MonkeyPatch, *, refresh_token: str = "refresh-1") -> Any:
    """A CustomerBillingService client as the SDK builds it, its OAuth tokens got by refresh from the sandbox."""
    service = bingads_auth._UriOAuthService
    local = f"{url}/common/oauth2/v2.0/token"
    monkeypatch.setattr(service, "AUTH_TOKEN_URI", dict.fromkeys(service.AUTH_TOKEN_URI, local))
    authentication = bingads_auth.OAuthDesktopMobileAuthCodeGrant(client_id="app", env="sandbox")
    tokens = authentication.request_oauth_tokens_by_refresh_token(refresh_token)
    assert tokens.access_token.startswith("sandbox-at-") and tokens.access_token_expires_in_seconds == 60
    data = bingads_auth.AuthorizationData(
        developer_token="DEV-TOKEN-1", authentication=authentication, customer_id="100", account_id=None
    )
    return bingads_client.ServiceClient("CustomerBillingService", 13, authorization_data=data, location=url)


def search_page(client: Any, index: int, *, coupon_class: str = "RET-20") -> list[Any]:
    request = billing.SearchCouponsRequest(
        Predicates=[
            billing.Predicate(Field="CustomerId", Operator="Equals", Value="100"),
            billing.Predicate(Field="CouponClassName", Operator="Equals", Value=coupon_class),
        ],
        Ordering=[billing.OrderBy(Field="CouponClassName", Order="Ascending")],
        PageInfo=billing.Paging(Index=index, Size=100),
        ReturnAdditionalFields=billing.AccountAdditionalField.COUPONCLAIMINFO,
    )
    response = client.SearchCoupons(search_coupons_request=request)
    assert isinstance(response, billing.SearchCouponsResponse)
    return list(response.coupons)


def test_sdk_dispatch_distribute_and_search_several_pages(
    server: BackgroundServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    client = sdk_client(server.url, monkeypatch)

    dispatched = client.DispatchCoupons(
        dispatch_coupons_request=billing.DispatchCouponsRequest(
            SendToEmails=["one@example.com", "not an email"], CustomerId="100", CouponClassName="RET-20"
        )
    )
    assert isinstance(dispatched, billing.DispatchCouponsResponse)
    assert [(e.index, e.code) for e in dispatched.partial_errors] == [(1, 201)]

    distributed = client.DistributeCoupons(
        distribute_coupons_request=billing.DistributeCouponsRequest(
            AccountIds=[1001, 424242], ClassName="RET-20", FeatureId=3, SendNotification=False
        )
    )
    assert isinstance(distributed, billing.DistributeCouponsResponse)
    assert distributed.operation_errors == []
    assert [[e.code for e in entry] for entry in distributed.partial_errors] == [[], [2108]]

    pages = [search_page(client, index) for index in range(2)]
    assert [len(page) for page in pages] == [100, 50]
    coupons = pages[0] + pages[1]
    assert len({c.coupon_code for c in coupons}) == 150
    assert all(c.class_name == "RET-20" and c.amount == 20.0 and c.currency_code == "EUR" for c in coupons)
    assert [c.send_to_email for c in coupons if c.send_to_email] == ["one@example.com"]
    sent = next(c for c in coupons if c.send_to_email)
    assert sent.send_to_date is not None and sent.send_to_date.tzinfo is not None
    claimed = [c for c in coupons if c.claim_info is not None]
    assert len(claimed) == 1
    assert claimed[0].claim_info.account_id == "1001" and claimed[0].claim_info.account_number == "X0001001"
    assert claimed[0].claim_info.claim_date is not None
    assert coupons[0].start_date is not None and coupons[0].start_date.isoformat().startswith("2026-02-01")
    request = billing.SearchCouponsRequest(
        Predicates=[billing.Predicate(Field="CustomerId", Operator="Equals", Value="100")],
        PageInfo=billing.Paging(Index=0, Size=1),
    )
    with_info = client.search_coupons_with_http_info(search_coupons_request=request)
    assert with_info.status_code == 200 and with_info.headers["TrackingId"]
    assert "ClaimInfo" not in with_info.raw_data.decode()  # not asked for: omitted


def fault_of(error: Any) -> Any:
    """The fault of an SDK ApiException, as the SDK's Customer Billing ApplicationFault model reads it.

    The SDK's generated CustomerBillingServiceApi resolves the response type "ApplicationFault" through
    ``openapi_client.models``, where the AdInsight ApplicationFault (imported last) shadows the Customer Billing
    one, so ``ApiException.data`` is only ever a bare ApplicationFault for billing faults; the billing model
    itself dispatches on ``Type``.
    """
    assert error.data is not None  # the SDK did deserialize the body (as the shadowing ApplicationFault)
    return billing.ApplicationFault.from_json(error.body)


def test_sdk_parses_fault_bodies_as_application_fault_types(
    server: BackgroundServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    client = sdk_client(server.url, monkeypatch)
    request = billing.SearchCouponsRequest(
        Predicates=[billing.Predicate(Field="CouponCode", Operator="Equals", Value="ABCD")],
        PageInfo=billing.Paging(Index=0, Size=10),
    )
    with pytest.raises(exceptions.BadRequestException) as caught:
        client.SearchCoupons(search_coupons_request=request)
    fault = fault_of(caught.value)
    assert isinstance(fault, billing.ApiFault)
    assert [e.code for e in fault.operation_errors] == [3030]
    assert fault.tracking_id == caught.value.headers["TrackingId"]

    request = billing.SearchCouponsRequest(
        Predicates=[billing.Predicate(Field="CustomerId", Operator="Equals", Value="100")],
        PageInfo=billing.Paging(Index=0, Size=10),
    )
    client._authorization_data.authentication._oauth_tokens._access_token = "forged"
    with pytest.raises(exceptions.UnauthorizedException) as caught:
        client.SearchCoupons(search_coupons_request=request)
    fault = fault_of(caught.value)
    assert isinstance(fault, billing.AdApiFaultDetail)
    assert [(e.code, e.error_code) for e in fault.errors] == [(105, "InvalidCredentials")]


def test_sdk_sees_403_faults(server: BackgroundServer, monkeypatch: pytest.MonkeyPatch) -> None:
    client = sdk_client(server.url, monkeypatch)
    request = billing.DispatchCouponsRequest(SendToEmails=["a@example.com"], CustomerId="999", CouponClassName="X")
    with pytest.raises(exceptions.ForbiddenException) as caught:
        client.DispatchCoupons(dispatch_coupons_request=request)
    fault = fault_of(caught.value)
    assert isinstance(fault, billing.ApiFault) and fault.operation_errors[0].code == 1001


def test_sdk_against_an_injected_500(monkeypatch: pytest.MonkeyPatch) -> None:
    store = Store(None)
    store.load(msads_seed(SEED))
    with BackgroundServer(create_app(store, FaultPlan.parse(["search:error-500=1"]))) as running:
        client = sdk_client(running.url, monkeypatch)
        with pytest.raises(exceptions.ServiceException) as caught:
            search_page(client, 0)
    store.close()
    fault = fault_of(caught.value)
    assert isinstance(fault, billing.AdApiFaultDetail) and fault.errors[0].code == 0


# A feature adoption class (feature 9) beside the shared seed's classes, for the operations only the SDK reaches.
FAC_SEED = SEED.replace(
    "        - {name: FUTURE-5",
    "        - {name: FAC-9, type: Retention, amount: 9, currency: USD, coupons: 2, featureId: 9}\n"
    "        - {name: FUTURE-5",
)


def test_sdk_reads_get_coupon_info_and_uses_the_feature_adoption_operations(monkeypatch: pytest.MonkeyPatch) -> None:
    """getcouponinfo.md, checkfeatureadoptioncouponeligibility.md, claimfeatureadoptioncoupons.md: the SDK's own
    models parse what the sandbox answers."""
    assert "FAC-9" in FAC_SEED
    store = Store(None)
    store.load(msads_seed(FAC_SEED))
    with BackgroundServer(create_app(store)) as server:
        client = sdk_client(server.url, monkeypatch)
        eligible = client.CheckFeatureAdoptionCouponEligibility(
            check_feature_adoption_coupon_eligibility_request=billing.CheckFeatureAdoptionCouponEligibilityRequest(
                FeatureId=9, AccountIds=["1001", "1004"]
            )
        )
        assert eligible.eligible_account_ids == ["1001"]  # 1004 bills to another customer
        request = billing.SearchCouponsRequest(
            Predicates=[
                billing.Predicate(Field="CustomerId", Operator="Equals", Value="100"),
                billing.Predicate(Field="CouponClassName", Operator="Equals", Value="FAC-9"),
            ],
            PageInfo=billing.Paging(Index=0, Size=10),
        )
        code = client.SearchCoupons(search_coupons_request=request).coupons[0].coupon_code
        claimed = client.ClaimFeatureAdoptionCoupons(
            claim_feature_adoption_coupons_request=billing.ClaimFeatureAdoptionCouponsRequest(
                AccountCouponPairs=[billing.KeyValueEntityOflongAndstring(Key="1001", Value=code)]
            )
        )
        assert [(c.key, c.value is not None) for c in claimed.claimed_date_by_account_id] == [("1001", True)]
        assert claimed.operation_errors == [] and claimed.partial_errors == [[]]
        info = client.GetCouponInfo(get_coupon_info_request=billing.GetCouponInfoRequest(CustomerId="100"))
        assert [(d.account_id, d.feature_id, d.status) for d in info.coupon_info_data] == [(1001, 9, 1)]
        assert info.coupon_info_data[0].claim_date is not None
    store.close()
