"""Read-after-write: after apply, say what became of every item, by the reads made after its call.

Which scopes are read after issuing is the apply's choice (``verify`` in couponctl.yaml, docs/safety.md "After
apply"): every scope issued in (``full``), or only those whose in-doubt items need a read to be resolved
(``needed``). An item the vendor answered as issued that no read after its answer covered is ``ISSUED_UNCONFIRMED``:
the journal counts it as issued, and the next apply's read confirms it."""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass
from enum import StrEnum

from reconciler.apply.journal import RESOLVED_ISSUED
from reconciler.apply.resolve import Resolution
from reconciler.plan.diff import held_more_than_once
from reconciler.plan.model import HeldItem
from reconciler.providers.base import BatchResult, Outcome
from reconciler.state.desired import Scope, Target
from reconciler.state.live import ScopeLive


class Verdict(StrEnum):
    """What an apply's item finally is."""

    CONFIRMED = "CONFIRMED"  # issued, and the vendor shows it
    ISSUED_UNCONFIRMED = "ISSUED_UNCONFIRMED"  # the vendor said issued; no read after its answer was made of it
    ISSUED_NOT_YET_VISIBLE = "ISSUED_NOT_YET_VISIBLE"  # the vendor said issued; its reads do not show it yet
    FAILED = "FAILED"  # the vendor proved nothing was issued (or a read that covers the call did)
    IN_DOUBT = "IN_DOUBT"  # unknown: resolve before re-applying


#: Verdicts that reports count without listing each item: the vendor answered issued, and no read contradicts it.
QUIET_VERDICTS = frozenset({Verdict.CONFIRMED, Verdict.ISSUED_UNCONFIRMED})


@dataclass(frozen=True, slots=True)
class ItemVerdict:
    scope: Scope
    target: Target
    operation: str
    verdict: Verdict
    code: str | None
    message: str | None
    tracking_id: str | None


def verdicts(
    batches: Iterable[BatchResult],
    reread: Mapping[Scope, ScopeLive],
    resolutions: Iterable[Resolution] = (),
    seen: Collection[tuple[Scope, Target]] = frozenset(),
) -> list[ItemVerdict]:
    """Each issued item against the reads made after its call and the in-doubt resolutions made after it.
    ``reread`` holds the scopes read after the last call; ``seen`` the items an earlier read, made after their
    answer, showed (the canary's). An item the vendor answered as issued in a scope ``reread`` does not hold, and
    not ``seen``, was not read back: ISSUED_UNCONFIRMED."""
    resolved = {(r.scope, r.target): r for r in resolutions}
    found: list[ItemVerdict] = []
    for batch in batches:
        scope = batch.batch.scope
        live = reread.get(scope)
        for result in batch.results:
            target = result.item.target
            visible = (live is not None and target in live.issued) or (scope, target) in seen
            code, message = result.code, result.message
            if result.outcome is Outcome.FAILED:
                verdict = Verdict.FAILED
            elif visible:
                verdict = Verdict.CONFIRMED
            elif result.outcome is Outcome.ISSUED:
                verdict = Verdict.ISSUED_NOT_YET_VISIBLE if live is not None else Verdict.ISSUED_UNCONFIRMED
            elif (resolution := resolved.get((scope, target))) is not None and resolution.decided:
                verdict = Verdict.CONFIRMED if resolution.state == RESOLVED_ISSUED else Verdict.FAILED
                code, message = "resolved", resolution.reason
            else:
                verdict = Verdict.IN_DOUBT
                if resolution is not None:
                    message = resolution.reason
            found.append(ItemVerdict(scope, target, batch.batch.operation, verdict, code, message, batch.tracking_id))
    return found


@dataclass(frozen=True, slots=True)
class PaidTwice:
    """A target of a scope that was issued more than one coupon of its class (codes masked, with their dates)."""

    scope: Scope
    held: HeldItem


def scope_paid_twice(live: ScopeLive) -> tuple[PaidTwice, ...]:
    """Every target of one scope read that holds more than one coupon issued to it, by target."""
    return tuple(PaidTwice(live.scope, held) for held in held_more_than_once(live.issued))
