"""SendCoupon, GetCouponPage and DiscardCouponList in the sandbox: the SDK's wire format and the doc's lowercase
names, the envelope the SDK parses, PerLimitNum and MaxRelease, uids related to the seller, statuses, paging."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qsl

import httpx
import pytest

from reconciler.signing import acs
from tests.support.aliyun_sandbox import (
    OTHER_SELLER,
    OTHER_TEMPLATE,
    REQUIRED,
    SELLER,
    STS_KEY,
    TEMPLATE,
    TEMPLATE_2,
    TEMPLATE_OLD,
    AliyunSandbox,
    Signing,
    holders,
    users,
)

ENVELOPE = {"Code", "Message", "RequestId", "Success", "Data", "Count", "TotalCount", "ContextMap"}
DAY = 86400.0


@pytest.fixture
def box() -> Iterator[AliyunSandbox]:
    sandbox = AliyunSandbox()
    yield sandbox
    sandbox.close()


def body(response: httpx.Response) -> dict[str, Any]:
    assert response.status_code == 200, response.text
    answer: dict[str, Any] = response.json()
    assert set(answer) == ENVELOPE, answer
    return answer


def refused(response: httpx.Response) -> tuple[str, str]:
    answer = body(response)
    assert answer["Success"] is False and answer["Data"] is None
    return str(answer["Code"]), str(answer["Message"])


# --- SendCoupon -------------------------------------------------------------------------------------------


def test_send_coupon_answers_the_envelope_with_one_coupon_per_user(box: AliyunSandbox) -> None:
    answer = body(box.send_coupon((101, 100), (102, "60.5"), request_id="my-request-7"))
    assert answer["Success"] is True and answer["Code"] == "success" and answer["Message"] == "success"
    assert answer["RequestId"] == "my-request-7"  # echoed, as the doc says
    assert answer["Count"] == answer["TotalCount"] == 2 and answer["ContextMap"] == {}
    first, second = answer["Data"]
    assert first == {"Amount": 100.0, "Uid": 101, "UserId": 101, "YouhuiId": first["YouhuiId"]}
    assert second["Uid"] == 102 and second["Amount"] == 60.5
    coupons = {c["CouponId"]: c for c in box.coupons()}
    assert set(coupons) == {first["YouhuiId"], second["YouhuiId"]}  # YouhuiId is the coupon id
    assert coupons[second["YouhuiId"]]["Amount"] == 60.5


def test_without_a_request_id_the_gateway_id_is_answered(box: AliyunSandbox) -> None:
    """DiscardCouponList: the SDK's model cannot send a RequestId (inferred behaviour 6)."""
    coupon = body(box.send_coupon((101, 100)))["Data"][0]["YouhuiId"]
    response = box.discard(coupon)
    assert body(response)["RequestId"] == response.headers["x-acs-request-id"]


SEND_PARAMS = {"SellerId": str(SELLER), "TemplateId": str(TEMPLATE), **REQUIRED, **users((101, 100))}
PAGE_PARAMS = {"SellerId": str(SELLER), "PageNo": "1", "PageSize": "10", **REQUIRED}


@pytest.mark.parametrize("name", ["RequestId", "FromApp"])
@pytest.mark.parametrize(("action", "params"), [("SendCoupon", SEND_PARAMS), ("GetCouponPage", PAGE_PARAMS)])
def test_request_id_and_from_app_are_required(
    box: AliyunSandbox, action: str, params: dict[str, str], name: str
) -> None:
    """Seed 003 (SendCoupon) and the GetCouponPage doc (notes 2.1) mark RequestId and FromApp ``Req: Yes``: without
    one, or with an empty one, the gateway answers MissingParameter (HTTP 400) naming it, and nothing is sent."""
    for sent in ({k: v for k, v in params.items() if k != name}, {**params, name: ""}):
        response = box.call(action, sent)
        assert response.status_code == 400, response.text
        answer = response.json()
        assert answer["Code"] == "MissingParameter" and name in answer["Message"]
        assert {"RequestId", "HostId", "Code", "Message", "Recommend"} == set(answer)
    assert holders(box) == {}
    assert body(box.call(action, params))["Success"] is True


