"""The second witness of in-doubt resolution (docs/safety.md, "In doubt"): a provider's claims read decides an item
issued when it shows the target claiming a coupon of the scope's value while the call was under way; it never
decides one not issued, and a claims read that could not be made is said so, never taken as showing nothing."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from reconciler.apply.journal import RESOLVED_ISSUED, RESOLVED_NOT_ISSUED, Journal
from reconciler.apply.resolve import Resolution, ResolveSettings, resolve_in_doubt
from reconciler.errors import ProviderError
from reconciler.plan.model import PlanItem
from reconciler.providers.base import Batch, BatchResult, ClaimsRead, ClaimWitness, HeldClaim, ItemResult, Outcome
from reconciler.state.desired import DesiredState, ScopeSpec, Target
from tests.support.diff_factories import SCOPE, USD100, desired
from tests.support.fake_provider import FakeProvider

A = Target.account("180535609")


class WitnessProvider(FakeProvider):
    """A provider whose claims read shows ``claims``, names ``unavailable``, or raises ``error``."""

    def __init__(self) -> None:
        super().__init__(face=USD100)
        self.claims: list[HeldClaim] = []
        self.unavailable: tuple[str, ...] = ()
        self.error: ProviderError | None = None
        self.asked: list[list[Target]] = []

    async def read_claims(self, spec: ScopeSpec, targets: Sequence[Target]) -> ClaimsRead:
        self.asked.append(list(targets))
        if self.error is not None:
            raise self.error
        return ClaimsRead("the claims read", tuple(self.claims), frozenset(targets), self.unavailable)


class FakeTime:
    def __init__(self, start: float) -> None:
        self.now = start
        self.slept: list[float] = []

    def clock(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


def distribute_in_doubt(journal: Journal) -> datetime:
    """A DistributeCoupons call to A whose answer was lost; when its intent was written."""
    run = journal.start_run("sum", "0.1", None, None)
    batch = Batch(SCOPE, "DistributeCoupons", (PlanItem(A, "m"),))
    result = BatchResult(batch, tuple(ItemResult(i, Outcome.IN_DOUBT) for i in batch.items))
    journal.record_outcome(journal.record_intent(run, batch), result)
    return datetime.fromisoformat(journal.items()[0].created_at)


def resolve(journal: Journal, provider: FakeProvider, time: FakeTime, state: DesiredState | None = None) -> Resolution:
    settings = ResolveSettings(window_seconds=30, poll_seconds=5, clock=time.clock, sleep=time.sleep)
    resolved = asyncio.run(
        resolve_in_doubt(journal, state or desired([A]), {"msads-local": provider}, settings=settings)
    )
    assert len(resolved) == 1
    return resolved[0]


def test_the_provider_capability_is_optional() -> None:
    assert isinstance(WitnessProvider(), ClaimWitness)
    assert not isinstance(FakeProvider(), ClaimWitness)


def test_a_claim_dated_while_the_call_was_under_way_resolves_the_item_issued_at_once(journal_location: str) -> None:
    """SearchCoupons does not show A; the claims read shows A claiming a coupon of the class's value, dated while
    the call was under way: RESOLVED_ISSUED at the first read, without waiting out the window."""
    journal = Journal(journal_location)
    start = distribute_in_doubt(journal)
    time = FakeTime(start.timestamp())
    provider = WitnessProvider()
    provider.claims = [HeldClaim(A, start + timedelta(milliseconds=5), Decimal("100.0"), "USD")]
    decided = resolve(journal, provider, time)
    assert decided.state == RESOLVED_ISSUED and "the claims read shows account:180535609 claiming" in decided.reason
    assert time.slept == [] and provider.asked == [[A]]
    assert {i.target: i.state for i in journal.items()} == {A: RESOLVED_ISSUED}


@pytest.mark.parametrize(
    "claim",
    [
        pytest.param(lambda start: HeldClaim(A, start - timedelta(minutes=5), Decimal(100), "USD"), id="before"),
        pytest.param(lambda start: HeldClaim(A, start + timedelta(minutes=5), Decimal(100), "USD"), id="after"),
        pytest.param(lambda start: HeldClaim(A, None, Decimal(100), "USD"), id="undated"),
        pytest.param(lambda start: HeldClaim(A, start, Decimal(50), "USD"), id="another-value"),
        pytest.param(lambda start: HeldClaim(A, start, Decimal(100), "EUR"), id="another-currency"),
        pytest.param(lambda start: HeldClaim(A, start, Decimal(100), "USD", feature_id=9), id="another-feature"),
        pytest.param(lambda start: HeldClaim(Target.account("1"), start, Decimal(100), "USD"), id="another-target"),
    ],
)
def test_a_claim_the_call_cannot_have_made_proves_nothing(journal_location: str, claim: object) -> None:
    """A claim of A dated outside the call (an earlier or a later coupon), undated, of another value or feature, or
    of another target is no witness: the item is decided by SearchCoupons' rules, and the reason says the claims
    read agreed."""
    journal = Journal(journal_location)
    start = distribute_in_doubt(journal)
    time = FakeTime(start.timestamp())
    provider = WitnessProvider()
    assert callable(claim)
    provider.claims = [claim(start)]
    state = desired([A])
    spec = state.scopes[SCOPE]
    state = replace(state, scopes={SCOPE: replace(spec, feature_id=7)})
    decided = resolve(journal, provider, time, state)
    assert decided.state == RESOLVED_NOT_ISSUED, decided.reason
    assert decided.reason.endswith("; the claims read shows no claim by it either")
    assert time.now - start.timestamp() >= 30  # the window was waited out, as without a second witness


def test_a_claims_read_that_could_not_be_made_is_said_so_never_taken_for_absence(journal_location: str) -> None:
    """A claims read refused for a receiving customer: what SearchCoupons' rules decide stands, and the reason names
    the second witness as unavailable, with why (not "shows no claim")."""
    journal = Journal(journal_location)
    start = distribute_in_doubt(journal)
    provider = WitnessProvider()
    provider.unavailable = ("customer 42 refused: not authorized",)
    decided = resolve(journal, provider, FakeTime(start.timestamp()))
    assert decided.state == RESOLVED_NOT_ISSUED
    assert (
        "the second witness, the claims read, was unavailable (customer 42 refused: not authorized)" in decided.reason
    )
    assert "shows no claim" not in decided.reason


def test_a_claims_read_that_raises_is_unavailable_and_resolution_goes_on(journal_location: str) -> None:
    journal = Journal(journal_location)
    start = distribute_in_doubt(journal)
    provider = WitnessProvider()
    provider.error = ProviderError("connection reset", provider="msads-local", operation="claims")
    decided = resolve(journal, provider, FakeTime(start.timestamp()))
    assert decided.state == RESOLVED_NOT_ISSUED and "was unavailable (" in decided.reason
    assert "connection reset" in decided.reason


def test_a_target_the_scope_read_shows_is_not_asked_of_the_second_witness(journal_location: str) -> None:
    journal = Journal(journal_location)
    start = distribute_in_doubt(journal)
    provider = WitnessProvider()
    provider.holders = {A}
    decided = resolve(journal, provider, FakeTime(start.timestamp()))
    assert decided.state == RESOLVED_ISSUED and provider.asked == []


@pytest.mark.parametrize(
    ("edge", "offset_s", "state"),
    [
        ("intent", -4.0, RESOLVED_ISSUED),
        ("intent", -6.0, RESOLVED_NOT_ISSUED),
        ("end", 4.0, RESOLVED_ISSUED),
        ("end", 6.0, RESOLVED_NOT_ISSUED),
    ],
)
def test_the_vendor_clock_allowance_is_five_seconds_either_side_of_the_call(
    journal_location: str, edge: str, offset_s: float, state: str
) -> None:
    """A ClaimDate up to 5 s before the intent or after the call's end (its answer: the vendor's clock may run apart
    from the journal's) still witnesses the call; 6 s does not."""
    journal = Journal(journal_location)
    start = distribute_in_doubt(journal)
    (item,) = journal.overlay({SCOPE})[SCOPE].in_doubt[A]
    end = datetime.fromtimestamp(item.since, UTC)
    provider = WitnessProvider()
    provider.claims = [
        HeldClaim(A, (start if edge == "intent" else end) + timedelta(seconds=offset_s), Decimal(100), "USD")
    ]
    assert resolve(journal, provider, FakeTime(start.timestamp())).state == state


def test_a_claim_that_states_no_value_is_judged_by_its_date_alone(journal_location: str) -> None:
    journal = Journal(journal_location)
    start = distribute_in_doubt(journal)
    provider = WitnessProvider()
    provider.claims = [HeldClaim(A, start, None, None)]
    decided = resolve(journal, provider, FakeTime(start.timestamp()))
    assert decided.state == RESOLVED_ISSUED and "unstated value" in decided.reason
