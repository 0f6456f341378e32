"""What the providers keep of a coupon's fate for `couponctl status`: claimed, redeemed and the redemption date,
from the vendors' documented fields only."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

from reconciler.providers.aliyun import provider as aliyun
from reconciler.providers.aliyun import wire as aliyun_wire
from reconciler.providers.msads import provider as msads
from reconciler.providers.msads import wire as msads_wire
from reconciler.state.desired import Scope, Target

MS = Scope("msads-local", "251186883", "SPRING27-ACQ-100")
ALI = Scope("aliyun-local", "3944837183", "295873")


def ms_coupon(code: str, **fields: object) -> dict[str, object]:
    return {"CouponCode": code, "ClassName": MS.coupon_class, "Amount": 100, "CurrencyCode": "USD", **fields}


def test_msads_keeps_claims_redemptions_and_the_redemption_date() -> None:
    raw = [
        ms_coupon("A", SendToEmail="ana@example.com", SendToDate="2027-03-01T10:00:00Z"),
        ms_coupon("B", ClaimInfo={"AccountId": "180535609", "ClaimDate": "2027-03-01T11:00:00Z"}),
        ms_coupon(
            "C",
            SendToEmail="bo@example.com",
            SendToDate="2027-03-01T10:00:00Z",
            IsRedeemed=True,
            RedemptionInfo={"AccountId": "180535612", "RedemptionDate": "2027-03-04T08:30:00.1234567Z"},
        ),
        ms_coupon("D", SendToEmail="cy@example.com", IsRedeemed=True),  # redeemed where RedemptionInfo is not shown
    ]
    live = msads.live_from_coupons(MS, [msads_wire.parse_coupon(c) for c in raw])
    (a,) = live.issued[Target.email("ana@example.com")]
    (b,) = live.issued[Target.account(180535609)]
    (c,) = live.issued[Target.email("bo@example.com")]
    (d,) = live.issued[Target.email("cy@example.com")]
    assert (a.claimed, a.redeemed, a.redemption_date) == (False, False, None)
    assert (b.claimed, b.redeemed) == (True, False)
    assert (c.claimed, c.redeemed) == (True, True)
    assert c.redemption_date == datetime(2027, 3, 4, 8, 30, 0, 123456, tzinfo=UTC)
    assert (d.redeemed, d.redemption_date) == (True, None)


def test_aliyun_reads_used_coupons_from_status_or_used_amount() -> None:
    def coupon(cid: int, uid: int, status: str, used: float) -> dict[str, object]:
        return {
            "CouponId": cid,
            "UserId": uid,
            "TemplateId": int(ALI.coupon_class),
            "SellerId": int(ALI.owner),
            "Status": status,
            "Amount": 100,
            "UsedAmount": used,
        }

    raw = [coupon(1, 101, "AVAILABLE", 0), coupon(2, 102, "EXHAUSTED", 100), coupon(3, 103, "AVAILABLE", 30)]
    parsed = [aliyun_wire.parse_coupon(c) for c in raw]
    assert parsed[2].used_amount == Decimal(30)
    live = aliyun.live_from_coupons(ALI, parsed)
    fate = {t.value: (c.claimed, c.redeemed) for t, (c,) in live.issued.items()}
    assert fate == {"101": (True, False), "102": (True, True), "103": (True, True)}
