"""The provider contract shared by every vendor."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from enum import StrEnum
from typing import Protocol, runtime_checkable

from reconciler.errors import OutcomeUnknownError, ProviderError
from reconciler.plan.model import PlanItem
from reconciler.state.desired import Scope, ScopeSpec, Target
from reconciler.state.live import ScopeLive

log = logging.getLogger(__name__)


class Outcome(StrEnum):
    """What happened to one item of an issuing call.

    ``FAILED`` means the vendor proved nothing was issued for the item; ``IN_DOUBT`` means it may have been.
    """

    ISSUED = "issued"
    FAILED = "failed"
    IN_DOUBT = "in_doubt"


@dataclass(frozen=True, slots=True)
class ItemResult:
    item: PlanItem
    outcome: Outcome
    code: str | None = None
    message: str | None = None


@dataclass(frozen=True, slots=True)
class Batch:
    """Items issued by one call of ``operation`` (e.g. DispatchCoupons)."""

    scope: Scope
    operation: str
    items: tuple[PlanItem, ...]


@dataclass(frozen=True, slots=True)
class BatchResult:
    batch: Batch
    results: tuple[ItemResult, ...]
    tracking_id: str | None = None
    request_id: str | None = None


def chunks(scope: Scope, operation: str, items: Sequence[PlanItem], size: int) -> list[Batch]:
    """``items`` in batches of at most ``size`` for ``operation``, order kept."""
    return [Batch(scope, operation, tuple(items[i : i + size])) for i in range(0, len(items), size)]


def same_results(items: Sequence[PlanItem], outcome: Outcome, code: str | None, message: str) -> tuple[ItemResult, ...]:
    """One outcome for every item (a failure of the whole call)."""
    return tuple(ItemResult(item, outcome, code, message) for item in items)


def failure_outcome(error: ProviderError) -> Outcome:
    """What a failed issuing call means for its items: IN_DOUBT when it may have been processed, else FAILED."""
    return Outcome.IN_DOUBT if isinstance(error, OutcomeUnknownError) else Outcome.FAILED


def failed_batch(batch: Batch, error: ProviderError, *, request_id: str | None = None) -> BatchResult:
    """The result of an issuing call that failed as a whole (logged): every item IN_DOUBT when the call may
    have been processed, else FAILED."""
    outcome = failure_outcome(error)
    log.warning(
        "issue: operation=%s items=%d outcome=%s request_id=%s error=%s",
        batch.operation,
        len(batch.items),
        outcome,
        request_id,
        error,
    )
    results = same_results(batch.items, outcome, error.code, str(error))
    return BatchResult(batch, results, tracking_id=error.tracking_id, request_id=request_id)


def unreadable_batch(
    batch: Batch, message: str, *, tracking_id: str | None, request_id: str | None = None
) -> BatchResult:
    """The vendor answered but its answer cannot be read per item: every item IN_DOUBT."""
    results = same_results(batch.items, Outcome.IN_DOUBT, "MalformedResponse", message)
    return BatchResult(batch, results, tracking_id=tracking_id, request_id=request_id)


class Fence(Protocol):
    """What an issuing call awaits right before each HTTP attempt (retries included): proof that the apply still
    holds its lease, as a conditional journal write. Raises (LeaseLostError, or the journal's error) when it
    cannot be proven: then that attempt must not be sent.

    ``still_fresh`` is awaited once more right before the request's first byte is written (after connecting):
    it fences again if more than the fence bound has passed since the last fence.
    """

    async def __call__(self) -> None: ...

    async def still_fresh(self) -> None: ...


class _NoFence:
    """No lease to prove (provider tests, tools outside apply)."""

    async def __call__(self) -> None:
        return None

    async def still_fresh(self) -> None:
        return None


NO_FENCE: Fence = _NoFence()


class Provider(Protocol):
    """A vendor account named in couponctl.yaml.

    ``read_scope`` never issues. ``issue`` sends exactly one issuing call for the batch and never retries it
    unless the vendor proves nothing was processed; failures of the whole call are reported per item
    (FAILED or IN_DOUBT), never raised. It awaits ``fence`` right before each attempt leaves, and lets what
    ``fence`` raises propagate: that attempt was not sent (and earlier ones were proven not processed).
    """

    name: str
    type: str

    async def read_scope(self, spec: ScopeSpec) -> ScopeLive: ...

    def batches(self, spec: ScopeSpec, items: Sequence[PlanItem]) -> list[Batch]: ...

    async def issue(self, spec: ScopeSpec, batch: Batch, fence: Fence = NO_FENCE) -> BatchResult: ...

    async def aclose(self) -> None: ...


@runtime_checkable
class Exporter(Protocol):
    """An optional provider capability, for ``couponctl export``: read every class or template of one owner.

    ``read_owner`` never issues; it returns one ScopeLive per class (msads: owner customer id) or template
    (aliyun: seller id) that the vendor shows, sorted by class. Check with ``isinstance(provider, Exporter)``.
    """

    name: str
    type: str

    async def read_owner(self, owner: str) -> list[ScopeLive]: ...


@dataclass(frozen=True, slots=True)
class HeldClaim:
    """One coupon a claims read shows ``target`` holding: when the vendor dates its claim, and what it is worth
    (None where the vendor does not say). Nothing ties it to a class: the read names no class."""

    target: Target
    claimed_at: datetime | None
    amount: Decimal | None = None
    currency: str | None = None
    feature_id: int | None = None


@dataclass(frozen=True, slots=True)
class ClaimsRead:
    """What a claims read shows. ``covered``: the targets it can speak of at all (others: no word either way);
    ``source``: the read in words; ``unavailable``: why some or all of it could not be read (refused, failed). A
    target it does not show is not proven absent: the read may miss it, or its holder may not have been read."""

    source: str
    claims: tuple[HeldClaim, ...] = ()
    covered: frozenset[Target] = frozenset()
    unavailable: tuple[str, ...] = ()


@runtime_checkable
class ClaimWitness(Protocol):
    """An optional provider capability: a second read of who holds coupons, independent of ``read_scope``, that the
    in-doubt resolution uses as a second witness (the vendor's read of who claimed which coupon, where it has one).
    It never issues and never raises ProviderError: what it could not read it names in ``ClaimsRead.unavailable``.
    Check with ``isinstance(provider, ClaimWitness)``."""

    name: str
    type: str

    async def read_claims(self, spec: ScopeSpec, targets: Sequence[Target]) -> ClaimsRead: ...
