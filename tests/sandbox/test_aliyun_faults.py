"""The same fault specs for the Alibaba Cloud endpoints (send, getpage, discard): throttling as the gateway does it
(400 Throttling.User), 500s before commit, answers dropped after commit, read lag for GetCouponPage."""

from __future__ import annotations

import httpx
import pytest

from reconciler.errors import InputError
from reconciler.sandbox.faults import FaultKind, FaultPlan, FaultSpec, parse_fault_spec
from tests.support.aliyun_sandbox import TEMPLATE_2, AliyunSandbox, holders


def faulty(*specs: str, clock: object = None) -> AliyunSandbox:
    return AliyunSandbox(FaultPlan.parse(specs, seed=3))


def committed(box: AliyunSandbox) -> int:
    """Coupons really sent, whatever GetCouponPage may see yet."""
    return sum(1 for c in box.store.calls() if c.endpoint == "send" and c.outcome in ("ok", "dropped"))


def test_the_alibaba_endpoints_are_fault_endpoints() -> None:
    assert parse_fault_spec("send:drop-after-commit=0.3") == FaultSpec("send", FaultKind.DROP_AFTER_COMMIT, 0.3)
    assert parse_fault_spec("getpage:lag-s=2").endpoint == "getpage"
    assert parse_fault_spec("discard:error-500=1").endpoint == "discard"
    with pytest.raises(InputError, match="send, getpage, discard"):
        parse_fault_spec("sendcoupon:error-500=1")


def test_throttling_is_400_throttling_user_and_nothing_is_sent() -> None:
    box = faulty("send:throttle-rpm=1")
    try:
        assert box.send_coupon((101, 100)).json()["Success"] is True
        response = box.send_coupon((102, 100))
        assert response.status_code == 400
        assert response.json()["Code"] == "Throttling.User"
        assert response.json()["Message"] == "Request was denied due to user flow control."
        assert 59_000 < int(response.headers["x-acs-retry-after"]) <= 60_000  # ms until the window admits one
        assert holders(box) == {101: ["AVAILABLE"]}
        assert box.page().status_code == 200  # the window is per endpoint
        assert box.store.calls()[1].outcome == "throttled" and box.store.calls()[1].code == "Throttling.User"
    finally:
        box.close()


def test_a_500_comes_before_anything_is_committed() -> None:
    box = faulty("send:error-500=1")
    try:
        response = box.send_coupon((101, 100))
        assert response.status_code == 500 and response.json()["Code"] == "InternalError"
        assert set(response.json()) == {"RequestId", "HostId", "Code", "Message", "Recommend"}
        assert holders(box) == {}
    finally:
        box.close()


def test_a_dropped_answer_was_committed() -> None:
    box = faulty("send:drop-after-commit=1")
    try:
        with pytest.raises(httpx.RemoteProtocolError):
            box.send_coupon((101, 100))
        assert holders(box) == {101: ["AVAILABLE"]}
        assert box.store.calls()[0].outcome == "dropped"
    finally:
        box.close()


@pytest.mark.parametrize("spec", ["getpage:lag-s=5", "send:lag-s=5", "*:lag-s=5"])
def test_lag_hides_what_send_changed_from_get_coupon_page(spec: str) -> None:
    box = faulty(spec)
    try:
        data = box.send_coupon((101, 100)).json()["Data"]
        assert data[0]["Uid"] == 101  # the answer itself is not lagged
        assert holders(box) == {}
        assert box.send_coupon((101, 100)).json()["Code"] == "ERROR_3089"  # limits see the true state
        box.clock.advance(5)
        assert holders(box) == {101: ["AVAILABLE"]}
    finally:
        box.close()


def test_lag_delays_a_discard_too() -> None:
    box = faulty("discard:lag-s=5")
    try:
        coupon = box.send_coupon((101, 100)).json()["Data"][0]["YouhuiId"]
        assert box.discard(coupon).json()["Data"] is True
        assert holders(box) == {101: ["AVAILABLE"]}
        box.clock.advance(5)
        assert holders(box) == {101: ["ABANDONED"]}
    finally:
        box.close()


def test_msads_search_lag_does_not_delay_alibaba_reads() -> None:
    box = faulty("search:lag-s=5")
    try:
        box.send_coupon((101, 100))
        assert holders(box) == {101: ["AVAILABLE"]}
    finally:
        box.close()


def test_hide_share_keeps_some_coupons_out_of_get_coupon_page_and_its_total_count() -> None:
    uids = (101, 102, 103, 104, 106)
    shown = []
    for seed in (3, 3, 4):
        box = AliyunSandbox(FaultPlan.parse(["getpage:hide-share=0.5"], seed=seed))
        try:
            sent = box.send_coupon(*((uid, 10) for uid in uids), template=TEMPLATE_2).json()
            assert sent["Success"] is True and len(sent["Data"]) == 5  # every uid got its coupon
            page = box.page(template=TEMPLATE_2).json()
            assert page["TotalCount"] == len(page["Data"])  # the count is of what reads show
            shown.append(sorted(c["CouponId"] for c in page["Data"]))
            # a hidden coupon still counts against PerLimitNum (2 a uid): limits see the true state
            assert box.send_coupon((101, 10), (101, 10), template=TEMPLATE_2).json()["Code"] == "ERROR_3089"
        finally:
            box.close()
    assert shown[0] == shown[1] != shown[2]  # deterministic under the fault seed
    assert 0 < len(shown[0]) < 7  # 7 coupons in the template: some hidden, not all


def test_msads_search_hide_share_does_not_hide_alibaba_coupons() -> None:
    box = faulty("search:hide-share=1")
    try:
        box.send_coupon((101, 100))
        assert holders(box) == {101: ["AVAILABLE"]}
    finally:
        box.close()
