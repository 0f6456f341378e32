"""Rules of the Microsoft Advertising doc pages the sandbox enforces (issue 18): each test names its page under
``advertising/bingads-13/customer-billing-service/`` and, where the page is silent, the inference it pins
(docs/sandbox.md lists them)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from reconciler.sandbox.faults import FaultPlan
from tests.support.sandbox import (
    AUTH,
    COUPON_INFO,
    DEVELOPER_TOKEN,
    DISTRIBUTE,
    FAC_CHECK,
    FAC_CLAIM,
    NARROW_TOKEN,
    Sandbox,
    codes,
    pred,
)

# Customer 100 owns an Acquisition class, a Retention class, a feature adoption class of feature 42 and a class
# with a three-character name; account 1002 has history (an existing customer's), 2001 belongs to customer 200.
SEED = f"""
msads:
  developerToken: {DEVELOPER_TOKEN}
  accessTokens: [all-customers-token]
  users:
    - {{accessToken: {NARROW_TOKEN}, customers: ["200"]}}
  customers:
    - id: "100"
      accounts: [1001, {{id: 1002, history: true}}, 1003]
      classes:
        - {{name: ACQ-10, type: Acquisition, amount: 10, currency: USD, coupons: 5}}
        - {{name: RET-20, type: Retention, amount: 20, currency: USD, coupons: 5}}
        - {{name: FAC-42, type: Retention, amount: 50, currency: USD, coupons: 3, featureId: 42}}
        - {{name: ABC, type: Retention, amount: 1, currency: USD, coupons: 1}}
    - id: "200"
      accounts: [2001]
      classes:
        - {{name: OTHER-1, type: Retention, amount: 1, currency: USD, coupons: 3}}
"""


@pytest.fixture
def box() -> Iterator[Sandbox]:
    sandbox = Sandbox(seed=SEED)
    yield sandbox
    sandbox.store.close()


def issued(box: Sandbox, customer: str = "100") -> int:
    """Coupons of the customer's classes that left the store: claimed, dispatched or redeemed."""
    coupons = box.coupons(customer, ReturnAdditionalFields="CouponClaimInfo")
    return sum(1 for c in coupons if "ClaimInfo" in c or c["SendToEmail"] or c["IsRedeemed"])


def code_of(box: Sandbox, coupon_class: str, ordinal: int = 0) -> str:
    return str(box.coupons("100", pred("CouponClassName", coupon_class))[ordinal]["CouponCode"])


# --- predicate.md -----------------------------------------------------------------------------------------


def test_predicate_md_strict_predicates_refuse_a_class_name_value_shorter_than_four_characters_with_3030() -> None:
    """predicate.md: a Predicate's Value "must be four or greater" in length; 3030 (Predicate invalid) is the
    documented code for a bad predicate (which code is inferred). The page does not say coupon fields are held to
    it, so only a seed with ``strictPredicates: true`` enforces it, on CouponClassName (CustomerId is an id, not a
    search string: inferred)."""
    strict = Sandbox(seed=SEED.replace("msads:\n", "msads:\n  strictPredicates: true\n", 1))
    try:
        short = strict.search("100", pred("CouponClassName", "ABC"))
        assert short.status_code == 400 and codes(short) == [3030] and short.json()["Type"] == "ApiFault"
        assert strict.search("100", pred("CouponClassName", "ACQ-10")).status_code == 200
        assert strict.search("100").status_code == 200
    finally:
        strict.store.close()


def test_predicate_md_by_default_a_short_class_name_value_is_searched(box: Sandbox) -> None:
    found = box.search("100", pred("CouponClassName", "ABC"))
    assert found.status_code == 200 and [c["ClassName"] for c in found.json()["Coupons"]] == ["ABC"]


# --- distributecoupons.md: the CustomerId header, OperationErrors, SendNotification -----------------------


