"""The pure diff: desired state + live state (+ what couponctl issued before) -> Plan.

No I/O and no clock: the caller passes ``created_at``. The same inputs always give the same plan.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence, Set
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from decimal import Decimal

from reconciler import __version__
from reconciler.plan.model import (
    PLAN_FORMAT_VERSION,
    HeldItem,
    Plan,
    PlanItem,
    PlanProblem,
    ScopePlan,
    Severity,
)
from reconciler.plan.windows import split_by_window
from reconciler.state.desired import Advisory, DesiredItem, DesiredState, Scope, ScopeSpec, Target
from reconciler.state.live import IssuedCoupon, JournalView, LiveState, ScopeLive
from reconciler.state.schedule import Window

NO_RECORD = JournalView()
HELD_MORE_THAN_ONCE = "held-more-than-once"
READ_LAG = "read-lag"
ISSUED_LATE = "issued-late"
#: The least margin ``inDoubtWindow`` must keep above the read lag observed (see :func:`lag_margin`).
MIN_LAG_MARGIN_S = 1.0
HELD_NOTE = "paid more than once: coupons cannot be revoked; check with the vendor"


def diff(
    desired: DesiredState,
    live: LiveState,
    *,
    created_at: datetime,
    journal: Mapping[Scope, JournalView] | None = None,
    in_doubt_window_s: float | None = None,
) -> Plan:
    """Compare every declared scope with its live state and with couponctl's journal of it.

    A declared target is satisfied when the vendor shows it holding a coupon, or when the journal records
    it issued (the vendor's reads may lag); it is in doubt when its last call's outcome is unknown; else it
    is to issue. A holder that no manifest names is *removed* when couponctl issued to it, *unmanaged*
    otherwise. With ``in_doubt_window_s``, a scope whose observed read lag the window does not cover is warned
    about (:func:`read_lag_problems`).
    """
    journal = journal or {}
    scopes = tuple(
        diff_scope(
            desired.scopes[scope],
            desired.items.get(scope, {}),
            live.scopes.get(scope),
            journal.get(scope, NO_RECORD),
            in_doubt_window_s=in_doubt_window_s,
            schedules=desired.schedules,
            now=created_at,
            advisories=desired.advisories.get(scope, ()),
        )
        for scope in sorted(desired.scopes)
    )
    return Plan(
        format_version=PLAN_FORMAT_VERSION,
        tool_version=__version__,
        created_at=created_at,
        scopes=scopes,
    )


def diff_scope(
    spec: ScopeSpec,
    declared: Mapping[Target, DesiredItem],
    live: ScopeLive | None,
    record: JournalView,
    *,
    in_doubt_window_s: float | None = None,
    schedules: Mapping[str, Window] | None = None,
    now: datetime | None = None,
    advisories: Sequence[Advisory] = (),
) -> ScopePlan:
    """The plan of one scope; see :func:`diff`. With ``schedules`` (issue windows by manifest) and ``now``, the
    items outside their window are set apart as scheduled or closed: only due items are to issue."""
    issued: Mapping[Target, tuple[IssuedCoupon, ...]] = live.issued if live else {}
    problems = _live_problems(spec, live)
    out = _sort_out(declared, issued, record)
    timed = split_by_window(out.to_issue, schedules or {}, now) if now is not None else None
    if timed is not None:
        out = replace(out, to_issue=timed.due)
    problems.extend(_warning(HELD_MORE_THAN_ONCE, held_message(held)) for held in held_more_than_once(issued))
    problems.extend(_warning(ISSUED_LATE, late.message) for late in issued_late(issued, record.not_issued))

    unmanaged, removed = _undeclared_holders(declared, issued, record.managed)
    if out.mismatched:
        problems.append(
            _warning(
                "amount-mismatch",
                f"{len(out.mismatched)} declared target(s) hold a coupon of another amount; nothing is issued to them",
            )
        )
    if live is not None and (out.to_issue or out.in_doubt or (timed is not None and timed.scheduled)):
        problems.extend(_warning(code, message) for code, message in live.advisories)
    problems.extend(_warning(a.code, str(a.problem)) for a in advisories)
    face_value = live.face_value if live else None
    available = live.available if live else None
    problems.extend(_inventory_problems(available, len(out.to_issue) + len(out.in_doubt)))
    problems.extend(_expect_problems(spec, live))
    if in_doubt_window_s is not None:
        problems.extend(read_lag_problems(record, in_doubt_window_s))
    return ScopePlan(
        scope=spec.scope,
        provider_type=spec.provider_type,
        manifests=spec.manifests,
        face_value=face_value,
        available=available,
        feature_id=spec.feature_id,
        send_notification=spec.send_notification,
        to_issue=tuple(out.to_issue),
        satisfied=out.satisfied,
        unmanaged=unmanaged,
        removed=removed,
        problems=tuple(problems),
        exposure=_exposure(out.to_issue, face_value.amount if face_value else None),
        in_doubt=tuple(out.in_doubt),
        not_yet_visible=out.not_yet_visible,
        mismatched=tuple(out.mismatched),
        currency=face_value.currency if face_value else (live.currency if live else None),
        scheduled=timed.scheduled if timed else (),
        closed=timed.closed if timed else (),
    )


def _live_problems(spec: ScopeSpec, live: ScopeLive | None) -> list[PlanProblem]:
    """What the live state of the scope says before any target is looked at: not read, or no such class."""
    if live is None:
        return [_error("live-state-missing", f"live state of {spec.scope} was not read")]
    if not live.exists:
        return [
            _error(
                "class-not-found",
                f"the vendor shows no coupon of class {spec.scope.coupon_class!r} "
                f"owned by {spec.scope.owner}: check couponClass and the owner id",
            )
        ]
    return []


@dataclass
class _SortedOut:
    """The declared targets of one scope, by what the plan does with them."""

    to_issue: list[PlanItem]
    in_doubt: list[PlanItem]
    mismatched: list[HeldItem]
    satisfied: int = 0
    not_yet_visible: int = 0


def _sort_out(
    declared: Mapping[Target, DesiredItem], issued: Mapping[Target, tuple[IssuedCoupon, ...]], record: JournalView
) -> _SortedOut:
    """Each declared target: held with another amount (mismatched), recorded issued but not yet visible
    (satisfied), recorded in doubt, held (satisfied), or missing (to issue). The lists come back sorted."""
    to_issue: list[PlanItem] = []
    in_doubt: list[PlanItem] = []
    mismatched: list[HeldItem] = []
    satisfied = not_yet_visible = 0  # locals, not attributes: this loop runs once per declared target
    # Declared order, not sorted: only the (few) lists that go into the plan are sorted, below.
    for target, item in declared.items():
        held = issued.get(target)
        if held and item.amount is not None and all(c.amount is not None and c.amount != item.amount for c in held):
            amounts = ", ".join(sorted({str(c.amount) for c in held}))
            note = f"declared amount {item.amount}, holds {amounts}: not issued again"
            mismatched.append(HeldItem(target, _masked(held), note))
        elif not held and target in record.issued:
            satisfied += 1
            not_yet_visible += 1
        elif not held and target in record.in_doubt:
            in_doubt.append(PlanItem(target=target, manifest=item.manifest, amount=item.amount))
        elif held:
            satisfied += 1
        else:
            to_issue.append(PlanItem(target=target, manifest=item.manifest, amount=item.amount))
    to_issue.sort(key=_item_order)
    in_doubt.sort(key=_item_order)
    mismatched.sort(key=_held_order)
    return _SortedOut(to_issue, in_doubt, mismatched, satisfied, not_yet_visible)


def held_more_than_once(issued: Mapping[Target, tuple[IssuedCoupon, ...]]) -> tuple[HeldItem, ...]:
    """The targets that were issued more than one coupon of the scope: money paid more than once. Sorted by target,
    codes masked. A coupon the target only redeemed (issued to someone else) does not count."""
    found: list[HeldItem] = []
    for target, held in issued.items():
        if len(held) < 2:
            continue
        received = {c.code: c for c in held if c.received}
        if len(received) > 1:
            found.append(HeldItem(target, _masked(received.values()), HELD_NOTE))
    return tuple(sorted(found, key=_held_order))


def held_message(held: HeldItem) -> str:
    """``account:1 holds 2 coupons of this class: ****AAAA, ****BBBB (issued 2027-03-02T10:00:00Z, …)``: the masked
    codes, then their dates in the same order."""
    codes = ", ".join(c.code for c in held.coupons)
    dates = ", ".join(coupon_date(c) for c in held.coupons)
    return f"{held.target} holds {len(held.coupons)} coupons of this class: {codes} (issued {dates})"


def coupon_date(coupon: IssuedCoupon) -> str:
    """When it was issued, as the vendor's fields date it (UTC, to the second); else the date the vendor shows with
    it, as shown; else ``date unknown``."""
    if coupon.issue_date is not None:
        return coupon.issue_date.astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")
    return coupon.issued_at or "date unknown"


@dataclass(frozen=True, slots=True)
class LateIssue:
    """A target holding more coupons issued to it than the journal accounts for, while some of its calls were
    resolved as not issued: ``late`` of those calls were issued after all."""

    target: Target
    late: int
    held: int
    accounted: int

    @property
    def message(self) -> str:
        return (
            f"{self.target}: {self.late} call(s) resolved as not issued were issued after all: it holds {self.held} "
            f"coupon(s), the journal accounts for {self.accounted}; apply records them as ISSUED_LATE (journal, ledger)"
        )


def issued_late(
    issued: Mapping[Target, tuple[IssuedCoupon, ...]], not_issued: Mapping[Target, tuple[int, int]]
) -> tuple[LateIssue, ...]:
    """The targets whose items resolved as not issued were issued after all, by target: each coupon issued to the
    target beyond the items that hold one (``not_issued``: per target, items resolved not issued, items holding)
    is one of those calls, oldest first. Whose coupon it is cannot be told apart: one issued to the same target by
    someone else in the meantime counts the same."""
    found: list[LateIssue] = []
    for target in sorted(not_issued):
        resolved, holding = not_issued[target]
        held = len({c.code for c in issued.get(target, ()) if c.received})
        if resolved and held > holding:
            found.append(LateIssue(target, min(held - holding, resolved), held, holding))
    return tuple(found)


def lag_margin(lag_s: float) -> float:
    """The margin ``inDoubtWindow`` must keep above an observed read lag: half of it, at least 1 s."""
    return max(MIN_LAG_MARGIN_S, lag_s / 2)


def read_lag_problems(record: JournalView, window_s: float) -> Iterable[PlanProblem]:
    """Warnings when the read lag apply observed of the scope is not covered by ``inDoubtWindow``: a coupon showed
    later after its answer than the window minus the margin, or the last read still missed one for longer than the
    window."""
    lag = record.read_lag_s
    if lag is not None and lag > 0 and window_s < lag + lag_margin(lag):
        needed = lag + lag_margin(lag)
        yield _warning(
            READ_LAG,
            f"reads still missed a coupon couponctl issued {lag:.1f}s after its answer before showing it: "
            f"inDoubtWindow ({window_s:g}s) is below that plus a margin of {lag_margin(lag):.1f}s; "
            f"set it to at least {math.ceil(needed)}s",
        )
    if record.missing and record.missing_s is not None and record.missing_s > window_s:
        yield _warning(
            READ_LAG,
            f"{record.missing} coupon(s) couponctl issued were still missing from the last read, up to "
            f"{record.missing_s:.1f}s after their answers (inDoubtWindow is {window_s:g}s): the vendor's reads lag "
            "more than the window or miss coupons",
        )


def _undeclared_holders(
    declared: Mapping[Target, DesiredItem],
    issued: Mapping[Target, tuple[IssuedCoupon, ...]],
    managed: Set[Target],
) -> tuple[tuple[HeldItem, ...], tuple[HeldItem, ...]]:
    """Holders that no manifest names, split into unmanaged and removed.

    A coupon already accounted for by a declared target (an emailed coupon later redeemed by some
    account) does not make its other holders undeclared.
    """
    undeclared = sorted(target for target in issued if target not in declared)
    if not undeclared:
        return (), ()
    accounted = {c.code for target, coupons in issued.items() if target in declared for c in coupons}
    unmanaged: list[HeldItem] = []
    removed: list[HeldItem] = []
    for target in undeclared:
        coupons = _masked(c for c in issued[target] if c.code not in accounted)
        if not coupons:
            continue
        if target in managed:
            removed.append(HeldItem(target, coupons, "no longer declared; coupons cannot be revoked"))
        else:
            unmanaged.append(HeldItem(target, coupons, "issued outside the manifests"))
    return tuple(unmanaged), tuple(removed)


def _item_order(item: PlanItem) -> Target:
    return item.target


def _held_order(held: HeldItem) -> Target:
    return held.target


def _masked(coupons: Iterable[IssuedCoupon]) -> tuple[IssuedCoupon, ...]:
    """The coupons with their codes masked, sorted by (masked) code."""
    return tuple(sorted((replace(c, code=mask_code(c.code)) for c in coupons), key=lambda c: c.code))


def mask_code(code: str) -> str:
    """A coupon code can be redeemed by whoever reads it: plans show only its last four characters."""
    return "****" + code[-4:] if len(code) > 4 else "****"


def _inventory_problems(available: int | None, needed: int) -> Iterable[PlanProblem]:
    if available is not None and needed > available:
        yield _error(
            "inventory-shortfall",
            f"{needed} coupons needed but only {available} available in the class",
        )


def _expect_problems(spec: ScopeSpec, live: ScopeLive | None) -> Iterable[PlanProblem]:
    """``expect`` against what the vendor tells of the scope.

    When the vendor tells a face value (msads: the class's), amount and currency are compared with it. When it
    tells none (aliyun: ResellerTrade has no call that reads a template, and each uid's coupon has its own
    amount), nothing is guessed: ``expect.amount`` was checked against the declared amounts by ``validate``, and
    ``expect.currency`` is compared with the currency each coupon read reports (a template's coupons are all in
    its currency). A template with no coupon yet has nothing to compare.
    """
    expect = spec.expect
    if expect is None or live is None:
        return
    face = live.face_value
    if face is not None:
        if expect.amount is not None and expect.amount != face.amount:
            yield _error("expect-mismatch", f"manifests expect amount {expect.amount}, the class has {face.amount}")
        if expect.currency is not None and expect.currency.upper() != face.currency.upper():
            message = f"manifests expect currency {expect.currency}, the class has {face.currency}"
            yield _error("expect-mismatch", message)
    elif expect.currency is not None:
        wanted = expect.currency.upper()
        others = sorted(
            {c.currency for held in live.issued.values() for c in held if c.currency and c.currency.upper() != wanted}
        )
        if others:
            yield _error(
                "expect-mismatch",
                f"manifests expect currency {expect.currency}, coupons of this template are in {', '.join(others)}",
            )


def _exposure(items: list[PlanItem], face_amount: Decimal | None) -> Decimal | None:
    if any(item.amount is not None for item in items):
        return sum((item.amount for item in items if item.amount is not None), Decimal(0))
    if face_amount is None:
        return None if items else Decimal(0)
    return face_amount * len(items)


def _error(code: str, message: str) -> PlanProblem:
    return PlanProblem(Severity.ERROR, code, message)


def _warning(code: str, message: str) -> PlanProblem:
    return PlanProblem(Severity.WARNING, code, message)
