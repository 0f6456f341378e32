"""The SQLite store: files and memory, minting, stable codes, the schema version, seeding on first use."""

from __future__ import annotations

import sqlite3
from datetime import date
from pathlib import Path

import pytest

from reconciler.errors import SandboxError
from reconciler.sandbox.bootstrap import open_store
from reconciler.sandbox.records import CouponQuery
from reconciler.sandbox.store import Store
from tests.support.sandbox import SEED, msads_seed


def loaded(path: Path | None = None) -> Store:
    store = Store(path)
    store.load(msads_seed(SEED))
    return store


def test_a_file_store_is_created_with_its_directories_in_wal_mode_and_persists(tmp_path: Path) -> None:
    path = tmp_path / "a" / "b" / "sandbox.sqlite"
    store = loaded(path)
    store.close()
    assert path.exists()
    with sqlite3.connect(path) as db:
        assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    reopened = Store(path)
    try:
        assert not reopened.is_empty()
        assert len(reopened.search(CouponQuery(200))) == 3
    finally:
        reopened.close()


def test_minted_coupons_carry_every_field_of_their_class() -> None:
    store = loaded()
    [coupon] = store.search(CouponQuery(100, class_names=("RET-20",), limit=1))
    assert (coupon.class_name, coupon.owner_id, coupon.coupon_type) == ("RET-20", 100, "Retention")
    assert (coupon.amount, coupon.spend_threshold, coupon.currency) == (20.0, 5.0, "EUR")
    assert (coupon.percent_off, coupon.active_duration) == (12.5, 30)
    assert (coupon.start_date, coupon.end_date, coupon.expiration_date) == (date(2026, 2, 1), None, date(2027, 6, 30))
    assert coupon.send_to_email is None and coupon.claim is None and coupon.redemption is None
    store.close()


def test_coupon_codes_are_unique_and_stable_across_stores() -> None:
    first, second = loaded(), loaded()
    codes = [c.code for c in first.search(CouponQuery(100, limit=1000))]
    assert len(codes) == len(set(codes)) == 157
    assert codes == [c.code for c in second.search(CouponQuery(100, limit=1000))]
    first.close()
    second.close()


def test_a_store_of_another_schema_version_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "old.sqlite"
    Store(path).close()
    with sqlite3.connect(path) as db:
        db.execute("UPDATE meta SET value = '0' WHERE key = 'schema_version'")
    with pytest.raises(SandboxError, match="schema version 0"):
        Store(path)


def test_open_store_seeds_only_an_empty_store(tmp_path: Path) -> None:
    seed = tmp_path / "seed.yaml"
    seed.write_text(SEED)
    path = tmp_path / "s.sqlite"
    store = open_store(path, seed)
    assert len(store.dispatch(store.coupon_class("OTHER-1").id, [(0, "a@example.com")], visible_at=0)) == 1  # type: ignore[union-attr]
    store.close()
    again = open_store(path, seed)
    try:
        sent = [c.send_to_email for c in again.search(CouponQuery(200))]
        assert sent == ["a@example.com", None, None]
    finally:
        again.close()