def test_bid_and_operator_are_taken_and_bid_must_be_a_long(box: AliyunSandbox) -> None:
    """Seed 003's example sends ``bid`` and ``operator``; the SDK's SendCouponRequest has Bid (Long) and Operator
    (str), both optional. The call log keeps them as they were sent."""
    assert body(box.call("SendCoupon", {**SEND_PARAMS, "Bid": "26842", "Operator": "12345"}))["Success"] is True
    sent = dict(parse_qsl(box.store.calls()[-1].body))
    assert (sent["Bid"], sent["Operator"]) == ("26842", "12345")
    response = box.call("SendCoupon", {**SEND_PARAMS, "Bid": "not-a-long"})
    assert response.status_code == 400 and response.json()["Code"] == "InvalidParameter"
    assert "Bid" in response.json()["Message"]


@pytest.mark.parametrize("amount", ["100", "100.0", 100, 99.99])
def test_amounts_are_read_as_the_sdk_and_the_doc_write_them(box: AliyunSandbox, amount: object) -> None:
    assert body(box.send_coupon((101, amount)))["Success"] is True


def test_the_doc_lowercase_names_are_accepted(box: AliyunSandbox) -> None:
    params = {
        "sellerId": str(SELLER),
        "templateId": str(TEMPLATE),
        "userAmountModelList.1.amount": "100",
        "userAmountModelList.1.uid": "101",
        "requestId": "r",
        "fromApp": "test-app",
    }
    assert [d["Uid"] for d in body(box.call("SendCoupon", params))["Data"]] == [101]


def test_the_list_may_come_whole_as_json_as_in_the_doc_example(box: AliyunSandbox) -> None:
    params = {
        "SellerId": str(SELLER),
        "TemplateId": str(TEMPLATE),
        "userAmountModelList": json.dumps([{"amount": 100, "uid": 101}, {"amount": 50, "uid": 102}]),
        "requestId": "request-210e800416502754648433444de6ba",
        "fromApp": "budget-aliyun-inc-com",
    }
    assert [d["Uid"] for d in body(box.call("SendCoupon", params))["Data"]] == [101, 102]


def test_the_doc_get_with_query_parameters_works_too(box: AliyunSandbox) -> None:
    params = {"SellerId": str(SELLER), "TemplateId": str(TEMPLATE), **REQUIRED, **users((101, 100))}
    assert body(box.call("SendCoupon", params, Signing(method="GET")))["Success"] is True
    assert holders(box) == {101: ["AVAILABLE"]}


def test_per_limit_num_refuses_a_second_coupon_for_a_uid(box: AliyunSandbox) -> None:
    assert body(box.send_coupon((101, 100)))["Success"] is True
    code, message = refused(box.send_coupon((101, 100)))
    assert code == "ERROR_3089" and "PerLimitNum is 1" in message and "101" in message
    assert holders(box) == {101: ["AVAILABLE"]}


def test_per_limit_num_counts_the_same_uid_twice_in_one_call(box: AliyunSandbox) -> None:
    assert refused(box.send_coupon((101, 100), (101, 100)))[0] == "ERROR_3089"
    assert body(box.send_coupon((101, 10), (101, 10), template=TEMPLATE_2))["Success"] is True
    assert refused(box.send_coupon((101, 10), template=TEMPLATE_2))[0] == "ERROR_3089"


def test_per_limit_num_counts_voided_coupons(box: AliyunSandbox) -> None:
    coupon = body(box.send_coupon((101, 100)))["Data"][0]["YouhuiId"]
    assert body(box.discard(coupon))["Data"] is True
    assert refused(box.send_coupon((101, 100)))[0] == "ERROR_3089"


