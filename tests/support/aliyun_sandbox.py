"""An in-process Alibaba Cloud sandbox for the tests, and requests signed as the SDK signs them (with the provider's
``signed_request``; a test can bend any part before sending). The signing itself is held by the published vectors
and by the official SDK's own requests (test_aliyun_sdk)."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import httpx

from reconciler.config.secrets import Secret
from reconciler.providers.aliyun.provider import signed_request
from reconciler.sandbox.embedded import EmbeddedTransport
from reconciler.sandbox.faults import FaultPlan
from reconciler.sandbox.seed import parse_seed
from reconciler.sandbox.store import Store
from reconciler.signing import acs
from tests.support.sandbox import Clock

BASE_URL = "http://sandbox.local"
SELLER = 3944837183
TEMPLATE = 295873  # 100 CNY at most, one a uid, four in all
TEMPLATE_2 = 295874  # 50, two a uid, valid 30 days; 105 holds an EXHAUSTED coupon, 104 a 20 CNY one
TEMPLATE_OLD = 295875  # 10, no per-uid limit, valid in Q1 2026 only (the sandbox clock is June 2026)
OTHER_SELLER = 555
OTHER_TEMPLATE = 777
KEY = acs.AcsCredentials("ak-1", Secret("secret-1-SECRET"))
STS_KEY = acs.AcsCredentials("sts-ak", Secret("sts-secret-SECRET"), Secret("sts-token-SECRET"))

SEED = f"""
aliyun:
  accessKeys:
    - {{id: ak-1, secret: secret-1-SECRET}}
    - {{id: sts-ak, secret: sts-secret-SECRET, securityToken: sts-token-SECRET}}
  sellers:
    - id: {SELLER}
      users: [101, 102, 103, 104, 105, 106]
      templates:
        - {{id: {TEMPLATE}, amount: 100, perLimit: 1, maxRelease: 4}}
        - {{id: {TEMPLATE_2}, amount: 50, perLimit: 2, validDays: 30,
           coupons: [{{uid: 105, status: EXHAUSTED}}, {{uid: 104, amount: 20}}]}}
        - {{id: {TEMPLATE_OLD}, amount: 10, perLimit: 0, startDate: 2026-01-01, endDate: 2026-03-31}}
    - id: {OTHER_SELLER}
      users: [201]
      templates: [{{id: {OTHER_TEMPLATE}, amount: 5}}]
"""

# SendCoupon's and GetCouponPage's RequestId and FromApp: required by the doc (seed 003), and by the sandbox.
REQUIRED = {"RequestId": "req-1", "FromApp": "tests"}

Bend = Callable[[httpx.Request], object]  # what it returns is ignored


def users(*entries: tuple[int, object]) -> dict[str, str]:
    """``UserAmountModelList.N.{Amount,Uid}`` as the SDK flattens them."""
    return acs.flatten({"UserAmountModelList": [{"Amount": amount, "Uid": uid} for uid, amount in entries]})


@dataclass
class Signing:
    """How to sign one call; every field can be bent by a test."""

    signature: str = "v3"
    credentials: acs.AcsCredentials = KEY
    method: str | None = None  # default: GET for GetCouponPage, POST otherwise
    moment: datetime | None = None  # default: the sandbox clock
    nonce: str | None = None
    version: str = "2019-12-27"


class AliyunSandbox:
    """The application over an in-memory store seeded with SEED, on a settable clock."""

    def __init__(self, faults: FaultPlan | None = None, seed: str = SEED) -> None:
        self.clock = Clock()
        self.store = Store(None, clock=self.clock)
        self.store.load_seed(parse_seed(seed, "seed.yaml"))
        self.transport = EmbeddedTransport(self.store, faults)
        self.client = httpx.AsyncClient(base_url=BASE_URL)  # only builds requests; they go to the transport

    def close(self) -> None:
        asyncio.run(self.client.aclose())
        self.store.close()

    def request(self, action: str, params: Mapping[str, str], signing: Signing | None = None) -> httpx.Request:
        """A request signed as the SDK would sign it (V3 headers, or V1 common parameters)."""
        how = signing or Signing()
        return signed_request(
            self.client,
            action,
            params,
            credentials=how.credentials,
            signature=how.signature,
            moment=how.moment or datetime.fromtimestamp(self.clock(), UTC),
            nonce=how.nonce or uuid.uuid4().hex,
            method=how.method,
            version=how.version,
        )

    def send(self, request: httpx.Request) -> httpx.Response:
        async def go() -> httpx.Response:
            response = await self.transport.handle_async_request(request)
            await response.aread()
            return response

        return asyncio.run(go())

    def call(
        self, action: str, params: Mapping[str, str], signing: Signing | None = None, bend: Bend | None = None
    ) -> httpx.Response:
        request = self.request(action, params, signing)
        if bend is not None:
            bend(request)
        return self.send(request)

    # --- the three actions, as the SDK sends them ----------------------------------------------------------

    def send_coupon(
        self,
        *entries: tuple[int, object],
        seller: int = SELLER,
        template: int = TEMPLATE,
        signing: Signing | None = None,
        request_id: str = "req-1",
    ) -> httpx.Response:
        params = {"SellerId": str(seller), "TemplateId": str(template), **REQUIRED, "RequestId": request_id}
        return self.call("SendCoupon", {**params, **users(*entries)}, signing)

    def page(
        self,
        *,
        seller: int = SELLER,
        template: int | None = TEMPLATE,
        uids: tuple[int, ...] = (),
        page_no: int = 1,
        page_size: int = 20,
        signing: Signing | None = None,
    ) -> httpx.Response:
        params: dict[str, object] = {"SellerId": seller, "PageNo": page_no, "PageSize": page_size, **REQUIRED}
        if template is not None:
            params["TemplateId"] = template
        if uids:
            params["Uids"] = list(uids)
        return self.call("GetCouponPage", acs.flatten(params), signing)

    def coupons(self, **query: Any) -> list[dict[str, Any]]:
        """Data of a GetCouponPage that must succeed."""
        response = self.page(**query)
        assert response.status_code == 200, response.text
        body = response.json()
        assert body["Success"] is True, body
        data: list[dict[str, Any]] = body["Data"]
        return data

    def discard(self, *coupon_ids: int) -> httpx.Response:
        return self.call("DiscardCouponList", acs.flatten({"CouponList": list(coupon_ids)}))


def holders(sandbox: AliyunSandbox, template: int = TEMPLATE) -> dict[int, list[str]]:
    """uid -> the statuses of its coupons of the template, as GetCouponPage shows them now."""
    found: dict[int, list[str]] = {}
    for coupon in sandbox.coupons(template=template, page_size=100):
        found.setdefault(int(coupon["UserId"]), []).append(str(coupon["Status"]))
    return found