def test_distributecoupons_md_the_class_is_found_through_the_customer_id_header(box: Sandbox) -> None:
    """distributecoupons.md names no customer in the body: the class is the header customer's, never another's
    of the same name; refusals of the whole request are OperationErrors in the documented response shape."""
    served = box.distribute([1001], "ACQ-10", customer="100")
    assert served.status_code == 200 and served.json() == {"OperationErrors": [], "PartialErrors": [[]]}
    missing = box.distribute([1001], "ACQ-10", customer=None)
    assert missing.status_code == 200 and missing.json()["PartialErrors"] == []
    assert [list(e) for e in missing.json()["OperationErrors"]] == [["Code", "Details", "Message"]]
    assert codes(missing) == [116]
    other = box.distribute([2001], "ACQ-10", customer="200")  # customer 200 has no class ACQ-10
    assert other.status_code == 200 and codes(other) == [210]
    malformed = box.distribute([1001], "ACQ-10", customer="one hundred")
    assert malformed.status_code == 200 and codes(malformed) == [201]
    assert issued(box) == 1 and issued(box, "200") == 0


def test_distributecoupons_md_a_header_customer_the_token_does_not_reach_is_refused(box: Sandbox) -> None:
    narrow = {"Authorization": f"Bearer {NARROW_TOKEN}", "DeveloperToken": DEVELOPER_TOKEN}
    refused = box.distribute([1001], "ACQ-10", customer="100", headers=narrow)
    assert refused.status_code == 403 and codes(refused) == [1001]
    assert issued(box) == 0


def test_distributecoupons_md_send_notification_is_required(box: Sandbox) -> None:
    """distributecoupons.md: "all request elements are required" unless noted, and SendNotification is not noted
    (WSDL: not nillable). Missing or null: ApiFault 203 NullParameter (the code is inferred), nothing issued."""
    headers = {**AUTH, "CustomerId": "100"}
    for body in (
        {"AccountIds": [1001], "ClassName": "ACQ-10", "FeatureId": None},
        {"AccountIds": [1001], "ClassName": "ACQ-10", "FeatureId": None, "SendNotification": None},
    ):
        refused = box.post(DISTRIBUTE, body, headers=headers)
        assert refused.status_code == 400 and refused.json()["Type"] == "ApiFault" and codes(refused) == [203]
    assert issued(box) == 0


# --- coupon.md: Acquisition coupons -----------------------------------------------------------------------


def test_coupon_md_only_new_customers_can_redeem_an_acquisition_coupon(box: Sandbox) -> None:
    """coupon.md CouponType: "Acquisition: ... Only new customers can redeem this coupon." An account seeded with
    ``history`` is refused (202, inferred code); so is a new account once it has redeemed a coupon (inferred);
    Retention coupons "can be used by both new and existing customers"."""
    refused = box.redeem(1002, code_of(box, "ACQ-10", 0))
    assert refused.status_code == 400 and codes(refused) == [202]
    assert box.redeem(1002, code_of(box, "RET-20", 0)).status_code == 200
    assert box.redeem(1001, code_of(box, "ACQ-10", 1)).status_code == 200  # a new customer
    again = box.redeem(1001, code_of(box, "ACQ-10", 2))
    assert again.status_code == 400 and codes(again) == [202]
    assert [c["IsRedeemed"] for c in box.coupons("100", pred("CouponClassName", "ACQ-10"))].count(True) == 1


# --- getcouponinfo.md, couponinfodata.md ------------------------------------------------------------------

INFO_KEYS = [
    "AccountId", "ActiveDuration", "Balance", "ClaimDate", "CouponId", "CouponType", "CouponValue", "CurrencyCode",
    "EndDate", "ExpirationDate", "FeatureId", "PercentOff", "RedemptionDate", "SpendToThreshold", "StartDate",
    "Status", "UpfrontSpending",
]  # fmt: skip


