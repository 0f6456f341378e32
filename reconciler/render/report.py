"""The apply report as text (the end of ``couponctl apply``) and as JSON (``--report FILE``,
schemas/apply-report.schema.json)."""

from __future__ import annotations

import json
from collections import Counter
from typing import Any

from reconciler.apply.report import ApplyReport
from reconciler.apply.verify import QUIET_VERDICTS, Verdict
from reconciler.plan.diff import coupon_date, held_message

REPORT_KIND = "CouponApplyReport"
REPORT_FORMAT_VERSION = 1


def render_report_text(report: ApplyReport) -> str:
    """What went wrong item by item, the counts, and what to do about items paid twice or in doubt."""
    lines = []
    for item in report.items:
        if item.verdict not in QUIET_VERDICTS:
            detail = f" [{item.code}]" if item.code else ""
            lines.append(f"  {item.verdict.value}: {item.scope} {item.target}{detail} {item.message or ''}".rstrip())
    counts = ", ".join(f"{report.count(v)} {v.value.lower().replace('_', ' ')}" for v in Verdict)
    skipped = f", {report.skipped} skipped (satisfied since the plan)" if report.skipped else ""
    lines.append(f"Apply {report.outcome}: {counts}{skipped}. Run {report.run_id}.")
    if report.count(Verdict.ISSUED_UNCONFIRMED):
        lines.append(
            f"{report.count(Verdict.ISSUED_UNCONFIRMED)} item(s) issued unconfirmed: the vendor answered them as "
            "issued and the journal counts them so; this apply did not read them back (verify: needed), the next "
            "apply's read confirms them."
        )
    if report.stopped:
        lines.append(f"Stopped before the remaining batches: {report.stopped}")
    for paid in report.paid_twice:
        lines.append(f"  PAID MORE THAN ONCE: {paid.scope} {held_message(paid.held)}")
    if report.paid_twice:
        lines.append(
            f"{len(report.paid_twice)} target(s) hold more than one coupon of a class: coupons cannot be revoked; "
            "check with the vendor (`couponctl drift` lists them, `couponctl journal export` what was recorded)."
        )
    if report.lease_lost:
        lines.append(
            "This apply lost its lease: it sent nothing after that and resolved nothing. What it had sent may be "
            "in doubt: `couponctl journal in-doubt` lists it, and the apply that holds the lease now (or the next "
            "one) resolves it by reading live state."
        )
    for r in report.still_in_doubt:
        lines.append(f"  STILL IN DOUBT (earlier run): {r.scope} {r.target} {r.reason}")
    if report.count(Verdict.IN_DOUBT) or report.still_in_doubt:
        lines.append(
            "In-doubt items may have been issued: they are blocked until a read shows them, or shows a coupon of "
            "their scope issued after their call (docs/safety.md); run `couponctl apply` again later, or "
            "`couponctl journal resolve`."
        )
    return "\n".join(lines)


def report_to_dict(report: ApplyReport) -> dict[str, Any]:
    """The report as JSON data (schemas/apply-report.schema.json)."""
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
    """Indented JSON, without a trailing newline."""
    return json.dumps(report_to_dict(report), indent=2, ensure_ascii=False)