def test_a_per_limit_of_zero_means_no_limit_and_issuing_is_not_idempotent(box: AliyunSandbox) -> None:
    box.clock.now = 1767225600 + DAY  # 2026-01-02, while the Q1 template is valid
    for _ in range(3):
        assert body(box.send_coupon((101, 10), template=TEMPLATE_OLD))["Success"] is True
    assert holders(box, TEMPLATE_OLD) == {101: ["AVAILABLE"] * 3}


def test_max_release_refuses_the_whole_call_that_would_pass_it(box: AliyunSandbox) -> None:
    assert body(box.send_coupon((101, 1), (102, 1), (103, 1)))["Count"] == 3
    code, message = refused(box.send_coupon((104, 1), (105, 1)))
    assert code == "ERROR_3089" and "MaxRelease 4" in message
    assert sorted(holders(box)) == [101, 102, 103]
    assert body(box.send_coupon((104, 1)))["Success"] is True


def test_a_uid_with_no_relation_to_the_seller_is_refused_and_nothing_is_sent(box: AliyunSandbox) -> None:
    code, message = refused(box.send_coupon((101, 100), (201, 100), (999, 100)))
    assert code == "ERROR_3086" and "201, 999" in message
    assert holders(box) == {}


def test_unknown_seller_and_another_sellers_template(box: AliyunSandbox) -> None:
    assert refused(box.send_coupon((101, 1), seller=42))[0] == "ERROR_3090"
    assert refused(box.send_coupon((101, 1), template=OTHER_TEMPLATE))[0] == "ERROR_3102"
    assert refused(box.send_coupon((201, 1), seller=OTHER_SELLER, template=TEMPLATE))[0] == "ERROR_3102"
    assert refused(box.send_coupon((101, 1), template=123456))[0] == "ERROR_3102"


def test_any_access_key_reaches_every_seller(box: AliyunSandbox) -> None:
    """Inferred: ResellerTrade documents no tie between an AccessKey and a SellerId."""
    as_sts = Signing(credentials=STS_KEY)
    sent = body(box.send_coupon((201, 5), seller=OTHER_SELLER, template=OTHER_TEMPLATE, signing=as_sts))
    assert sent["Success"] is True
    assert body(box.send_coupon((101, 100)))["Success"] is True  # the other key, the other seller
    assert body(box.discard(sent["Data"][0]["YouhuiId"]))["Data"] is True  # voided with the other key


def test_an_expired_template_is_refused(box: AliyunSandbox) -> None:
    code, message = refused(box.send_coupon((101, 1), template=TEMPLATE_OLD))
    assert code == "ERROR_3088" and "expired" in message


def test_an_amount_above_the_templates_is_refused(box: AliyunSandbox) -> None:
    code, message = refused(box.send_coupon((101, 100), (102, "100.01")))
    assert code == "InvalidAmount" and "102" in message
    assert holders(box) == {}


@pytest.mark.parametrize(
    ("params", "code", "name"),
    [
        ({"TemplateId": str(TEMPLATE), **users((101, 1))}, "MissingParameter", "SellerId"),
        ({"SellerId": str(SELLER), **users((101, 1))}, "MissingParameter", "TemplateId"),
        ({"SellerId": str(SELLER), "TemplateId": str(TEMPLATE)}, "MissingParameter", "UserAmountModelList"),
        ({"SellerId": "abc", "TemplateId": str(TEMPLATE), **users((101, 1))}, "InvalidParameter", "SellerId"),
        ({"SellerId": str(SELLER), "TemplateId": str(TEMPLATE), **users((101, "0"))}, "InvalidParameter", "Amount"),
        ({"SellerId": str(SELLER), "TemplateId": str(TEMPLATE), **users((101, "ten"))}, "InvalidParameter", "Amount"),
        ({"SellerId": str(SELLER), "TemplateId": str(TEMPLATE), **users((-3, "1"))}, "InvalidParameter", "Uid"),
        (
            {"SellerId": str(SELLER), "TemplateId": str(TEMPLATE), "UserAmountModelList.1.Uid": "101"},
            "MissingParameter",
            "UserAmountModelList.1.Amount",
        ),
    ],
)
def test_malformed_parameters_are_gateway_errors(
    box: AliyunSandbox, params: dict[str, str], code: str, name: str
) -> None:
    response = box.call("SendCoupon", params)
    assert response.status_code == 400 and response.json()["Code"] == code
    assert name in response.json()["Message"]


