"""DispatchCoupons, DistributeCoupons and RedeemCoupon: semantics, per-item errors, request faults."""

from __future__ import annotations

from tests.support.sandbox import DISPATCH, DISTRIBUTE, NARROW_TOKEN, Sandbox, codes, pred


def sent(sandbox: Sandbox, coupon_class: str = "ACQ-10") -> list[object]:
    return [c["SendToEmail"] for c in sandbox.coupons("100", pred("CouponClassName", coupon_class)) if c["SendToEmail"]]


def available(sandbox: Sandbox, coupon_class: str = "ACQ-10") -> int:
    coupons = sandbox.coupons("100", pred("CouponClassName", coupon_class), ReturnAdditionalFields="CouponClaimInfo")
    return sum(1 for c in coupons if not c["SendToEmail"] and "ClaimInfo" not in c and not c["IsRedeemed"])


# --- DispatchCoupons --------------------------------------------------------------------------------------


def test_dispatch_gives_each_email_one_coupon_and_sets_send_to_fields(sandbox: Sandbox) -> None:
    response = sandbox.dispatch(["a@example.com", "B@Example.com"])
    assert response.status_code == 200 and response.json() == {"PartialErrors": []}
    coupons = [c for c in sandbox.coupons("100", pred("CouponClassName", "ACQ-10")) if c["SendToEmail"]]
    assert sorted(str(c["SendToEmail"]) for c in coupons) == ["B@Example.com", "a@example.com"]
    assert {c["SendToDate"] for c in coupons} == {"2026-06-01T12:00:00Z"}
    assert available(sandbox) == 3


def test_dispatch_is_not_idempotent_the_same_email_takes_another_coupon(sandbox: Sandbox) -> None:
    sandbox.dispatch(["same@example.com"])
    sandbox.dispatch(["same@example.com"])
    sandbox.dispatch(["same@example.com", "same@example.com"])
    assert sent(sandbox) == ["same@example.com"] * 4
    assert available(sandbox) == 1


def test_dispatch_skips_dispatched_claimed_and_redeemed_coupons(sandbox: Sandbox) -> None:
    codes_in_order = [c["CouponCode"] for c in sandbox.coupons("100", pred("CouponClassName", "ACQ-10"))]
    assert sandbox.distribute([1001]).json()["PartialErrors"] == [[]]  # claims the first
    assert sandbox.redeem(1002, str(codes_in_order[1])).status_code == 200  # redeems the second
    sandbox.dispatch(["one@example.com"])  # takes the third
    response = sandbox.dispatch(["two@example.com", "three@example.com", "four@example.com"])
    assert [e["Index"] for e in response.json()["PartialErrors"]] == [2]
    by_code = {c["CouponCode"]: c for c in sandbox.coupons("100", pred("CouponClassName", "ACQ-10"))}
    assert by_code[codes_in_order[2]]["SendToEmail"] == "one@example.com"
    assert by_code[codes_in_order[3]]["SendToEmail"] == "two@example.com"
    assert by_code[codes_in_order[4]]["SendToEmail"] == "three@example.com"
    assert by_code[codes_in_order[0]]["SendToEmail"] is None and by_code[codes_in_order[1]]["SendToEmail"] is None


def test_an_exhausted_class_gives_a_batch_error_for_each_email_left(sandbox: Sandbox) -> None:
    emails = [f"user{i}@example.com" for i in range(7)]
    response = sandbox.dispatch(emails)
    assert response.status_code == 200
    errors = response.json()["PartialErrors"]
    assert [e["Index"] for e in errors] == [5, 6]
    assert all(list(e) == ["Code", "Details", "Index", "Message"] and e["Code"] == 202 for e in errors)
    assert errors[0]["Message"] == "The operation cannot be completed." and "ACQ-10" in errors[0]["Details"]
    assert sorted(map(str, sent(sandbox))) == sorted(emails[:5])


def test_an_invalid_email_gives_its_batch_error_and_the_others_are_served(sandbox: Sandbox) -> None:
    response = sandbox.dispatch(["ok@example.com", "not-an-email", "", "x@y", "fine@example.org"])
    errors = response.json()["PartialErrors"]
    assert [(e["Index"], e["Code"]) for e in errors] == [(1, 201), (2, 201), (3, 201)]
    assert sorted(map(str, sent(sandbox))) == ["fine@example.org", "ok@example.com"]