def test_getcouponinfo_md_answers_coupon_info_data_with_feature_id_and_claim_details(box: Sandbox) -> None:
    """getcouponinfo.md: POST CouponInfo/Query with a long CustomerId answers ``CouponInfoData``; couponinfodata.md:
    AccountId an int, ClaimDate, Status (unsignedByte: 1 claimed, 2 redeemed, inferred), FeatureId."""
    box.distribute([1001, 1003], "RET-20", feature=7)
    box.redeem(1003, code_of(box, "ACQ-10", 0))
    response = box.post(COUPON_INFO, {"CustomerId": "100"})
    assert response.status_code == 200 and list(response.json()) == ["CouponInfoData"]
    data: list[dict[str, Any]] = response.json()["CouponInfoData"]
    assert all(list(entry) == INFO_KEYS for entry in data)
    rows = sorted((d["AccountId"], d["Status"], d["FeatureId"], d["ClaimDate"], d["CouponValue"]) for d in data)
    assert rows == [
        (1001, 1, 7, "2026-06-01T12:00:00Z", 20.0),
        (1003, 1, 7, "2026-06-01T12:00:00Z", 20.0),
        (1003, 2, None, None, 10.0),
    ]
    assert box.post(COUPON_INFO, {"CustomerId": 100}).json() == response.json()  # a long: string or number


def test_getcouponinfo_md_needs_a_customer_id_the_caller_reaches(box: Sandbox) -> None:
    narrow = {"Authorization": f"Bearer {NARROW_TOKEN}", "DeveloperToken": DEVELOPER_TOKEN}
    refused = box.post(COUPON_INFO, {"CustomerId": "100"}, headers=narrow)
    assert refused.status_code == 403 and codes(refused) == [1001]
    assert box.post(COUPON_INFO, {"CustomerId": "200"}, headers=narrow).json() == {"CouponInfoData": []}
    missing = box.post(COUPON_INFO, {})
    assert missing.status_code == 400 and codes(missing) == [201]


# --- checkfeatureadoptioncouponeligibility.md, claimfeatureadoptioncoupons.md ---------------------------


def test_checkfeatureadoptioncouponeligibility_md_eligible_account_ids(box: Sandbox) -> None:
    """At most 100 AccountIds (longs as strings); EligibleAccountIds: accounts billing to the owner of a class of
    that feature and holding none of its coupons yet (the rule is inferred)."""
    check = box.post(FAC_CHECK, {"FeatureId": 42, "AccountIds": ["1001", "2001", "999999"]})
    assert check.status_code == 200 and check.json() == {"EligibleAccountIds": ["1001"]}
    assert box.post(FAC_CHECK, {"FeatureId": 41, "AccountIds": ["1001"]}).json() == {"EligibleAccountIds": []}
    too_many = box.post(FAC_CHECK, {"FeatureId": 42, "AccountIds": [str(i) for i in range(1, 102)]})
    assert too_many.status_code == 400 and codes(too_many) == [3024]
    assert codes(box.post(FAC_CHECK, {"AccountIds": ["1001"]})) == [203]
    for wrong in ("42", 2**31, True, 4.2):  # present but not an int: 201, as docs/sandbox.md's error table says
        assert codes(box.post(FAC_CHECK, {"FeatureId": wrong, "AccountIds": ["1001"]})) == [201]


def test_claimfeatureadoptioncoupons_md_claims_pairs_once_per_feature(box: Sandbox) -> None:
    """AccountCouponPairs (Key: account id, Value: coupon code), at most 100; ClaimedDateByAccountId for the
    claims made; PartialErrors aligned with the pairs (nested, as the WSDL has it)."""
    fac = [code_of(box, "FAC-42", i) for i in range(3)]
    pairs = [
        {"Key": "1001", "Value": fac[0]},
        {"Key": "1001", "Value": fac[1]},  # already holds one of feature 42
        {"Key": "1003", "Value": code_of(box, "RET-20")},  # not a feature adoption coupon
        {"Key": "1003", "Value": fac[2]},
    ]
    response = box.post(FAC_CLAIM, {"AccountCouponPairs": pairs})
    assert response.status_code == 200
    body = response.json()
    assert body["ClaimedDateByAccountId"] == [
        {"Key": "1001", "Value": "2026-06-01T12:00:00Z"},
        {"Key": "1003", "Value": "2026-06-01T12:00:00Z"},
    ]
    assert body["OperationErrors"] == []
    assert [[e["Code"] for e in entry] for entry in body["PartialErrors"]] == [[], [202], [201], []]
    check = box.post(FAC_CHECK, {"FeatureId": 42, "AccountIds": ["1001", "1003"]})
    assert check.json() == {"EligibleAccountIds": []}
    too_many = box.post(FAC_CLAIM, {"AccountCouponPairs": [{"Key": "1001", "Value": fac[1]}] * 101})
    assert too_many.status_code == 400 and codes(too_many) == [3024]


