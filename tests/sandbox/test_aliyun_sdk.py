"""The official SDK (``alibabacloud-resellertrade20191227``) against ``sandbox serve``: V3 signing by default,
V1 when configured; SendCoupon and GetCouponPage succeed, a wrong secret gets SignatureDoesNotMatch. No vendor host
is ever called: the SDK's endpoint is the served sandbox's loopback address."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl

import pytest

from reconciler.config.model import ProviderConfig, SandboxConfig
from reconciler.config.secrets import SecretRef
from reconciler.plan.model import PlanItem
from reconciler.providers.base import BatchResult, Outcome, Provider
from reconciler.providers.registry import build_provider
from reconciler.sandbox.aliyun_store import PageQuery
from reconciler.sandbox.app import create_app
from reconciler.sandbox.seed import parse_seed
from reconciler.sandbox.server import BackgroundServer
from reconciler.sandbox.store import Store
from reconciler.state.desired import Scope, ScopeSpec, Target
from tests.support.aliyun_sandbox import SEED, SELLER, STS_KEY, TEMPLATE, TEMPLATE_2
from tests.support.lazy import LazyModule

sdk_client = LazyModule("alibabacloud_resellertrade20191227.client")
sdk_models = LazyModule("alibabacloud_resellertrade20191227.models")
openapi_models = LazyModule("alibabacloud_tea_openapi.models")
exceptions = LazyModule("alibabacloud_tea_openapi.exceptions")


@pytest.fixture(scope="module")
def served() -> Iterator[tuple[BackgroundServer, Store]]:
    store = Store(None)
    store.load_seed(parse_seed(SEED, "seed.yaml"))
    with BackgroundServer(create_app(store)) as running:
        yield running, store
    store.close()


def client(
    server: BackgroundServer,
    *,
    algorithm: str | None = None,
    key: str = "ak-1",
    secret: str = "secret-1-SECRET",
    token: str | None = None,
) -> Any:
    config = openapi_models.Config(
        access_key_id=key,
        access_key_secret=secret,
        security_token=token,
        endpoint=server.url.removeprefix("http://"),
        protocol="http",
        read_timeout=10000,
        connect_timeout=5000,
    )
    if algorithm is not None:
        config.signature_algorithm = algorithm
    return sdk_client.Client(config)


def send(sdk: Any, uid: int, amount: float = 100.0, template: int = TEMPLATE) -> Any:
    request = sdk_models.SendCouponRequest(
        seller_id=SELLER,
        template_id=template,
        request_id=f"sdk-{uid}-{template}",
        from_app="sdk-test",
        user_amount_model_list=[sdk_models.SendCouponRequestUserAmountModelList(amount=amount, uid=uid)],
    )
    return sdk.send_coupon(request)


def page(sdk: Any, **fields: Any) -> Any:
    """GetCouponPage with the RequestId and FromApp the doc requires (the SDK's model leaves them optional)."""
    required = {"request_id": "sdk-page", "from_app": "sdk-test"}
    request = sdk_models.GetCouponPageRequest(seller_id=SELLER, page_no=1, page_size=20, **{**required, **fields})
    return sdk.get_coupon_page(request)


@pytest.mark.parametrize(("algorithm", "uid"), [(None, 101), ("v2", 102)], ids=["v3-default", "v1"])
def test_the_sdk_sends_and_reads_back(served: tuple[BackgroundServer, Store], algorithm: str | None, uid: int) -> None:
    server, _ = served
    sdk = client(server, algorithm=algorithm)
    sent = send(sdk, uid)
    assert sent.status_code == 200
    assert sent.body.success is True and sent.body.code == "success" and sent.body.request_id == f"sdk-{uid}-{TEMPLATE}"
    (entry,) = sent.body.data
    assert entry.uid == uid and entry.amount == 100.0 and entry.youhui_id > 0

    read = page(sdk, template_id=TEMPLATE, uids=[uid])
    assert read.body.success is True and read.body.total_count == 1
    (coupon,) = read.body.data
    assert (coupon.coupon_id, coupon.user_id, coupon.status) == (entry.youhui_id, uid, "AVAILABLE")
    assert coupon.amount == 100.0 and coupon.currency.currency_code == "CNY" and coupon.template_id == TEMPLATE


@pytest.mark.parametrize("algorithm", [None, "v2"], ids=["v3-default", "v1"])
def test_a_wrong_secret_gets_signature_does_not_match(
    served: tuple[BackgroundServer, Store], algorithm: str | None
) -> None:
    server, store = served
    sdk = client(server, algorithm=algorithm, secret="not-the-secret")
    with pytest.raises(exceptions.ClientException) as caught:
        send(sdk, 103)
    assert caught.value.code == "SignatureDoesNotMatch" and caught.value.status_code == 400
    assert 103 not in {c.uid for c in store.aliyun.page(PageQuery(SELLER, TEMPLATE, limit=100))[0]}


@pytest.mark.parametrize("algorithm", [None, "v2"], ids=["v3-default", "v1"])
def test_an_sts_key_with_its_token(served: tuple[BackgroundServer, Store], algorithm: str | None) -> None:
    server, _ = served
    sdk = client(
        server,
        algorithm=algorithm,
        key=STS_KEY.access_key_id,
        secret=STS_KEY.access_key_secret.reveal(),
        token=STS_KEY.security_token.reveal() if STS_KEY.security_token else None,
    )
    assert page(sdk, template_id=TEMPLATE_2).body.success is True


def test_a_business_refusal_reaches_the_sdk_as_success_false(served: tuple[BackgroundServer, Store]) -> None:
    server, _ = served
    refused = send(client(server), 999)  # not one of the seller's users
    assert refused.status_code == 200 and refused.body.success is False and refused.body.code == "ERROR_3086"


def test_a_discard_through_the_sdk(served: tuple[BackgroundServer, Store]) -> None:
    server, _ = served
    sdk = client(server)
    coupon = send(sdk, 104, amount=10.0, template=TEMPLATE_2).body.data[0].youhui_id
    discarded = sdk.discard_coupon_list(sdk_models.DiscardCouponListRequest(coupon_list=[coupon]))
    assert discarded.body.success is True and discarded.body.data is True
    statuses = {c.coupon_id: c.status for c in page(sdk, template_id=TEMPLATE_2, uids=[104]).body.data}
    assert statuses[coupon] == "ABANDONED"


def test_the_sdk_without_a_request_id_is_refused(served: tuple[BackgroundServer, Store]) -> None:
    """Seed 003 and the GetCouponPage doc mark RequestId required; the SDK's model does not, so the gateway refuses."""
    server, _ = served
    with pytest.raises(exceptions.ClientException) as caught:
        page(client(server), request_id=None)
    assert caught.value.code == "MissingParameter" and caught.value.status_code == 400


def test_couponctl_sends_bid_and_operator_as_the_sdk_does(served: tuple[BackgroundServer, Store]) -> None:
    """Seed 003's example sends bid and operator; the SDK's SendCouponRequest sends Bid (a Long) and Operator (a
    string) as form fields. couponctl, configured with them, puts the same fields in its form body."""
    server, store = served
    sdk_request = sdk_models.SendCouponRequest(
        seller_id=SELLER,
        template_id=TEMPLATE_2,
        request_id="sdk-bid",
        from_app="channel-team",
        bid=26842,
        operator="12345",
        user_amount_model_list=[sdk_models.SendCouponRequestUserAmountModelList(amount=10.0, uid=106)],
    )
    assert client(server).send_coupon(sdk_request).body.success is True
    by_sdk = dict(parse_qsl(store.calls()[-1].body))

    options = {"bid": 26842, "operator": "12345", "fromApp": "channel-team"}
    refs = {"accessKeyId": SecretRef("AK"), "accessKeySecret": SecretRef("SK")}
    config = ProviderConfig("reseller", "aliyun", "production", server.url, refs, options)
    provider = build_provider(config, SandboxConfig(seed=None, database=Path("unused.sqlite")), ENVIRON)
    spec = ScopeSpec(Scope("reseller", str(SELLER), str(TEMPLATE_2)), "aliyun", ("m",))
    result = asyncio.run(issue(provider, spec, [PlanItem(Target.uid(106), "m", Decimal(10))]))
    assert [r.outcome for r in result.results] == [Outcome.ISSUED]
    by_couponctl = dict(parse_qsl(store.calls()[-1].body))

    for name in ("Bid", "Operator", "FromApp", "SellerId", "TemplateId", "UserAmountModelList.1.Uid"):
        assert by_couponctl[name] == by_sdk[name], name
    assert (by_couponctl["Bid"], by_couponctl["Operator"]) == ("26842", "12345")
    assert by_couponctl["RequestId"] == result.request_id and result.request_id != by_sdk["RequestId"]


ENVIRON = {"AK": "ak-1", "SK": "secret-1-SECRET"}


async def issue(provider: Provider, spec: ScopeSpec, items: list[PlanItem]) -> BatchResult:
    try:
        (batch,) = provider.batches(spec, items)
        return await provider.issue(spec, batch)
    finally:
        await provider.aclose()
