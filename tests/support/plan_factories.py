"""Plan objects built directly, for the serializer, checksum, renderer and explain tests; golden files."""

from __future__ import annotations

import os
from dataclasses import replace
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

from reconciler.governance.model import BudgetStatus, Effect, Finding, GitContext, Governance, Override
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


def sample_governance() -> Governance:
    """Governance that uses every field: a deny, a warn, a tier finding, an overridden deny, a plan-level warn, a
    breached budget, an overridden breached budget, a budget within its limit, two overrides, a local journal.
    An email is the target of the deny and inside the warn's message."""
    return Governance(
        digest="d" * 64,
        findings=(
            Finding(
                "one-class-per-account",
                Effect.DENY,
                "owner@example.com already holds a coupon of another class of spring27",
                MSADS,
                Target.email("owner@example.com"),
            ),
            Finding("large-batch", Effect.WARN, "more than 2 coupons: ask ana@example.com to check", MSADS),
            Finding(
                "finance-over-200",
                Effect.TIER,
                "exposure above USD 200 needs finance",
                tier="finance",
            ),
            Finding(
                "no-uid-twice",
                Effect.DENY,
                "uid 1918000000883 was paid last quarter",
                ALIYUN,
                Target.uid(1918000000883),
                overridden=True,
            ),
            Finding("weekend", Effect.WARN, "planned on a weekend"),
        ),
        budgets=(
            BudgetStatus(
                "spring-usd",
                "USD",
                limit=Decimal("500.00"),
                spent=Decimal("150.00"),
                in_doubt=Decimal("100.00"),
                adds=Decimal("300.00"),
                period="calendar month (Europe/Berlin)",
                period_start=datetime(2027, 2, 28, 23, 0, tzinfo=UTC),
                period_end=datetime(2027, 3, 31, 22, 0, tzinfo=UTC),
            ),
            BudgetStatus(
                "reseller-cny",
                "CNY",
                limit=Decimal("150"),
                spent=Decimal("100"),
                in_doubt=Decimal("0"),
                adds=Decimal("100"),
                period="last 30 days",
                period_start=datetime(2027, 1, 30, 12, 0, 0, 250000, tzinfo=UTC),
                period_end=None,
                overridden=True,
            ),
            BudgetStatus(
                "program",
                "USD",
                limit=Decimal("100000"),
                spent=Decimal("2500.50"),
                in_doubt=Decimal("0"),
                adds=Decimal("300.00"),
                period="lifetime",
            ),
        ),
        overrides=(
            Override(
                "no-uid-twice", "the refund of ticket 4711 was reversed", "ana", "0123456789abcdef" * 2 + "01234567"
            ),
            Override("reseller-cny", "Q1 top-up approved by finance", None, None),
        ),
        tier="finance",
        git=GitContext("ana", "spring27-emails", "0123456789abcdef" * 2 + "01234567"),
        shared_journal=False,
        environments=("coupons-finance", "coupons-board"),
    )


def governed_plan() -> Plan:
    """The sample plan with :func:`sample_governance`."""
    return replace(sample_plan(), governance=sample_governance())
