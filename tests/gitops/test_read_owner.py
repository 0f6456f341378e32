"""MsAdsProvider.read_owner: one SearchCoupons walk with only the CustomerId predicate, grouped by class."""

from __future__ import annotations

import asyncio
import json

from reconciler.providers.base import Exporter, Provider
from reconciler.state.desired import Scope, Target
from reconciler.state.live import ScopeLive
from tests.support.msads_fakes import OWNER, SearchPages, coupon, make_provider


def read_owner(pages: SearchPages) -> list[ScopeLive]:
    provider = make_provider(pages)

    async def run() -> list[ScopeLive]:
        try:
            return await provider.read_owner(OWNER)
        finally:
            await provider.aclose()

    return asyncio.run(run())


def test_msads_is_an_exporter() -> None:
    provider: Provider = make_provider(SearchPages([]))
    assert isinstance(provider, Exporter)


def test_every_class_of_the_owner_one_live_state_each_sorted_by_class() -> None:
    coupons = [
        coupon("W1", email="ana@example.com", class_name="WINBACK", amount=50),
        *(coupon(f"S{n:03d}", claimed_by=180000000 + n, class_name="SPRING") for n in range(150)),
        coupon("W2", class_name="winback", amount=50),
        coupon("N1") | {"ClassName": None},  # no class: left out
    ]
    pages = SearchPages(coupons)
    lives = read_owner(pages)
    assert [live.scope for live in lives] == [
        Scope("msads-test", OWNER, "SPRING"),
        Scope("msads-test", OWNER, "WINBACK"),
    ]
    spring, winback = lives
    assert len(spring.issued) == 150 and spring.available == 0
    assert winback.issued == {Target.email("ana@example.com"): winback.issued[Target.email("ana@example.com")]}
    assert winback.available == 1 and winback.face_value is not None and winback.face_value.amount == 50
    assert spring.api_calls == len(pages.requests) and winback.api_calls == 0
    for body in (json.loads(r.content) for r in pages.requests):
        assert body["Predicates"] == [{"Field": "CustomerId", "Operator": "Equals", "Value": OWNER}]
    assert pages.indexes() == [0, 1, 2]  # windows of 1, then 2 pages: the second is short


def test_an_owner_without_coupons_has_no_classes() -> None:
    assert read_owner(SearchPages([])) == []