def test_distributecoupons_md_refuses_a_feature_id_that_does_not_fit_the_class(box: Sandbox) -> None:
    """The FeatureId is "the feature ID attached to the coupon": a feature adoption class takes only its own
    (inferred; OperationErrors 201), and an account already holding a coupon of the feature is refused per
    account (202), as CheckFeatureAdoptionCouponEligibility would say."""
    wrong = box.distribute([1001], "FAC-42", feature=7)
    assert wrong.status_code == 200 and codes(wrong) == [201] and wrong.json()["PartialErrors"] == []
    assert codes(box.distribute([1001], "FAC-42", feature=None)) == [201]
    served = box.distribute([1001, 1001], "FAC-42", feature=42)
    assert [[e["Code"] for e in entry] for entry in served.json()["PartialErrors"]] == [[], [202]]
    assert issued(box) == 1


def test_getcouponinfo_md_is_a_fault_endpoint_and_reads_lag_like_search() -> None:
    """GetCouponInfo is the ``couponinfo`` fault endpoint (an injected 500 commits nothing: it is a read), and a
    claim that SearchCoupons does not show yet (``distribute:lag-s``) is not in CouponInfoData yet either
    (inferred: both reads see the same moment)."""
    faults = FaultPlan.parse(["couponinfo:error-500=1", "distribute:lag-s=5"], seed=0)
    box = Sandbox(faults=faults, seed=SEED)
    try:
        box.distribute([1001], "RET-20")
        failed = box.post(COUPON_INFO, {"CustomerId": "100"})
        assert failed.status_code == 500 and codes(failed) == [0]
    finally:
        box.store.close()
    lagging = Sandbox(faults=FaultPlan.parse(["distribute:lag-s=5"], seed=0), seed=SEED)
    try:
        lagging.distribute([1001], "RET-20")
        assert lagging.post(COUPON_INFO, {"CustomerId": "100"}).json() == {"CouponInfoData": []}
        lagging.clock.advance(5)
        assert [d["AccountId"] for d in lagging.post(COUPON_INFO, {"CustomerId": "100"}).json()["CouponInfoData"]] == [
            1001
        ]
    finally:
        lagging.store.close()


# --- longs: ASCII digits only -----------------------------------------------------------------------------


@pytest.mark.parametrize("value", ["²", "1²", "\u0661\u0660\u0660", "--100", "-²"])
def test_longs_of_non_ascii_or_doubled_sign_digits_are_refused_not_an_internal_error(box: Sandbox, value: str) -> None:
    """``str.isdigit()`` holds for "²" (which ``int()`` cannot read) and for other scripts' digits (which
    ``int()`` reads as 100): a long is ASCII digits with at most one sign. The CustomerId header of DistributeCoupons
    (latin-1 on the wire, as HTTP sends it) is refused in OperationErrors (201) with nothing issued, never a 500 a
    caller must take as in doubt; a CustomerId predicate (3030), GetCouponInfo's CustomerId and RedeemCoupon's
    AccountId (201) are refused too."""
    if all(ord(c) < 256 for c in value):  # an HTTP header carries latin-1
        auth = {k.encode(): v.encode() for k, v in AUTH.items()}
        header = {**auth, b"CustomerId": value.encode("latin-1")}
        refused = box.post(DISTRIBUTE, {"AccountIds": [1001], "ClassName": "ACQ-10", "SendNotification": False},
                           headers=header)  # fmt: skip
        assert refused.status_code == 200 and codes(refused) == [201] and refused.json()["PartialErrors"] == []
    search = box.search(value)
    assert search.status_code == 400 and codes(search) == [3030]
    info = box.post(COUPON_INFO, {"CustomerId": value})
    assert info.status_code == 400 and codes(info) == [201]
    redeem = box.redeem(value, code_of(box, "RET-20"))
    assert redeem.status_code == 400 and codes(redeem) == [201]
    assert issued(box) == 0