def test_at_most_1000_users_a_call(box: AliyunSandbox) -> None:
    params = {"SellerId": str(SELLER), "TemplateId": str(TEMPLATE), **users(*[(101, 1)] * 1001)}
    response = box.call("SendCoupon", params)
    assert response.status_code == 400 and "at most 1000" in response.json()["Message"]


# --- GetCouponPage ----------------------------------------------------------------------------------------


def test_get_coupon_page_items_carry_every_field_of_the_sdk_model(box: AliyunSandbox) -> None:
    box.send_coupon((101, 100))
    (item,) = box.coupons()
    assert set(item) == {
        "Amount", "CertainMoney", "CouponId", "CouponType", "Currency", "Description", "DiscountRate", "EndTime",
        "FrozenAmount", "FrozenCount", "PromotionId", "SellerId", "StartTime", "Status", "TemplateId",
        "UniversalType", "UpperLimit", "UsageCount", "UsedAmount", "UsedCount", "UserId",
    }  # fmt: skip
    assert item["UserId"] == 101 and item["TemplateId"] == TEMPLATE and item["SellerId"] == SELLER
    assert item["Status"] == "AVAILABLE" and item["Amount"] == 100.0
    assert item["Currency"] == {"CurrencyCode": "CNY"}
    assert item["StartTime"] == "2026-06-01 20:00:00"  # the sandbox clock, 12:00 UTC, in Beijing time
    assert item["UsageCount"] == 1 and item["CertainMoney"] == 0.0  # a voucher, usable once, no threshold


def test_statuses_exhausted_abandoned_and_expired(box: AliyunSandbox) -> None:
    data = box.send_coupon((101, 30), template=TEMPLATE_2).json()["Data"]
    assert holders(box, TEMPLATE_2) == {101: ["AVAILABLE"], 104: ["AVAILABLE"], 105: ["EXHAUSTED"]}
    assert body(box.discard(data[0]["YouhuiId"]))["Data"] is True
    assert holders(box, TEMPLATE_2)[101] == ["ABANDONED"]
    box.clock.advance(31 * DAY)  # validDays 30
    assert holders(box, TEMPLATE_2) == {101: ["ABANDONED"], 104: ["EXPIRED"], 105: ["EXHAUSTED"]}


def test_paging_by_page_no_and_page_size_with_the_total(box: AliyunSandbox) -> None:
    box.clock.now = 1767225600 + DAY
    for uid in (101, 102, 103, 104, 105):
        box.send_coupon((uid, 1), (uid, 2), template=TEMPLATE_OLD)
    pages = [body(box.page(template=TEMPLATE_OLD, page_no=n, page_size=4)) for n in (1, 2, 3, 4)]
    assert [p["TotalCount"] for p in pages] == [10] * 4
    assert [p["Count"] for p in pages] == [4, 4, 2, 0]
    ids = [c["CouponId"] for p in pages for c in p["Data"]]
    assert ids == sorted(ids) and len(set(ids)) == 10


def test_filters_by_template_and_uids(box: AliyunSandbox) -> None:
    box.send_coupon((101, 100), (102, 100))
    assert {c["TemplateId"] for c in box.coupons(template=None)} == {TEMPLATE, TEMPLATE_2}
    assert [c["UserId"] for c in box.coupons(uids=(102, 104))] == [102]
    assert body(box.page(uids=(101, 102)))["TotalCount"] == 2
    assert box.coupons(template=OTHER_TEMPLATE) == []  # another seller's template: nothing of this seller


