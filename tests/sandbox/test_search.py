"""SearchCoupons: the JSON shape (notes 2.0, 3.1), the predicates (2.1.1), ordering, paging, scope and access."""

from __future__ import annotations

from typing import Any

from tests.support.sandbox import NARROW_TOKEN, SEARCH, Sandbox, codes, pred

COUPON_FIELDS = [
    "CouponCode",
    "ClassName",
    "CouponType",
    "Amount",
    "SpendThreshold",
    "CurrencyCode",
    "PercentOff",
    "ActiveDuration",
    "ExpirationDate",
    "StartDate",
    "EndDate",
    "SendToEmail",
    "SendToDate",
    "IsRedeemed",
    "RedemptionInfo",
]


def first(sandbox: Sandbox, coupon_class: str, **fields: Any) -> dict[str, Any]:
    response = sandbox.search("100", pred("CouponClassName", coupon_class), size=1, **fields)
    assert response.status_code == 200, response.text
    coupon: dict[str, Any] = response.json()["Coupons"][0]
    return coupon


def test_every_coupon_field_is_present_in_wsdl_order_null_when_nil(sandbox: Sandbox) -> None:
    coupon = first(sandbox, "ACQ-10")
    assert list(coupon) == COUPON_FIELDS
    assert coupon["ClassName"] == "ACQ-10"
    assert coupon["CouponType"] == "Acquisition"
    assert coupon["Amount"] == 10.0 and isinstance(coupon["Amount"], float)
    assert coupon["CurrencyCode"] == "USD"
    assert coupon["StartDate"] == "2026-01-01T00:00:00Z"
    assert coupon["EndDate"] == "2026-12-31T00:00:00Z"
    assert coupon["PercentOff"] is None and coupon["ActiveDuration"] is None and coupon["ExpirationDate"] is None
    assert coupon["SendToEmail"] is None and coupon["SendToDate"] is None
    assert coupon["IsRedeemed"] is False and coupon["RedemptionInfo"] is None
    assert isinstance(coupon["CouponCode"], str) and len(coupon["CouponCode"]) == 16


def test_optional_class_fields_are_carried_by_each_coupon(sandbox: Sandbox) -> None:
    coupon = first(sandbox, "RET-20")
    assert coupon["SpendThreshold"] == 5.0
    assert coupon["PercentOff"] == 12.5
    assert coupon["ActiveDuration"] == 30
    assert coupon["ExpirationDate"] == "2027-06-30T00:00:00Z"
    assert coupon["CurrencyCode"] == "EUR"


def test_claim_info_only_when_asked_for_and_claimed(sandbox: Sandbox) -> None:
    assert sandbox.distribute([1001]).json()["PartialErrors"] == [[]]
    plain = first(sandbox, "ACQ-10")
    assert "ClaimInfo" not in plain
    asked = first(sandbox, "ACQ-10", ReturnAdditionalFields="CouponClaimInfo")
    assert asked["ClaimInfo"] == {"AccountId": "1001", "AccountNumber": "X0001001", "ClaimDate": "2026-06-01T12:00:00Z"}
    unclaimed = sandbox.search(
        "100", pred("CouponClassName", "RET-20"), size=1, ReturnAdditionalFields="CouponClaimInfo"
    )
    assert "ClaimInfo" not in unclaimed.json()["Coupons"][0]


def test_return_additional_fields_is_one_comma_separated_string(sandbox: Sandbox) -> None:
    sandbox.distribute([1001])
    both = first(sandbox, "ACQ-10", ReturnAdditionalFields="AccountMode, CouponClaimInfo")
    assert both["ClaimInfo"] is not None
    bad = sandbox.search("100", ReturnAdditionalFields="CouponClaimInfo, Nonsense")
    assert bad.status_code == 400 and codes(bad) == [201]


def test_customer_id_predicate_is_required(sandbox: Sandbox) -> None:
    for predicates in ([], [pred("CouponClassName", "ACQ-10")], None):
        response = sandbox.post(SEARCH, {"Predicates": predicates, "PageInfo": {"Index": 0, "Size": 10}})
        assert response.status_code == 400
        body = response.json()
        assert body["Type"] == "ApiFault" and codes(response) == [474]
        assert body["TrackingId"] == response.headers["TrackingId"]


