"""The ``aliyun:`` section of the seed file: its shape, every problem at once with its line (never a secret),
loading into the store, and a seed file with only one vendor's section."""

from __future__ import annotations

from pathlib import Path

import pytest

from reconciler.errors import InputError
from reconciler.sandbox.aliyun_seed import AccessKeySeed, CouponSeed, TemplateSeed
from reconciler.sandbox.bootstrap import seed_store
from reconciler.sandbox.embedded import aliyun_sandbox_credentials, sandbox_credentials
from reconciler.sandbox.seed import load_seed, parse_seed
from reconciler.sandbox.store import Store
from tests.support.aliyun_sandbox import SEED
from tests.support.projects import EXAMPLE_SEED


def problems(text: str) -> list[tuple[int, str, str]]:
    with pytest.raises(InputError) as caught:
        parse_seed(text, "seed.yaml")
    return [(p.line, p.field, p.message) for p in caught.value.problems]


def test_the_issue_example_seed() -> None:
    seed = parse_seed(
        """
aliyun:
  accessKeys: [{id: sandbox-ak, secret: sandbox-secret}]
  sellers:
    - id: 3944837183
      users: [1918000000883, 1918000000884]
      templates: [{id: 295873, amount: 100, perLimit: 1, maxRelease: 1000}]
""",
        "seed.yaml",
    )
    assert seed.msads is None and seed.aliyun is not None
    assert seed.aliyun.access_keys == (AccessKeySeed("sandbox-ak", "sandbox-secret"),)
    (seller,) = seed.aliyun.sellers
    assert seller.id == 3944837183 and seller.users == (1918000000883, 1918000000884)
    assert seller.templates == (TemplateSeed(295873, 3944837183, 100.0, "CNY", 1, 1000, 365),)
    assert "sandbox-secret" not in repr(seed)


def test_template_validity_and_seeded_coupons() -> None:
    seed = parse_seed(SEED, "seed.yaml").aliyun
    assert seed is not None
    templates = {t.id: t for s in seed.sellers for t in s.templates}
    assert templates[295874].valid_days == 30
    assert templates[295874].coupons == (CouponSeed(105, None, "EXHAUSTED"), CouponSeed(104, 20.0))
    assert templates[295875].valid_days is None and str(templates[295875].end_date) == "2026-03-31"
    assert templates[295875].per_limit == 0 and templates[777].max_release is None


def test_every_problem_is_reported_at_once_with_its_line_and_no_secret() -> None:
    found = problems(
        """aliyun:
  accessKeys:
    - {id: k, secret: "a secret with spaces"}
    - {id: k, secret: s2}
    - {secret: s3}
  sellers:
    - id: 1
      users: [10, 10, -1]
      templates:
        - {id: 5, amount: 0, perLimit: -1, validDays: 3, startDate: 2026-01-01}
        - {id: 5, amount: 5, currency: cny, startDate: 2026-02-01, endDate: 2026-01-01,
           coupons: [{uid: 99}, {uid: 10, status: USED}]}
    - {id: 1, colour: blue}
"""
    )
    assert (3, "aliyun.accessKeys[0].secret", "must not contain spaces") in found
    assert (4, "aliyun.accessKeys[1].id", "AccessKey k is seeded twice") in found
    assert (5, "aliyun.accessKeys[2].id", "required field is missing") in found
    assert (8, "aliyun.sellers[0].users[1]", "uid 10 is listed twice") in found
    assert (8, "aliyun.sellers[0].users[2]", "expected an integer from 1 to 9223372036854775807") in found
    assert (10, "aliyun.sellers[0].templates[0].amount", "expected a number of at least 0.01") in found
    assert (10, "aliyun.sellers[0].templates[0].perLimit", "expected an integer from 0 to 1000000") in found
    assert (10, "aliyun.sellers[0].templates[0].validDays", "give validDays or startDate/endDate, not both") in found
    assert (11, "aliyun.sellers[0].templates[1].id", "template 5 is seeded twice") in found
    assert any(f == "aliyun.sellers[0].templates[1].currency" for _, f, _ in found)
    assert (11, "aliyun.sellers[0].templates[1].endDate", "endDate is before startDate") in found
    assert (12, "aliyun.sellers[0].templates[1].coupons[0].uid", "uid 99 is not one of the seller's users") in found
    assert any(f == "aliyun.sellers[0].templates[1].coupons[1].status" for _, f, _ in found)
    assert (13, "aliyun.sellers[1].id", "seller 1 is seeded twice") in found
    assert any(f == "aliyun.sellers[1].colour" and m.startswith("unknown field") for _, f, m in found)
    assert not any("a secret with spaces" in m or "s2" in m for _, _, m in found)


def test_sections_needed() -> None:
    assert problems("aliyun: {sellers: []}\n") == [(1, "aliyun.accessKeys", "required field is missing")]
    assert problems("{}\n") == [(1, "", "the seed file needs an msads or an aliyun section")]


def test_the_store_loads_both_sections_and_resets_them(tmp_path: Path) -> None:
    store = Store(tmp_path / "s.sqlite")
    try:
        loaded = seed_store(store, EXAMPLE_SEED)
        assert loaded.msads is not None and loaded.aliyun is not None
        assert not store.aliyun.is_empty() and store.aliyun.seller_exists(3944837183)
        store.reset()
        assert store.is_empty() and store.aliyun.is_empty()
    finally:
        store.close()


def test_a_store_with_only_an_aliyun_section_is_not_empty(tmp_path: Path) -> None:
    only = tmp_path / "only.yaml"
    only.write_text(SEED)
    store = Store(tmp_path / "s.sqlite")
    try:
        seed_store(store, only)
        assert not store.is_empty()
    finally:
        store.close()


def test_sandbox_credentials_for_both_vendors(tmp_path: Path) -> None:
    database = tmp_path / "s.sqlite"
    assert aliyun_sandbox_credentials(database, EXAMPLE_SEED) == {
        "accessKeyId": "sandbox-ak",
        "accessKeySecret": "sandbox-secret",
    }
    assert sandbox_credentials(database, None)["developerToken"] == "BBD37VB98"
    assert load_seed(EXAMPLE_SEED).aliyun is not None


def test_sts_credentials_come_with_their_token(tmp_path: Path) -> None:
    seed = tmp_path / "seed.yaml"
    seed.write_text("aliyun:\n  accessKeys: [{id: a, secret: s, securityToken: t}]\n  sellers: []\n")
    assert aliyun_sandbox_credentials(tmp_path / "s.sqlite", seed) == {
        "accessKeyId": "a",
        "accessKeySecret": "s",
        "securityToken": "t",
    }


def test_no_access_key_is_a_clear_error(tmp_path: Path) -> None:
    seed = tmp_path / "seed.yaml"
    seed.write_text("msads: {developerToken: D, customers: []}\n")
    with pytest.raises(Exception, match="no Alibaba Cloud AccessKey"):
        aliyun_sandbox_credentials(tmp_path / "s.sqlite", seed)
