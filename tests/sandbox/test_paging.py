"""Search pages read one after another are the OFFSET pages: the store starts a page after the last coupon of the
page before it (of the same query), and that must never change which coupons a page holds, whatever the order,
filters, NULL keys, issuing, redemptions, reseeding or another process's writes."""

from __future__ import annotations

from dataclasses import replace
from datetime import date
from pathlib import Path

import pytest

from reconciler.sandbox.records import CouponQuery, Hidden
from reconciler.sandbox.store import Store
from tests.support.sandbox import Clock, msads_seed

# Customer 100: ties on start dates (A and C), a class without one (B: NULL), an earlier one (D).
SEED = """
msads:
  developerToken: DEV
  accessTokens: [token]
  customers:
    - id: "100"
      accounts: [1001, 1002, 1003]
      classes:
        - {name: A, type: Retention, amount: 1, currency: USD, coupons: 9, startDate: 2026-01-01}
        - {name: B, type: Retention, amount: 1, currency: USD, coupons: 7}
        - {name: C, type: Retention, amount: 1, currency: USD, coupons: 11, startDate: 2026-01-01}
        - {name: D, type: Retention, amount: 1, currency: USD, coupons: 5, startDate: 2025-01-01}
"""

# The same customer, reseeded: an earlier class first, so that every later page moves.
EARLIER = "        - {name: E, type: Retention, amount: 1, currency: USD, coupons: 6, startDate: 2024-01-01}\n"
RESEED = SEED.replace("      classes:\n", "      classes:\n" + EARLIER)

SIZE = 4
SHAPES = [
    CouponQuery(100, limit=SIZE),
    CouponQuery(100, class_names=("C",), limit=SIZE),
    CouponQuery(100, class_names=("C",), order_by="start_date", descending=True, limit=SIZE),
    CouponQuery(100, order_by="start_date", limit=SIZE),
    CouponQuery(100, order_by="start_date", descending=True, limit=SIZE),
    CouponQuery(100, order_by="class_name", limit=SIZE),
    CouponQuery(100, order_by="class_name", descending=True, limit=SIZE),
    CouponQuery(100, start_on_or_after=(date(2025, 6, 1),), order_by="start_date", limit=SIZE),
    CouponQuery(100, order_by="start_date", hidden=Hidden(0.3, "salt"), limit=SIZE),
    CouponQuery(100, order_by="start_date", descending=True, hidden=Hidden(0.5, "pepper"), limit=SIZE),
]


def seeded(text: str = SEED, path: Path | None = None, clock: Clock | None = None) -> Store:
    store = Store(path, clock=clock or Clock())
    store.load(msads_seed(text))
    return store


def codes(store: Store, query: CouponQuery) -> list[str]:
    return [c.code for c in store.search(query)]


def offset_page(store: Store, query: CouponQuery) -> list[str]:
    """What OFFSET paging answers now: the query's whole result, in order, sliced at the page."""
    whole = codes(store, replace(query, offset=0, limit=10_000))
    return whole[query.offset : query.offset + query.limit]


def page(query: CouponQuery, index: int) -> CouponQuery:
    return replace(query, offset=index * query.limit)


@pytest.mark.parametrize("shape", SHAPES, ids=lambda q: repr(q)[11:90])
def test_pages_read_one_after_another_are_the_offset_pages(shape: CouponQuery) -> None:
    store = seeded()
    read: list[str] = []
    for index in range(20):
        found = codes(store, page(shape, index))
        assert found == offset_page(store, page(shape, index))
        read += found
        if len(found) < SIZE:
            break
    assert len(read) == len(set(read)) == len(offset_page(store, replace(shape, limit=10_000)))
    assert len(read) > 2 * SIZE  # several pages were read
    store.close()


@pytest.mark.parametrize("shape", SHAPES[:5], ids=lambda q: repr(q)[11:90])
def test_pages_stay_the_offset_pages_when_coupons_are_issued_between_reads(shape: CouponQuery) -> None:
    store = seeded()
    classes = {name: store.coupon_class(name) for name in "ABCD"}
    for index in range(20):
        found = codes(store, page(shape, index))
        assert found == offset_page(store, page(shape, index))
        if len(found) < SIZE:
            break
        name = "ABCD"[index % 4]
        target = classes[name]
        assert target is not None
        store.dispatch(target.id, [(0, f"user{index}@example.com")], visible_at=0.0)
        store.distribute(target.id, [(0, 1001)], feature_id=None, notify=False, visible_at=0.0)
    store.close()


def test_an_is_redeemed_search_follows_redemptions_as_offset_paging_does() -> None:
    """Redeeming a coupon of a page already read moves every later page of a "not redeemed" search by one, at once
    or when its lag runs out."""
    clock = Clock()
    store = seeded(clock=clock)
    shape = CouponQuery(100, redeemed=(False,), order_by="start_date", limit=SIZE)
    first = store.search(page(shape, 0))
    assert store.redeem(first[0].id, 1001, expiration=clock.now + 1e6, activation=None, balance=1.0, visible_at=0.0)
    assert codes(store, page(shape, 1)) == offset_page(store, page(shape, 1))
    second = store.search(page(shape, 1))
    lag = clock.now + 30
    assert store.redeem(second[0].id, 1002, expiration=clock.now + 1e6, activation=None, balance=1.0, visible_at=lag)
    assert codes(store, page(shape, 2)) == offset_page(store, page(shape, 2))
    clock.advance(60)  # the lagging redemption shows now
    assert codes(store, page(shape, 3)) == offset_page(store, page(shape, 3))
    store.close()


def test_pages_after_a_reseed_are_the_offset_pages_of_the_new_coupons() -> None:
    store = seeded()
    shape = CouponQuery(100, order_by="start_date", limit=SIZE)
    codes(store, page(shape, 0))
    store.reset()
    store.load(msads_seed(RESEED))
    assert codes(store, page(shape, 1)) == offset_page(store, page(shape, 1))
    store.close()


def test_pages_after_another_process_reseeds_the_file_are_the_offset_pages(tmp_path: Path) -> None:
    path = tmp_path / "sandbox.sqlite"
    reader = seeded(path=path)
    shape = CouponQuery(100, order_by="start_date", limit=SIZE)
    codes(reader, page(shape, 0))
    codes(reader, page(shape, 1))
    writer = Store(path)  # another connection, as another process's store would be
    writer.reset()
    writer.load(msads_seed(RESEED))
    writer.close()
    assert codes(reader, page(shape, 2)) == offset_page(reader, page(shape, 2))
    reader.close()