def test_only_documented_fields_and_operators_are_accepted(sandbox: Sandbox) -> None:
    refused = [
        pred("CustomerId", "100", "In"),
        pred("CouponCode", "ABCD"),
        pred("ClassName", "ACQ-10"),
        pred("SendToEmail", "a@example.com"),
        pred("AccountId", "1001"),
        pred("CouponClassName", "ACQ", "Contains"),
        pred("IsRedeemed", "true", "NotEquals"),
        pred("StartDate", "2026-01-01", "Equals"),
        pred("StartDate", "2026-01-01", "LessThanEquals"),
    ]
    for predicate in refused:
        response = sandbox.search("100", predicate)
        assert response.status_code == 400, predicate
        assert codes(response) == [3030], predicate
    for value in ("abc", "0", ""):
        assert codes(
            sandbox.post(SEARCH, {"Predicates": [pred("CustomerId", value)], "PageInfo": {"Index": 0, "Size": 1}})
        ) == [3030]
    assert codes(sandbox.search("100", pred("IsRedeemed", "yes"))) == [3030]
    assert codes(sandbox.search("100", pred("StartDate", "first of May", "GreaterThanEquals"))) == [113]


def test_more_than_four_predicates_are_refused(sandbox: Sandbox) -> None:
    four = [
        pred("CouponClassName", "ACQ-10"),
        pred("IsRedeemed", "false"),
        pred("StartDate", "2026-01-01", "GreaterThanEquals"),
    ]
    assert sandbox.search("100", *four).status_code == 200
    five = sandbox.search("100", *four, pred("CouponClassName", "ACQ-10"))
    assert five.status_code == 400 and codes(five) == [3024]


def test_predicates_are_anded(sandbox: Sandbox) -> None:
    code = first(sandbox, "ACQ-10")["CouponCode"]
    assert sandbox.redeem("1001", str(code)).status_code == 200
    redeemed_acq = sandbox.coupons("100", pred("CouponClassName", "ACQ-10"), pred("IsRedeemed", "true"))
    assert [c["CouponCode"] for c in redeemed_acq] == [code]
    assert len(sandbox.coupons("100", pred("CouponClassName", "ACQ-10"), pred("IsRedeemed", "False"))) == 4
    assert sandbox.coupons("100", pred("CouponClassName", "RET-20"), pred("IsRedeemed", "true")) == []
    assert sandbox.coupons("100", pred("CouponClassName", "ACQ-10"), pred("CouponClassName", "RET-20")) == []
    assert sandbox.coupons("100", pred("CustomerId", "200")) == []


def test_start_date_greater_than_equals_uses_the_day_only(sandbox: Sandbox) -> None:
    late = sandbox.coupons("100", pred("StartDate", "2026-02-01T23:59:59Z", "GreaterThanEquals"))
    assert {c["ClassName"] for c in late} == {"RET-20", "FUTURE-5"}
    assert len(late) == 152
    later = sandbox.coupons("100", pred("StartDate", "2026-02-02", "GreaterThanEquals"))
    assert {c["ClassName"] for c in later} == {"FUTURE-5"}


def test_page_info_is_required_with_size_1_to_100_and_a_zero_based_index(sandbox: Sandbox) -> None:
    customer = [pred("CustomerId", "100")]
    for page_info in (
        None,
        {"Index": 0, "Size": 0},
        {"Index": 0, "Size": 101},
        {"Index": -1, "Size": 10},
        {"Index": 0},
        {"Index": "0", "Size": 10},
    ):
        response = sandbox.post(SEARCH, {"Predicates": customer, "PageInfo": page_info})
        assert response.status_code == 400 and codes(response) == [3080], page_info
    assert len(sandbox.search("100", size=100).json()["Coupons"]) == 100
    assert len(sandbox.search("100", size=1).json()["Coupons"]) == 1


def test_pages_cover_every_coupon_once_in_a_stable_default_order(sandbox: Sandbox) -> None:
    pages = [sandbox.search("100", size=40, index=i).json()["Coupons"] for i in range(5)]
    assert [len(p) for p in pages] == [40, 40, 40, 37, 0]
    codes_seen = [c["CouponCode"] for page in pages for c in page]
    assert len(set(codes_seen)) == 157 == len(codes_seen)
    again = [c["CouponCode"] for i in range(4) for c in sandbox.search("100", size=40, index=i).json()["Coupons"]]
    assert again == codes_seen


