"""Issued late: an item resolved as not issued whose coupon a later read shows after all. Apply records it in the
journal (state ISSUED_LATE, with when and why), so that the ledger says what was really paid; plan and drift report
what apply has not recorded yet (:func:`reconciler.plan.diff.issued_late`)."""

from __future__ import annotations

from collections.abc import Mapping

from reconciler.apply.journal import Journal, LateCandidate
from reconciler.plan.diff import LateIssue, issued_late
from reconciler.state.desired import Scope, Target
from reconciler.state.live import LiveState


def not_issued_view(candidates: Mapping[Target, LateCandidate]) -> dict[Target, tuple[int, int]]:
    """Per target: items resolved as not issued, items holding a coupon (the journal view's ``not_issued``)."""
    return {target: (len(c.not_issued), c.holding) for target, c in candidates.items()}


def record_issued_late(journal: Journal, live: LiveState) -> list[tuple[Scope, LateIssue]]:
    """Mark ISSUED_LATE the items resolved as not issued that this read shows were issued after all, oldest first;
    returns what it found."""
    candidates = journal.late_candidates(set(live.scopes))
    found: list[tuple[Scope, LateIssue]] = []
    for scope in sorted(candidates):
        per_target = candidates[scope]
        for late in issued_late(live.scopes[scope].issued, not_issued_view(per_target)):
            reason = (
                f"a read of {scope} shows {late.target} holding {late.held} coupon(s); "
                f"the journal accounted for {late.accounted}"
            )
            journal.mark_issued_late(per_target[late.target].not_issued[: late.late], reason)
            found.append((scope, late))
    return found
