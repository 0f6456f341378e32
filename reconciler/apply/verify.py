"""Read-after-write: after apply, re-read the touched scopes and say what became of every item."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
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
    ISSUED_NOT_YET_VISIBLE = "ISSUED_NOT_YET_VISIBLE"  # the vendor said issued; its reads do not show it yet
    FAILED = "FAILED"  # the vendor proved nothing was issued (or a read that covers the call did)
    IN_DOUBT = "IN_DOUBT"  # unknown: resolve before re-applying


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
) -> list[ItemVerdict]:
    """Each issued item against the re-read live state and the in-doubt resolutions made after it."""
    resolved = {(r.scope, r.target): r for r in resolutions}
    found: list[ItemVerdict] = []
    for batch in batches:
        scope = batch.batch.scope
        live = reread.get(scope)
        for result in batch.results:
            target = result.item.target
            visible = live is not None and target in live.issued
            code, message = result.code, result.message
            if result.outcome is Outcome.FAILED:
                verdict = Verdict.FAILED
            elif visible:
                verdict = Verdict.CONFIRMED
            elif result.outcome is Outcome.ISSUED:
                verdict = Verdict.ISSUED_NOT_YET_VISIBLE
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


def paid_twice(reread: Mapping[Scope, ScopeLive]) -> tuple[PaidTwice, ...]:
    """Every target of the scopes read that holds more than one coupon issued to it, by scope then target."""
    return tuple(
        PaidTwice(scope, held) for scope in sorted(reread) for held in held_more_than_once(reread[scope].issued)
    )