def test_dispatch_refuses_an_empty_list_and_more_than_1000_emails_without_issuing(sandbox: Sandbox) -> None:
    nothing: tuple[list[str] | None, ...] = ([], None)
    for emails in nothing:
        empty = sandbox.post(DISPATCH, {"SendToEmails": emails, "CustomerId": "100", "CouponClassName": "RET-20"})
        assert empty.status_code == 400 and codes(empty) == [3087] and empty.json()["Type"] == "ApiFault"
    too_many = sandbox.dispatch([f"u{i}@example.com" for i in range(1001)], "RET-20")
    assert too_many.status_code == 400 and codes(too_many) == [3024]
    assert sent(sandbox, "RET-20") == []
    exactly = sandbox.dispatch([f"u{i}@example.com" for i in range(1000)], "RET-20")
    assert exactly.status_code == 200 and len(exactly.json()["PartialErrors"]) == 850


def test_dispatch_needs_a_class_of_that_customer_and_access_to_it(sandbox: Sandbox) -> None:
    unknown = sandbox.dispatch(["a@example.com"], "NOPE")
    assert unknown.status_code == 400 and codes(unknown) == [210]
    foreign = sandbox.dispatch(["a@example.com"], "OTHER-1", customer="100")
    assert foreign.status_code == 400 and codes(foreign) == [210]
    narrow = {"Authorization": f"Bearer {NARROW_TOKEN}", "DeveloperToken": "DEV-TOKEN-1"}
    body = {"SendToEmails": ["a@example.com"], "CustomerId": "100", "CouponClassName": "ACQ-10"}
    refused = sandbox.post(DISPATCH, body, headers=narrow)
    assert refused.status_code == 403 and codes(refused) == [1001]
    assert sent(sandbox) == []


def test_dispatch_customer_id_may_be_a_string_or_a_number(sandbox: Sandbox) -> None:
    assert sandbox.dispatch(["a@example.com"], customer=100).json() == {"PartialErrors": []}
    assert sandbox.dispatch(["b@example.com"], customer="100").json() == {"PartialErrors": []}
    bad = sandbox.dispatch(["c@example.com"], customer="one hundred")
    assert bad.status_code == 400 and codes(bad) == [201]


# --- DistributeCoupons ------------------------------------------------------------------------------------


def test_distribute_claims_a_coupon_per_account_with_claim_info(sandbox: Sandbox) -> None:
    response = sandbox.distribute([1001, 1002])
    assert response.status_code == 200
    assert response.json() == {"OperationErrors": [], "PartialErrors": [[], []]}
    claimed = [c for c in sandbox.coupons("100", ReturnAdditionalFields="CouponClaimInfo") if "ClaimInfo" in c]
    assert [c["ClaimInfo"] for c in claimed] == [
        {"AccountId": "1001", "AccountNumber": "X0001001", "ClaimDate": "2026-06-01T12:00:00Z"},
        {"AccountId": "1002", "AccountNumber": "X0001002", "ClaimDate": "2026-06-01T12:00:00Z"},
    ]
    record = sandbox.store.coupon_by_code(str(claimed[0]["CouponCode"]))
    assert record is not None and record.claim is not None and record.claim.feature_id == 7


def test_distribute_partial_errors_are_aligned_with_account_ids(sandbox: Sandbox) -> None:
    response = sandbox.distribute([1001, 424242, 1004, 2001, 1002, 1003, 1001, 1002, 1003])
    partial = response.json()["PartialErrors"]
    assert len(partial) == 9
    assert [[e["Code"] for e in entry] for entry in partial] == [[], [2108], [1001], [1001], [], [], [], [], [202]]
    assert all(list(e) == ["Code", "Details", "Message"] for entry in partial for e in entry)
    assert available(sandbox) == 0


def test_distribute_is_not_idempotent(sandbox: Sandbox) -> None:
    sandbox.distribute([1001])
    sandbox.distribute([1001])
    claims = [
        c["ClaimInfo"] for c in sandbox.coupons("100", ReturnAdditionalFields="CouponClaimInfo") if "ClaimInfo" in c
    ]
    assert [c["AccountId"] for c in claims] == ["1001", "1001"]


