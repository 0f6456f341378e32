"""Each item's verdict comes from the reads made after its call: a scope not read back leaves the items the vendor
answered as issued ISSUED_UNCONFIRMED (verify: needed), never CONFIRMED."""

from __future__ import annotations

from reconciler.apply.verify import QUIET_VERDICTS, ItemVerdict, Verdict, verdicts
from reconciler.plan.model import PlanItem
from reconciler.providers.base import Batch, BatchResult, ItemResult, Outcome
from reconciler.state.desired import Scope, Target, TargetKind
from tests.support.diff_factories import SCOPE, live

OTHER = Scope("msads-local", "251186883", "WINBACK27-RET-50")
SHOWN, UNSHOWN, CANARY = (Target(TargetKind.EMAIL, f"{name}@example.com") for name in ("shown", "unshown", "canary"))


def answered_issued(scope: Scope, *targets: Target) -> BatchResult:
    items = tuple(PlanItem(t, "m1") for t in targets)
    return BatchResult(Batch(scope, "DispatchCoupons", items), tuple(ItemResult(i, Outcome.ISSUED) for i in items))


def by_target(found: list[ItemVerdict]) -> dict[tuple[Scope, Target], Verdict]:
    return {(v.scope, v.target): v.verdict for v in found}


def test_an_item_answered_issued_is_confirmed_only_by_a_read_made_after_it() -> None:
    batches = [answered_issued(SCOPE, SHOWN, UNSHOWN), answered_issued(OTHER, SHOWN, CANARY)]
    found = by_target(verdicts(batches, {SCOPE: live({SHOWN: ["A1"]})}, seen={(OTHER, CANARY)}))
    assert found == {
        (SCOPE, SHOWN): Verdict.CONFIRMED,  # the read after issuing shows it
        (SCOPE, UNSHOWN): Verdict.ISSUED_NOT_YET_VISIBLE,  # read after issuing, not shown
        (OTHER, SHOWN): Verdict.ISSUED_UNCONFIRMED,  # its scope was not read back
        (OTHER, CANARY): Verdict.CONFIRMED,  # the canary's read showed it
    }


def test_without_any_read_back_nothing_is_confirmed_and_nothing_is_listed() -> None:
    found = verdicts([answered_issued(SCOPE, SHOWN, UNSHOWN)], {})
    assert {v.verdict for v in found} == {Verdict.ISSUED_UNCONFIRMED}
    assert Verdict.ISSUED_UNCONFIRMED in QUIET_VERDICTS and Verdict.ISSUED_NOT_YET_VISIBLE not in QUIET_VERDICTS