def test_uids_and_lowercase_names_as_the_doc_writes_them(box: AliyunSandbox) -> None:
    box.send_coupon((101, 100), (102, 100))
    params = {
        "sellerId": str(SELLER),
        "pageNo": "1",
        "pageSize": "10",
        "uids": "[102]",
        "requestId": "r",
        "fromApp": "a",
    }
    assert [c["UserId"] for c in body(box.call("GetCouponPage", params))["Data"]] == [102]


@pytest.mark.parametrize(
    ("params", "code", "name"),
    [
        ({"PageNo": "1", "PageSize": "10"}, "MissingParameter", "SellerId"),
        ({"SellerId": str(SELLER), "PageSize": "10"}, "MissingParameter", "PageNo"),
        ({"SellerId": str(SELLER), "PageNo": "1"}, "MissingParameter", "PageSize"),
        ({"SellerId": str(SELLER), "PageNo": "0", "PageSize": "10"}, "InvalidParameter", "PageNo"),
        ({"SellerId": str(SELLER), "PageNo": "1", "PageSize": "101"}, "InvalidParameter", "PageSize"),
    ],
)
def test_get_coupon_page_parameters(box: AliyunSandbox, params: dict[str, str], code: str, name: str) -> None:
    response = box.call("GetCouponPage", {**REQUIRED, **params})
    assert response.status_code == 400 and response.json()["Code"] == code and name in response.json()["Message"]


def test_an_unknown_seller_has_no_coupon_page(box: AliyunSandbox) -> None:
    assert refused(box.page(seller=42))[0] == "ERROR_3090"


# --- DiscardCouponList, actions, versions -----------------------------------------------------------------


def test_discard_of_an_unknown_coupon_voids_nothing(box: AliyunSandbox) -> None:
    coupon = body(box.send_coupon((101, 100)))["Data"][0]["YouhuiId"]
    answer = body(box.discard(coupon, 123))
    assert answer["Success"] is False and answer["Data"] is False and answer["Code"] == "CouponNotFound"
    assert holders(box) == {101: ["AVAILABLE"]}


def test_an_unknown_action_is_invalid_action_not_found_and_logged_unrouted(box: AliyunSandbox) -> None:
    response = box.call("QueryCouponTemplate", {"SellerId": str(SELLER)})
    assert response.status_code == 404 and response.json()["Code"] == "InvalidAction.NotFound"
    assert box.store.calls()[-1].endpoint == "unrouted"


def test_another_api_version_is_refused(box: AliyunSandbox) -> None:
    for signature in ("v3", "v1"):
        response = box.send_coupon((101, 1), signing=Signing(signature=signature, version="2022-01-01"))
        assert response.status_code == 400 and response.json()["Code"] == "InvalidVersion"
    assert holders(box) == {}


def test_calls_are_logged_by_action_with_their_codes(box: AliyunSandbox) -> None:
    box.send_coupon((101, 100))
    box.send_coupon((101, 100))
    box.page()
    calls = box.store.calls()
    assert [(c.endpoint, c.status, c.outcome, c.code) for c in calls] == [
        ("send", 200, "ok", None),
        ("send", 200, "refused", "ERROR_3089"),
        ("getpage", 200, "ok", None),
    ]
    assert "UserAmountModelList.1.Uid=101" in calls[0].body and calls[0].path == "/"


def test_the_form_body_is_the_sdks(box: AliyunSandbox) -> None:
    request = box.request("SendCoupon", {"SellerId": "1", **users((101, 1.5))})
    assert request.content == acs.form_body({"SellerId": "1", **users((101, 1.5))})
    assert request.content == b"SellerId=1&UserAmountModelList.1.Amount=1.5&UserAmountModelList.1.Uid=101"
