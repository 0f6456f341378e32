"""The apply report: what one apply did, item by item, and its outcome and exit code (rendered by
:mod:`reconciler.render.report`)."""

from __future__ import annotations

from dataclasses import dataclass

from reconciler.apply.resolve import Resolution
from reconciler.apply.verify import ItemVerdict, PaidTwice, Verdict
from reconciler.errors import ExitCode


@dataclass(frozen=True)
class ApplyReport:
    """One apply: the run, the plan it applied, each item's verdict, and earlier in-doubt items resolved.

    ``paid_twice`` are the targets the read-after-write found holding more than one coupon of a class.
    ``resolved_after`` is what the in-doubt resolution after issuing decided, or left in doubt, of every in-doubt
    item of the declared scopes (this run's and earlier ones).
    """

    run_id: str
    plan_checksum: str
    plan_id: str
    started_at: str
    finished_at: str
    items: tuple[ItemVerdict, ...]
    skipped: int
    resolved_before: tuple[Resolution, ...] = ()
    stopped: str | None = None
    paid_twice: tuple[PaidTwice, ...] = ()
    resolved_after: tuple[Resolution, ...] = ()
    lease_lost: bool = False  # it stopped because it no longer held its lease: exit 5, it resolved nothing

    @property
    def still_in_doubt(self) -> tuple[Resolution, ...]:
        """In-doubt items of earlier runs that no read could decide, before or after this apply issued (this
        run's own are its IN_DOUBT items)."""
        own = {(item.scope, item.target) for item in self.items}
        return tuple(r for r in self.resolved_after if not r.decided and (r.scope, r.target) not in own)

    def count(self, verdict: Verdict) -> int:
        return sum(1 for item in self.items if item.verdict is verdict)

    @property
    def exit_code(self) -> int:
        if self.count(Verdict.IN_DOUBT) or self.still_in_doubt or self.lease_lost:
            return ExitCode.IN_DOUBT
        if self.count(Verdict.FAILED):
            return ExitCode.PARTIAL
        if self.stopped:
            return ExitCode.REFUSED
        return ExitCode.OK

    @property
    def outcome(self) -> str:
        names = {ExitCode.IN_DOUBT: "in_doubt", ExitCode.PARTIAL: "partial", ExitCode.REFUSED: "stopped"}
        return names.get(self.exit_code, "success")
