"""Resolve in-doubt items by reading live state, never by guessing.

An item is in doubt when its issuing call may have been processed (timeout, dropped connection, 5xx, a crash
between intent and outcome). A fresh read decides, and only a read that proves enough (docs/safety.md, "In doubt"):

- the read shows the target holding a coupon of the scope: RESOLVED_ISSUED;
- the target's absence counts (RESOLVED_NOT_ISSUED) only once ``inDoubtWindow`` has passed since the call, and only
  while the read shows every coupon couponctl knows it issued in the scope: a read that misses one is behind or
  incomplete, and an absence in it proves nothing. Then either a *witness* shows the read covers the call (a coupon
  of the scope issued after the call ended: dated so by the vendor's own fields, or sent by a call couponctl began
  after it ended), or, without one, the call is older than the longest read lag couponctl has observed through the
  provider plus its margin;
- otherwise the item stays in doubt: apply polls within the window, then leaves it blocked for a later apply or a
  person (``couponctl journal resolve``).

A provider with the optional ClaimWitness capability gives a *second witness*: a read of who holds coupons that
does not go through ``read_scope``. It can only decide an item RESOLVED_ISSUED (its target shown claiming a coupon
of the scope's value, dated within the call), never RESOLVED_NOT_ISSUED: an item it does not show is decided by the
rules above, and says whether the second witness agreed or could not be read (refused, failed).

The vendor warns that SearchCoupons "may not return every coupon": these rules are what makes an absence count.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta

from reconciler.apply.journal import (
    IN_DOUBT,
    PENDING,
    RESOLVED_ISSUED,
    RESOLVED_NOT_ISSUED,
    InDoubtItem,
    Journal,
    ScopeItem,
)
from reconciler.apply.late import record_issued_late
from reconciler.errors import ProviderError
from reconciler.plan.diff import coupon_date, lag_margin, mask_code
from reconciler.providers.base import ClaimsRead, ClaimWitness, HeldClaim, Provider
from reconciler.state.desired import DesiredState, Scope, ScopeSpec, Target
from reconciler.state.live import IssuedCoupon, LiveState, ScopeLive

RESOLVER = "couponctl (read-back)"
#: A Resolution's state for an item no read could decide: it stays in doubt.
STILL_IN_DOUBT = IN_DOUBT
#: How much later than a call's end the vendor must date a coupon for it to witness that call: room for the
#: vendor's clock running ahead of couponctl's.
VENDOR_CLOCK_ALLOWANCE_S = 5.0
#: States of later items whose target, shown holding a coupon, witnesses an earlier call (FAILED and
#: RESOLVED_NOT_ISSUED items sent nothing).
_WITNESS_STATES = frozenset({"ISSUED", "RESOLVED_ISSUED", "ISSUED_LATE", IN_DOUBT, PENDING})


@dataclass(frozen=True, slots=True)
class Resolution:
    """What a read decided of an in-doubt target: RESOLVED_ISSUED, RESOLVED_NOT_ISSUED, or STILL_IN_DOUBT."""

    scope: Scope
    target: Target
    state: str
    reason: str

    @property
    def decided(self) -> bool:
        return self.state != STILL_IN_DOUBT


@dataclass(frozen=True)
class ResolveSettings:
    """``clock``: what ages are measured on, by default the journal's (never the runner's own wall clock).
    ``guard`` runs in the transaction of every resolution and raises to write none: an apply's refuses once it no
    longer holds its lease. ``on_read`` is told of every read of a scope made to resolve (after it is recorded)."""

    window_seconds: float = 60.0
    poll_seconds: float = 2.0
    clock: Callable[[], float] | None = None
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep
    guard: Callable[[], None] | None = None
    on_read: Callable[[ScopeLive], None] | None = None


def _moment(text: str) -> datetime:
    return datetime.fromisoformat(text)


def _since(item: InDoubtItem) -> datetime:
    """From when the window of an in-doubt call runs: when the call can no longer be in flight (its answer's time,
    or for an intent without one, the last fence plus the fence bound and the request timeout), on the journal's
    clock (InDoubtItem.since)."""
    return datetime.fromtimestamp(item.since, UTC)


async def resolve_in_doubt(
    journal: Journal,
    desired: DesiredState,
    providers: Mapping[str, Provider],
    *,
    settings: ResolveSettings | None = None,
    current_run: str | None = None,
) -> list[Resolution]:
    """Resolve every in-doubt item of the declared scopes. Returns, sorted, what was decided and what stays in
    doubt (state STILL_IN_DOUBT, with the reason); only decisions are written to the journal."""
    settings = settings or ResolveSettings()
    if settings.clock is None:
        settings = replace(settings, clock=journal.clock)
    overlays = journal.overlay(set(desired.scopes), current_run=current_run)
    resolutions: list[Resolution] = []
    if not any(o.in_doubt for o in overlays.values()):
        return resolutions
    lags = provider_lags(journal)
    for scope in sorted(overlays):
        overlay = overlays[scope]
        if overlay.in_doubt:
            scope_resolver = _ScopeResolver(
                journal, desired.scopes[scope], overlay.issued, lags.get(scope.provider, 0.0), settings
            )
            resolutions.extend(await scope_resolver.run(providers[scope.provider], dict(overlay.in_doubt)))
    return resolutions


def provider_lags(journal: Journal) -> dict[str, float]:
    """Per provider, the longest read lag observed of the coupons couponctl issued through it (journal)."""
    lags: dict[str, float] = {}
    for scope, lag in journal.read_lags().items():
        if lag.lag_s is not None:
            lags[scope.provider] = max(lags.get(scope.provider, 0.0), lag.lag_s)
    return lags


class _ScopeResolver:
    """The in-doubt items of one scope, read until decided or until the window has passed for every one."""

    def __init__(
        self,
        journal: Journal,
        spec: ScopeSpec,
        known: Collection[Target],
        lag_s: float,
        settings: ResolveSettings,
    ) -> None:
        self.journal = journal
        self.spec = spec
        self.known = set(known)  # targets couponctl knows hold a coupon it issued
        self.lag_s = lag_s
        self.settings = settings
        self.items: Sequence[ScopeItem] = journal.scope_items(spec.scope)
        self.started = self._now()

    def _now(self) -> datetime:
        clock = self.settings.clock or self.journal.clock  # the journal's clock: never a runner's own
        return datetime.fromtimestamp(clock(), UTC)

    async def run(self, provider: Provider, pending: dict[Target, list[InDoubtItem]]) -> list[Resolution]:
        decided: list[Resolution] = []
        undecided: dict[Target, str] = {}
        window = self.settings.window_seconds
        while pending:
            read_at = self._now()
            live = await provider.read_scope(self.spec)
            self.journal.record_read({self.spec.scope: live.issued.keys()}, read_at)
            claims = await self._second_witness(provider, [t for t in pending if t not in live.issued])
            # Ages are judged at the read's start: what it shows is at least that recent, no more.
            now = read_at
            undecided = {}
            for target in sorted(pending):
                items = pending[target]
                state, reason = self._decide(target, items, live, read_at, now, claims)
                if state == STILL_IN_DOUBT:
                    undecided[target] = reason
                    continue
                self.journal.resolve(
                    [i.item_id for i in items], state, by=RESOLVER, reason=reason, guard=self.settings.guard
                )
                decided.append(Resolution(self.spec.scope, target, state, reason))
                if state == RESOLVED_ISSUED:
                    self.known.add(target)
                del pending[target]
            record_issued_late(self.journal, LiveState({self.spec.scope: live}))
            if self.settings.on_read is not None:
                self.settings.on_read(live)
            if not pending:
                break
            youngest = min((now - _since(i)).total_seconds() for items in pending.values() for i in items)
            if youngest >= window:
                break  # every call is past the window: waiting longer within this apply proves no more
            await self.settings.sleep(max(0.0, min(self.settings.poll_seconds, window - youngest)))
        still = [Resolution(self.spec.scope, t, STILL_IN_DOUBT, undecided[t]) for t in sorted(pending)]
        return decided + still

    async def _second_witness(self, provider: Provider, targets: list[Target]) -> ClaimsRead | None:
        """The provider's claims read of ``targets`` (those the scope's read does not show), or None when the
        provider has none or nothing is left to ask. A read that raises is unavailable, never a read showing nothing."""
        if not targets or not isinstance(provider, ClaimWitness):
            return None
        try:
            return await provider.read_claims(self.spec, targets)
        except ProviderError as err:
            return ClaimsRead(
                f"the claims read of {provider.name}", covered=frozenset(targets), unavailable=(str(err),)
            )

    def _decide(
        self,
        target: Target,
        items: list[InDoubtItem],
        live: ScopeLive,
        read_at: datetime,
        now: datetime,
        claims: ClaimsRead | None = None,
    ) -> tuple[str, str]:
        scope = self.spec.scope
        if target in live.issued:
            return RESOLVED_ISSUED, f"visible in a read of {scope}"
        if claims is None or target not in claims.covered:
            return self._decide_absent(target, items, live, read_at, now)
        claim = self._claimed(target, items, live, claims)
        if claim is not None:
            return RESOLVED_ISSUED, (
                f"not visible in a read of {scope}, but {claims.source} shows {target} claiming a coupon of "
                f"{_worth(claim)} on {claim.claimed_at:%Y-%m-%d %H:%M:%S}Z, while the call was under way"
            )
        state, reason = self._decide_absent(target, items, live, read_at, now)
        if claims.unavailable:
            why = "; ".join(claims.unavailable)
            unread = f"the second witness, {claims.source}, was unavailable ({why}): the scope's read alone judged it"
            return state, f"{reason}; {unread}"
        return state, f"{reason}; {claims.source} shows no claim by it either"

    def _claimed(
        self, target: Target, items: list[InDoubtItem], live: ScopeLive, claims: ClaimsRead
    ) -> HeldClaim | None:
        """A claim the second witness shows ``target`` holding that one of ``items``' calls may have made: dated by
        the vendor from the first intent to the last call's end (each widened by the clock allowance), and not of
        another value or feature than the scope's."""
        allowance = timedelta(seconds=VENDOR_CLOCK_ALLOWANCE_S)
        first = min(_moment(i.created_at) for i in items) - allowance
        last = max(self._end(i) for i in items) + allowance
        face = live.face_value
        for claim in claims.claims:
            if claim.target != target or claim.claimed_at is None or not first <= claim.claimed_at <= last:
                continue
            if face is not None and claim.amount is not None and claim.amount != face.amount:
                continue
            if face is not None and claim.currency is not None and claim.currency != face.currency:
                continue
            feature = self.spec.feature_id
            if feature is not None and claim.feature_id is not None and claim.feature_id != feature:
                continue
            return claim
        return None

    def _decide_absent(
        self, target: Target, items: list[InDoubtItem], live: ScopeLive, read_at: datetime, now: datetime
    ) -> tuple[str, str]:
        """What the scope's read decides of a target it does not show (the rules of the module's docstring)."""
        scope = self.spec.scope
        window = self.settings.window_seconds
        age = min((now - _since(i)).total_seconds() for i in items)
        if age < window:
            return STILL_IN_DOUBT, f"not visible yet, within inDoubtWindow ({window:g}s) of the call"
        missing = self.known - live.issued.keys()
        if missing:
            return STILL_IN_DOUBT, (
                f"not visible {age:.0f}s after the call, but the read also misses {len(missing)} coupon(s) couponctl "
                "issued in this scope: it is behind or incomplete, so an absence proves nothing"
            )
        ends = [self._end(i) for i in items]
        witness = self._witness(max(ends), target, live, read_at)
        if witness is not None:
            return RESOLVED_NOT_ISSUED, f"not visible {age:.0f}s after the call, while the same read shows {witness}"
        needed = self.lag_s + lag_margin(self.lag_s)
        if age >= needed:
            shown = (
                f"the read shows all {len(self.known)} coupon(s) couponctl issued in the scope"
                if self.known
                else "couponctl knows of no other coupon it issued in the scope"
            )
            return RESOLVED_NOT_ISSUED, (
                f"not visible {age:.0f}s after the call, older than the read lag observed through {scope.provider} "
                f"({self.lag_s:.1f}s) plus its margin; nothing issued since witnesses it, and {shown}"
            )
        return STILL_IN_DOUBT, (
            f"not visible {age:.0f}s after the call, but no coupon of the scope issued after the call shows yet and "
            f"the read lag observed through {scope.provider} ({self.lag_s:.1f}s) plus its margin has not passed: "
            "apply again later, or resolve it by hand (`couponctl journal in-doubt`)"
        )

    def _end(self, item: InDoubtItem) -> datetime:
        """When the call ended at the latest: when its answer gave out (IN_DOUBT), or when its request could no
        longer be in flight (fenced intents); for a PENDING intent of an older journal, of a run that died or lost its
        lease, the first intent another run wrote in the scope after it (that run held the lock), else the start of
        this resolution (this apply holds it)."""
        if item.in_flight_until is not None or (item.state == IN_DOUBT and item.updated_at):
            return _since(item)
        created = _moment(item.created_at)
        for other in self.items:
            if other.run_id != item.run_id and _moment(other.created_at) > created:
                return _moment(other.created_at)
        return max(self.started, created)

    def _witness(self, end: datetime, target: Target, live: ScopeLive, read_at: datetime) -> str | None:
        """A coupon of the scope, shown by the read, issued after ``end``; in words, or None."""
        latest = end + timedelta(seconds=VENDOR_CLOCK_ALLOWANCE_S)
        horizon = read_at + timedelta(seconds=VENDOR_CLOCK_ALLOWANCE_S)  # an issue date in the future is no date
        for holder, coupons in live.issued.items():
            for coupon in coupons:
                if coupon.issue_date is not None and latest < coupon.issue_date <= horizon:
                    return (
                        f"coupon {mask_code(coupon.code)} of {holder}, issued {coupon_date(coupon)} after the call "
                        "ended (by the vendor's date)"
                    )
        for later in reversed(self.items):
            created = _moment(later.created_at)
            if created < end:
                break
            held = live.issued.get(later.target, ())
            if later.target != target and later.state in _WITNESS_STATES and held and _not_before(held, end):
                return f"{later.target}, sent a coupon by a call made after this call ended"
        return None


def _worth(claim: HeldClaim) -> str:
    if claim.amount is None:
        return "unstated value"
    return f"{claim.amount:g} {claim.currency or ''}".strip()


def _not_before(coupons: Sequence[IssuedCoupon], end: datetime) -> bool:
    """Whether the coupons may have been issued after ``end``: not every one is dated before it by the vendor."""
    return any(c.issue_date is None or c.issue_date > end for c in coupons)
