"""The seed file: the documented shape, and every problem reported at once with its line and field."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from reconciler.errors import InputError
from reconciler.sandbox.seed import AccountSeed, load_seed, parse_seed
from tests.support.projects import EXAMPLE_SEED


def problems(text: str) -> list[tuple[int, str, str]]:
    with pytest.raises(InputError) as caught:
        parse_seed(text, "seed.yaml")
    return [(p.line, p.field, p.message) for p in caught.value.problems]


def test_the_example_seed() -> None:
    seed = load_seed(EXAMPLE_SEED).msads
    assert seed is not None
    assert seed.developer_token == "BBD37VB98"
    assert [t.token for t in seed.access_tokens] == ["sandbox-access-token", "other-customer-token"]
    assert seed.access_tokens[0].customers is None and seed.access_tokens[1].customers == frozenset({251186999})
    assert [(c.client_id, c.refresh_token) for c in seed.oauth_clients] == [("sandbox-client", "sandbox-refresh-token")]
    main, other = seed.customers
    assert main.id == 251186883 and other.id == 251186999
    assert [a.id for a in main.accounts] == list(range(180535609, 180535621))
    assert all(a.bills_to == 251186883 for a in main.accounts)
    assert [(k.name, k.coupon_type, k.amount, k.currency, k.coupons) for k in main.classes] == [
        ("SPRING27-ACQ-100", "Acquisition", 100.0, "USD", 500),
        ("WINBACK27-RET-50", "Retention", 50.0, "USD", 300),
    ]
    assert (main.classes[0].start_date, main.classes[0].end_date) == (date(2027, 3, 1), date(2027, 6, 30))
    assert [a.id for a in other.accounts] == [190000001]
    assert [(k.name, k.amount, k.coupons) for k in other.classes] == [("OTHER-25", 25.0, 50)]


def test_accounts_may_name_their_number_and_the_customer_they_bill_to() -> None:
    seed = parse_seed(
        """
msads:
  developerToken: D
  customers:
    - id: 1
      accounts: [10, {id: 11, number: F0000011, billsTo: "2"}]
    - {id: "2"}
aliyun: {accessKeys: [{id: k, secret: s}], sellers: []}   # the other simulator's section
""",
        "seed.yaml",
    ).msads
    assert seed is not None
    assert seed.customers[0].accounts == (AccountSeed(10, "X0000010", 1, 1), AccountSeed(11, "F0000011", 1, 2))


def test_every_problem_is_reported_at_once_with_its_line() -> None:
    found = problems(
        """msads:
  developerToken: "two words"
  accessTokens: [t1, t1]
  users: [{accessToken: t2, customers: ["7"]}]
  customers:
    - id: "1"
      accounts: [3000000000, {id: 5, billsTo: 9}, 5]
      classes:
        - {name: A, type: Acquisition, amount: -1, currency: usd, coupons: 10}
        - {name: A, type: Promo, amount: 5, currency: USD, coupons: 1, startDate: 2027-05-01, endDate: 2027-04-01}
        - {name: B, amount: 5, currency: USD, coupons: lots, colour: red}
"""
    )
    assert (2, "msads.developerToken", "must not contain spaces") in found
    assert (3, "msads.accessTokens[1]", "this access token is seeded twice") in found
    assert (4, "msads.users[0].customers[0]", "customer 7 is not seeded") in found
    assert (7, "msads.customers[0].accounts[0]", "expected an integer from 1 to 2147483647") in found
    assert (7, "msads.customers[0].accounts[1].billsTo", "customer 9 is not seeded") in found
    assert (7, "msads.customers[0].accounts[2]", "account 5 is seeded twice") in found
    assert (9, "msads.customers[0].classes[0].amount", "expected a number of at least 0") in found
    assert any(f == "msads.customers[0].classes[0].currency" and line == 9 for line, f, _ in found)
    assert (10, "msads.customers[0].classes[1].name", "coupon class A is seeded twice") in found
    assert (10, "msads.customers[0].classes[1].type", "expected one of: Acquisition, Retention") in found
    assert (10, "msads.customers[0].classes[1].endDate", "endDate is before startDate") in found
    assert (11, "msads.customers[0].classes[2].type", "required field is missing") in found
    assert (11, "msads.customers[0].classes[2].coupons", "expected an integer from 0 to 1000000") in found
    assert any(f == "msads.customers[0].classes[2].colour" and m.startswith("unknown field") for _, f, m in found)
    assert len(found) == 14


def test_missing_sections_and_unknown_top_level_keys() -> None:
    assert problems("msads: {customers: []}\n") == [(1, "msads.developerToken", "required field is missing")]
    assert problems("msads: {developerToken: D, customers: []}\nmsad: {}\n")[0][1] == "msad"
    assert problems("") == [(0, "", "the seed file is empty")]
    assert problems("- just\n- a list\n") == [(1, "", "expected a mapping")]


def test_invalid_yaml_names_the_line() -> None:
    [(line, _, message)] = problems("msads:\n  developerToken: [unclosed\n")
    assert line == 3 and message.startswith("not valid YAML")


def test_an_unreadable_file(tmp_path: Path) -> None:
    with pytest.raises(InputError) as caught:
        load_seed(tmp_path / "missing.yaml")
    assert "cannot read the seed file" in str(caught.value) and "missing.yaml" in str(caught.value)


def test_history_feature_id_and_strict_predicates_are_checked_with_their_line() -> None:
    found = problems(
        """msads:
  developerToken: D
  strictPredicates: sometimes
  customers:
    - id: "1"
      accounts: [{id: 5, history: maybe}]
      classes:
        - {name: FAC-1, type: Retention, amount: 5, currency: USD, coupons: 1, featureId: -3}
"""
    )
    assert sorted((line, field) for line, field, _ in found) == [
        (3, "msads.strictPredicates"),
        (6, "msads.customers[0].accounts[0].history"),
        (8, "msads.customers[0].classes[0].featureId"),
    ]


def test_ids_of_non_ascii_digits_are_located_problems_not_a_crash() -> None:
    """``str.isdigit()`` holds for "²", which ``int()`` cannot read, and for other scripts' digits, which it reads:
    a quoted id is ASCII digits, else the usual located problem."""
    found = problems(
        """msads:
  developerToken: D
  customers:
    - id: "1²"
      accounts: ["\\u0661\\u0662"]
      classes:
        - {name: FAC-1, type: Retention, amount: 5, currency: USD, coupons: "²"}
"""
    )
    assert sorted((line, field) for line, field, _ in found) == [
        (4, "msads.customers[0].id"),
        (5, "msads.customers[0].accounts[0]"),
        (7, "msads.customers[0].classes[0].coupons"),
    ]
