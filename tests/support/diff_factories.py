"""Builders of desired and live state for diff, drift and late-issue tests."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

from reconciler.state.desired import DesiredItem, DesiredState, Expect, Position, Scope, ScopeSpec, Target
from reconciler.state.live import FaceValue, IssuedCoupon, ScopeLive

SCOPE = Scope("msads-local", "251186883", "SPRING27-ACQ-100")
USD100 = FaceValue(Decimal(100), "USD", "Acquisition")
NOW = datetime(2027, 3, 2, 10, 0, tzinfo=UTC)  # when drift is checked


def desired(
    targets: list[Target], *, scope: Scope = SCOPE, expect: Expect | None = None, amounts: bool = False
) -> DesiredState:
    spec = ScopeSpec(scope, "msads", ("m1",), feature_id=None, send_notification=False, expect=expect)
    items = {
        t: DesiredItem(t, "m1", Position("m1.yaml", n + 1, 1), Decimal(10) if amounts else None)
        for n, t in enumerate(targets)
    }
    return DesiredState({scope: spec}, {scope: items})


def live(
    issued: dict[Target, list[str]] | None = None,
    *,
    scope: Scope = SCOPE,
    available: int | None = 100,
    face: FaceValue | None = USD100,
    exists: bool = True,
) -> ScopeLive:
    holders = {t: tuple(IssuedCoupon(code, "dispatched") for code in codes) for t, codes in (issued or {}).items()}
    return ScopeLive(scope, exists, face, available, holders)