def test_distribute_account_ids_are_int32_numbers(sandbox: Sandbox) -> None:
    for bad in (["1001"], [2**31], [1.5], [True]):
        response = sandbox.distribute(bad)
        assert response.status_code == 400 and codes(response) == [201], bad
    assert codes(sandbox.distribute([])) == [3087]
    assert available(sandbox) == 5


def test_distribute_needs_a_known_class_and_access_to_its_owner(sandbox: Sandbox) -> None:
    unknown = sandbox.distribute([1001], "NOPE")
    assert unknown.status_code == 200 and codes(unknown) == [210]
    narrow = {"Authorization": f"Bearer {NARROW_TOKEN}", "DeveloperToken": "DEV-TOKEN-1", "CustomerId": "100"}
    body = {"AccountIds": [1001], "ClassName": "ACQ-10", "FeatureId": None, "SendNotification": True}
    refused = sandbox.post(DISTRIBUTE, body, headers=narrow)
    assert refused.status_code == 403 and codes(refused) == [1001]
    assert available(sandbox) == 5


# --- RedeemCoupon -----------------------------------------------------------------------------------------


def test_redeem_sets_is_redeemed_and_redemption_info(sandbox: Sandbox) -> None:
    code = str(sandbox.coupons("100", pred("CouponClassName", "ACQ-10"))[0]["CouponCode"])
    response = sandbox.redeem("1001", code)
    assert response.status_code == 200 and response.json() == {"RedemptionDate": "2026-06-01T12:00:00Z"}
    coupon = sandbox.coupons("100", pred("IsRedeemed", "true"))[0]
    assert coupon["CouponCode"] == code and coupon["IsRedeemed"] is True
    info = coupon["RedemptionInfo"]
    assert isinstance(info, dict) and info["AccountId"] == "1001" and info["Balance"] == 10.0
    assert info["ActivationDate"] == "2026-06-01T12:00:00Z"  # no spend threshold: active at once
    assert info["ExpirationDate"] == "2027-06-01T12:00:00Z"  # neither ActiveDuration nor ExpirationDate


def test_redeem_refusals(sandbox: Sandbox) -> None:
    acq = [str(c["CouponCode"]) for c in sandbox.coupons("100", pred("CouponClassName", "ACQ-10"))]
    future = str(sandbox.coupons("100", pred("CouponClassName", "FUTURE-5"))[0]["CouponCode"])
    assert sandbox.redeem(1001, acq[0]).status_code == 200
    again = sandbox.redeem(1002, acq[0])
    assert again.status_code == 400 and codes(again) == [202]
    assert codes(sandbox.redeem(1001, "NOSUCHCODE")) == [210]
    assert codes(sandbox.redeem(99999, acq[1])) == [2108]
    assert codes(sandbox.redeem(1001, future)) == [202]  # before its StartDate
    sandbox.distribute([1002])  # claims acq[1] for account 1002
    assert codes(sandbox.redeem(1003, acq[1])) == [202]
    assert sandbox.redeem(1002, acq[1]).status_code == 200
    narrow = {"Authorization": f"Bearer {NARROW_TOKEN}", "DeveloperToken": "DEV-TOKEN-1"}
    refused = sandbox.post(
        "/CustomerBilling/v13/Coupon/Redeem", {"AccountId": "1001", "CouponCode": acq[2]}, headers=narrow
    )
    assert refused.status_code == 403 and codes(refused) == [1001]


def test_redeem_after_the_end_date_is_refused(sandbox: Sandbox) -> None:
    code = str(sandbox.coupons("100", pred("CouponClassName", "ACQ-10"))[0]["CouponCode"])
    sandbox.clock.advance(240 * 86400)  # 2027-01-27
    assert codes(sandbox.redeem(1001, code)) == [202]


def test_request_bodies_that_are_not_json_objects(sandbox: Sandbox) -> None:
    empty = sandbox.post(DISPATCH, content=b"")
    assert empty.status_code == 400 and empty.json()["Type"] == "AdApiFaultDetail" and codes(empty) == [100]
    broken = sandbox.post(DISPATCH, content=b"{not json")
    assert broken.status_code == 400 and codes(broken) == [201]
    array = sandbox.post(DISPATCH, [1, 2])
    assert array.status_code == 400 and codes(array) == [201]