def test_ordering_by_class_name_or_start_date(sandbox: Sandbox) -> None:
    def classes(order: list[dict[str, str]]) -> list[str]:
        return [c["ClassName"] for c in sandbox.coupons("100", Ordering=order)]

    ascending = classes([{"Field": "CouponClassName", "Order": "Ascending"}])
    assert ascending == sorted(ascending) and ascending[0] == "ACQ-10"
    descending = classes([{"Field": "CouponClassName", "Order": "Descending"}])
    assert descending == sorted(descending, reverse=True) and descending[0] == "RET-20"
    by_start = classes([{"Field": "CouponStartDate", "Order": "Descending"}, {"Field": "CouponClassName"}])
    assert by_start[:2] == ["FUTURE-5", "FUTURE-5"] and by_start[-1] == "ACQ-10"
    refused = sandbox.search("100", Ordering=[{"Field": "Id", "Order": "Ascending"}])
    assert refused.status_code == 400 and codes(refused) == [201]


def test_scope_is_the_owner_customers_coupons(sandbox: Sandbox) -> None:
    assert {c["ClassName"] for c in sandbox.coupons("200")} == {"OTHER-1"}
    assert {c["ClassName"] for c in sandbox.coupons("100")} == {"ACQ-10", "RET-20", "FUTURE-5"}


def test_a_caller_without_access_to_the_customer_gets_1001(sandbox: Sandbox) -> None:
    narrow = {"Authorization": f"Bearer {NARROW_TOKEN}", "DeveloperToken": "DEV-TOKEN-1"}
    body = {"Predicates": [pred("CustomerId", "100")], "PageInfo": {"Index": 0, "Size": 10}}
    refused = sandbox.post(SEARCH, body, headers=narrow)
    assert refused.status_code == 403 and codes(refused) == [1001] and refused.json()["Type"] == "ApiFault"
    allowed = sandbox.post(SEARCH, {**body, "Predicates": [pred("CustomerId", "200")]}, headers=narrow)
    assert allowed.status_code == 200
    unknown = sandbox.search("999")
    assert unknown.status_code == 403 and codes(unknown) == [1001]


def test_redemption_info_only_when_the_account_bills_to_the_owner(sandbox: Sandbox) -> None:
    coupons = sandbox.search("100", pred("CouponClassName", "RET-20"), size=2).json()["Coupons"]
    assert sandbox.redeem(1001, coupons[0]["CouponCode"]).status_code == 200
    assert sandbox.redeem("1004", coupons[1]["CouponCode"]).status_code == 200  # bills to customer 200
    seen = {c["CouponCode"]: c for c in sandbox.coupons("100", pred("IsRedeemed", "true"))}
    own, foreign = seen[coupons[0]["CouponCode"]], seen[coupons[1]["CouponCode"]]
    assert own["IsRedeemed"] is True and foreign["IsRedeemed"] is True
    assert foreign["RedemptionInfo"] is None
    info = own["RedemptionInfo"]
    assert isinstance(info, dict)
    assert list(info) == [
        "AccountId",
        "AccountNumber",
        "SpendToThreshold",
        "Balance",
        "CurrencyCode",
        "RedemptionDate",
        "ExpirationDate",
        "ActivationDate",
    ]
    assert info["AccountId"] == "1001" and info["AccountNumber"] == "X0001001"
    assert info["Balance"] == 20.0 and info["CurrencyCode"] == "EUR" and info["SpendToThreshold"] == 5.0
    assert info["RedemptionDate"] == "2026-06-01T12:00:00Z"
    assert info["ExpirationDate"] == "2026-07-01T12:00:00Z"  # ActiveDuration 30 days
    assert info["ActivationDate"] is None  # a spend threshold is still to reach


def test_ids_are_accepted_as_strings_or_numbers(sandbox: Sandbox) -> None:
    as_number = sandbox.post(
        SEARCH,
        {
            "Predicates": [{"Field": "CustomerId", "Operator": "Equals", "Value": 100}],
            "PageInfo": {"Index": 0, "Size": 3},
        },
    )
    assert as_number.status_code == 200 and len(as_number.json()["Coupons"]) == 3
