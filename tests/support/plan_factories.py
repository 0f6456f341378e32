"""Plan objects built directly, for the serializer, checksum, renderer and explain tests; golden files."""

from __future__ import annotations

import os
from dataclasses import replace
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

from reconciler.plan.model import (
    PLAN_FORMAT_VERSION,
    HeldItem,
    Plan,
    PlanItem,
    PlanProblem,
    ScopePlan,
    Severity,
)
from reconciler.state.desired import Scope, Target
from reconciler.state.live import FaceValue, IssuedCoupon

CREATED_AT = datetime(2027, 3, 1, 12, 0, tzinfo=UTC)
MSADS = Scope("msads-prod", "251186883", "SPRING27-ACQ-100")
ALIYUN = Scope("aliyun-reseller", "3944837183", "295873")
USD100 = FaceValue(Decimal("100.00"), "USD", "Acquisition")


def scope_plan(
    scope: Scope = MSADS,
    *,
    to_issue: tuple[PlanItem, ...] = (),
    face_value: FaceValue | None = USD100,
    available: int | None = 1000,
    satisfied: int = 0,
    unmanaged: tuple[HeldItem, ...] = (),
    removed: tuple[HeldItem, ...] = (),
    problems: tuple[PlanProblem, ...] = (),
    provider_type: str = "msads",
    manifests: tuple[str, ...] = ("spring27-acquisition",),
    feature_id: int | None = None,
    send_notification: bool = False,
    currency: str | None = None,
) -> ScopePlan:
    """A scope plan whose exposure follows from its items, as the diff computes it; ``currency`` defaults to the
    face value's."""
    amounts = [i.amount for i in to_issue if i.amount is not None]
    if amounts:
        exposure: Decimal | None = sum(amounts, Decimal(0))
    elif face_value is not None:
        exposure = face_value.amount * len(to_issue)
    else:
        exposure = None if to_issue else Decimal(0)
    return ScopePlan(
        scope=scope,
        provider_type=provider_type,
        manifests=manifests,
        face_value=face_value,
        available=available,
        feature_id=feature_id,
        send_notification=send_notification,
        to_issue=tuple(sorted(to_issue, key=lambda i: i.target)),
        satisfied=satisfied,
        unmanaged=unmanaged,
        removed=removed,
        problems=problems,
        exposure=exposure,
        currency=currency or (face_value.currency if face_value else None),
    )


def plan(*scopes: ScopePlan, created_at: datetime = CREATED_AT, tool_version: str = "0.1.0") -> Plan:
    return Plan(
        format_version=PLAN_FORMAT_VERSION,
        tool_version=tool_version,
        created_at=created_at,
        scopes=tuple(sorted(scopes, key=lambda s: s.scope)),
    )


def issue(target: Target, manifest: str = "spring27-acquisition", amount: str | None = None) -> PlanItem:
    return PlanItem(target, manifest, None if amount is None else Decimal(amount))


def held(target: Target, *codes: str, status: str = "claimed", note: str = "") -> HeldItem:
    coupons = tuple(IssuedCoupon(code, status, Decimal("100.00"), "USD", "2027-02-01T09:30:00Z") for code in codes)
    return HeldItem(target, coupons, note)


def sample_plan() -> Plan:
    """Two scopes that use every field: accounts, emails, uids with amounts, held items, problems."""
    msads = scope_plan(
        MSADS,
        to_issue=(
            issue(Target.account(180535609)),
            issue(Target.account(180535610)),
            issue(Target.email("owner@example.com"), "spring27-emails"),
        ),
        satisfied=40,
        unmanaged=(held(Target.account(999000111), "SPR-0900", note="issued outside the manifests"),),
        removed=(
            held(
                Target.email("ana@example.com"),
                "SPR-0001",
                status="dispatched",
                note="no longer declared; coupons cannot be revoked",
            ),
        ),
        problems=(
            PlanProblem(
                Severity.WARNING,
                "held-more-than-once",
                "account:180535611 holds 2 coupons of this class: SPR-0002, SPR-0003",
            ),
        ),
        manifests=("spring27-acquisition", "spring27-emails"),
        feature_id=12,
    )
    aliyun = scope_plan(
        ALIYUN,
        to_issue=(issue(Target.uid(1918000000883), "reseller-q1", "100"),),
        face_value=None,  # aliyun: no call reads a template's face value, and none is guessed
        currency="CNY",
        available=None,
        satisfied=1,
        provider_type="aliyun",
        manifests=("reseller-q1",),
    )
    return plan(msads, aliyun)


def with_error(source: Plan) -> Plan:
    """``source`` with an inventory shortfall in its msads scope (3 needed, 2 available)."""
    error = PlanProblem(Severity.ERROR, "inventory-shortfall", "3 coupons needed but only 2 available in the class")
    scopes = tuple(
        replace(s, available=2, problems=(*s.problems, error)) if s.scope == MSADS else s for s in source.scopes
    )
    return replace(source, scopes=scopes)


GOLDEN = Path(__file__).resolve().parents[1] / "plan" / "golden"


def assert_golden(name: str, text: str) -> None:
    """Compare ``text`` with tests/plan/golden/NAME exactly; COUPONCTL_UPDATE_GOLDEN=1 rewrites the file."""
    path = GOLDEN / name
    if os.environ.get("COUPONCTL_UPDATE_GOLDEN"):
        path.parent.mkdir(exist_ok=True)
        path.write_text(text, encoding="utf-8")
    assert text == path.read_text(encoding="utf-8")
