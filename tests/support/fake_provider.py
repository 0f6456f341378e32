"""A scripted provider for apply tests: live state changes as the test says, calls are recorded."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from reconciler.plan.model import PlanItem
from reconciler.providers.base import NO_FENCE, Batch, BatchResult, Fence, ItemResult, Outcome
from reconciler.state.desired import ScopeSpec, Target
from reconciler.state.live import FaceValue, IssuedCoupon, ScopeLive


class FakeProvider:
    name = "msads-local"
    type = "msads"

    def __init__(self, face: FaceValue | None = None) -> None:
        self.holders: set[Target] = set()
        self.reads = 0
        self.issued_batches: list[Batch] = []
        self.outcome_for: Callable[[PlanItem], Outcome] = lambda item: Outcome.ISSUED
        self.visible_after_reads = 0  # lag: issued targets show only after this many further reads
        self._invisible: dict[Target, int] = {}
        self.face = face

    async def read_scope(self, spec: ScopeSpec) -> ScopeLive:
        self.reads += 1
        for target in list(self._invisible):
            self._invisible[target] -= 1
            if self._invisible[target] <= 0:
                del self._invisible[target]
        visible = self.holders - set(self._invisible)
        issued = {t: (IssuedCoupon(f"C-{t.value}", "dispatched"),) for t in visible}
        return ScopeLive(spec.scope, True, self.face, 1000, issued)

    def batches(self, spec: ScopeSpec, items: Sequence[PlanItem]) -> list[Batch]:
        return [Batch(spec.scope, "DispatchCoupons", tuple(items[i : i + 2])) for i in range(0, len(items), 2)]

    async def issue(self, spec: ScopeSpec, batch: Batch, fence: Fence = NO_FENCE) -> BatchResult:
        await fence()
        self.issued_batches.append(batch)
        results = []
        for item in batch.items:
            outcome = self.outcome_for(item)
            if outcome is not Outcome.FAILED:  # in doubt here means: committed, answer lost
                self.holders.add(item.target)
                if self.visible_after_reads:
                    self._invisible[item.target] = self.visible_after_reads
            results.append(ItemResult(item, outcome))
        return BatchResult(batch, tuple(results), "T")

    async def aclose(self) -> None:
        return None
