"""The apply report: what one apply did, item by item, as data (JSON for --report) and as counts."""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass
from typing import Any

from reconciler.apply.resolve import Resolution
from reconciler.apply.verify import ItemVerdict, PaidTwice, Verdict
from reconciler.errors import ExitCode
from reconciler.plan.diff import coupon_date

REPORT_KIND = "CouponApplyReport"
REPORT_FORMAT_VERSION = 1


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


def report_to_dict(report: ApplyReport) -> dict[str, Any]:
    counts = Counter(item.verdict.value for item in report.items)
    return {
        "kind": REPORT_KIND,
        "formatVersion": REPORT_FORMAT_VERSION,
        "runId": report.run_id,
        "planChecksum": report.plan_checksum,
        "planId": report.plan_id,
        "startedAt": report.started_at,
        "finishedAt": report.finished_at,
        "outcome": report.outcome,
        "stopped": report.stopped,
        "exitCode": report.exit_code,
        "summary": {verdict.value: counts.get(verdict.value, 0) for verdict in Verdict} | {"skipped": report.skipped},
        "resolvedBefore": [
            {
                "provider": r.scope.provider,
                "owner": r.scope.owner,
                "couponClass": r.scope.coupon_class,
                "target": {"kind": r.target.kind.value, "value": r.target.value},
                "state": r.state,
                "reason": r.reason,
            }
            for r in report.resolved_before
            if r.decided
        ],
        "stillInDoubt": [
            {
                "provider": r.scope.provider,
                "owner": r.scope.owner,
                "couponClass": r.scope.coupon_class,
                "target": {"kind": r.target.kind.value, "value": r.target.value},
                "reason": r.reason,
            }
            for r in report.still_in_doubt
        ],
        "items": [
            {
                "provider": item.scope.provider,
                "owner": item.scope.owner,
                "couponClass": item.scope.coupon_class,
                "target": {"kind": item.target.kind.value, "value": item.target.value},
                "operation": item.operation,
                "verdict": item.verdict.value,
                "code": item.code,
                "message": item.message,
                "trackingId": item.tracking_id,
            }
            for item in report.items
        ],
        "heldMoreThanOnce": [
            {
                "provider": p.scope.provider,
                "owner": p.scope.owner,
                "couponClass": p.scope.coupon_class,
                "target": {"kind": p.held.target.kind.value, "value": p.held.target.value},
                "coupons": [
                    {
                        "code": c.code,
                        "status": c.status,
                        "issuedAt": c.issued_at,
                        "issueDate": None if c.issue_date is None else coupon_date(c),
                    }
                    for c in p.held.coupons
                ],
            }
            for p in report.paid_twice
        ],
    }


def report_to_json(report: ApplyReport) -> str:
    return json.dumps(report_to_dict(report), indent=2, ensure_ascii=False)
