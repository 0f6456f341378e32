"""What to tell, from an apply's lifecycle events or a drift report: pure, no I/O. Every text a notice carries is
masked (emails as the Markdown plan shows them, under the project's mask key) and scrubbed of registered secrets."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import replace
from decimal import Decimal

from reconciler.app.events import ApplyFinished, ItemsVerified, PlanSummary
from reconciler.apply.verify import QUIET_VERDICTS, PaidTwice, Verdict
from reconciler.config.redaction import scrub
from reconciler.errors import ExitCode
from reconciler.governance.model import BudgetStatus
from reconciler.notify.model import EventKind, Notice, Origin
from reconciler.plan.drift import Drift, DriftKind
from reconciler.plan.masking import EmailMasker, addresses_in

#: An apply's exit code -> the event that tells its outcome.
OUTCOME_EVENTS: Mapping[int, EventKind] = {
    ExitCode.OK: EventKind.APPLY_SUCCESS,
    ExitCode.REFUSED: EventKind.APPLY_REFUSED,
    ExitCode.PARTIAL: EventKind.APPLY_PARTIAL,
    ExitCode.IN_DOUBT: EventKind.APPLY_IN_DOUBT,
    ExitCode.ERROR: EventKind.APPLY_FAILED,
}
_OUTCOME_WORDS = {
    EventKind.APPLY_SUCCESS: "succeeded",
    EventKind.APPLY_REFUSED: "was refused",
    EventKind.APPLY_PARTIAL: "partly failed",
    EventKind.APPLY_IN_DOUBT: "left items in doubt",
    EventKind.APPLY_FAILED: "failed",
}
MAX_DETAILS = 20  # lines of detail per notice; the rest are counted
MAX_DETAIL_CHARS = 500  # per line: a vendor's error page in a message must not make the body too big to accept


def apply_notices(
    finished: ApplyFinished,
    verified: ItemsVerified | None,
    *,
    origin: Origin,
    notify_at: Mapping[str, Decimal],
    mask_key: bytes,
) -> list[Notice]:
    """The notices an apply that ended as ``finished`` gives: its outcome (but a success that issued nothing),
    the overrides its run used, the budgets its plan brought past their ``notify_at`` share (budget name ->
    share), and the targets the read after writing found paid twice."""
    notices: list[Notice] = []
    event = OUTCOME_EVENTS.get(finished.exit_code)
    plan = finished.plan
    ran = finished.run_id is not None
    if event is not None and not (event is EventKind.APPLY_SUCCESS and finished.report is None):
        notices.append(_outcome(event, finished, origin))
    if plan is not None and plan.overrides and ran:
        lines = tuple(
            f"override {o.name}: {o.reason}" + (f" (by {o.actor})" if o.actor else "") for o in plan.overrides
        )
        said = f"the run carried {len(plan.overrides)} reviewed override(s): " + ", ".join(
            o.name for o in plan.overrides
        )
        notices.append(
            _base(EventKind.OVERRIDE_USED, "couponctl apply used an override", said, finished, origin, lines)
        )
    if plan is not None:
        for status in plan.budgets:
            share = notify_at.get(status.name)
            if share is not None and past(status, share, counting_adds=ran):
                notices.append(_budget(status, share, finished, origin, counting_adds=ran))
    if verified is not None and verified.paid_twice:
        notices.append(_paid_twice(verified.paid_twice, finished, origin))
    return [masked(n, mask_key) for n in notices]


def past(status: BudgetStatus, share: Decimal, *, counting_adds: bool) -> bool:
    """Whether what the budget counts (spent, in doubt, and the plan's adds once a run sent them) reaches
    ``share`` of its limit."""
    used = status.spent + status.in_doubt + (status.adds if counting_adds else Decimal(0))
    return used >= share * status.limit


def drift_notices(drift: Drift, *, origin: Origin, mask_key: bytes) -> list[Notice]:
    """``couponctl drift`` found drift: one notice of what it found, and one of the targets it found holding more
    than one coupon of a class."""
    if not drift.has_drift:
        return []
    counts = {kind.value: drift.count(kind) for kind in DriftKind}
    details = [
        f"{scope.scope}: {len(scope.unmanaged)} unmanaged, {len(scope.void)} void, {len(scope.held_twice)} paid "
        f"twice, {len(scope.issued_late)} issued late"
        for scope in drift.scopes
        if scope.has_drift
    ]
    found = ", ".join(f"{n} {kind}" for kind, n in counts.items() if n)
    notices = [
        Notice(
            EventKind.DRIFT_FOUND,
            "couponctl drift found drift",
            f"drift in {len(details)} scope(s): {found}",
            counts=counts,
            commit=origin.commit,
            ci_url=origin.ci_url,
            exit_code=drift.exit_code,
            details=_capped(details),
        )
    ]
    twice = [
        f"{scope.scope} {item.target}: {len(item.coupons)} coupons"
        for scope in drift.scopes
        for item in scope.held_twice
    ]
    if twice:
        notices.append(
            Notice(
                EventKind.PAID_TWICE,
                "couponctl drift found a coupon paid twice",
                f"{len(twice)} target(s) hold more than one coupon of a class",
                counts={"paidTwice": len(twice)},
                commit=origin.commit,
                ci_url=origin.ci_url,
                details=_capped(twice),
            )
        )
    return [masked(n, mask_key) for n in notices]


def masked(notice: Notice, key: bytes) -> Notice:
    """``notice`` with every email in its texts masked (one masker over them all, so two addresses never render
    alike) and every registered secret scrubbed."""
    texts = [scrub(t) for t in (notice.title, notice.summary, *notice.details)]
    masker = EmailMasker(key, addresses_in(texts))

    def clean(text: str) -> str:  # scrubbed first: a secret that holds an address is still whole
        return masker.text(scrub(text))

    return replace(
        notice,
        title=clean(notice.title),
        summary=clean(notice.summary),
        details=tuple(_cut(clean(line)) for line in notice.details),
    )


def _base(
    event: EventKind, title: str, summary: str, finished: ApplyFinished, origin: Origin, details: Sequence[str] = ()
) -> Notice:
    return Notice(
        event,
        title,
        summary,
        counts=_counts(finished),
        exposure=_exposure(finished.plan),
        run_id=finished.run_id,
        commit=origin.commit,
        ci_url=origin.ci_url,
        exit_code=finished.exit_code,
        details=_capped(details),
    )


def _outcome(event: EventKind, finished: ApplyFinished, origin: Origin) -> Notice:
    details: list[str] = []
    report = finished.report
    if report is not None:
        details += [
            f"{item.verdict.value} {item.scope} {item.target}" + (f": {item.message}" if item.message else "")
            for item in report.items
            if item.verdict not in QUIET_VERDICTS
        ]
        if report.stopped:
            details.insert(0, f"stopped: {report.stopped}")
    if finished.failure is not None:
        details.insert(0, str(finished.failure))
    counts = _counts(finished)
    said = ", ".join(f"{n} {name}" for name, n in counts.items() if n) or "nothing issued"
    title = f"couponctl apply {_OUTCOME_WORDS[event]}"
    return _base(event, title, f"exit {finished.exit_code}: {said}", finished, origin, details)


def _budget(
    status: BudgetStatus, share: Decimal, finished: ApplyFinished, origin: Origin, *, counting_adds: bool
) -> Notice:
    adds = status.adds if counting_adds else Decimal(0)
    used = status.spent + status.in_doubt + adds
    percent = (used / status.limit * 100).quantize(Decimal("0.1")) if status.limit else Decimal(0)
    details = (
        f"spent {status.spent} {status.currency}, in doubt {status.in_doubt}, this run {adds}",
        f"limit {status.limit} {status.currency} ({status.period}); notify at {share * 100:g}%",
    )
    said = f"budget {status.name} has used {used} of {status.limit} {status.currency} ({percent}%)"
    title = f"budget {status.name} is past its threshold"
    notice = _base(EventKind.BUDGET_THRESHOLD, title, said, finished, origin, details)
    return replace(notice, exposure={status.currency: str(used)})


def _paid_twice(found: Iterable[PaidTwice], finished: ApplyFinished, origin: Origin) -> Notice:
    lines = [f"{p.scope} {p.held.target}: {len(p.held.coupons)} coupons" for p in found]
    said = f"{len(lines)} target(s) hold more than one coupon of a class after the run"
    return _base(EventKind.PAID_TWICE, "couponctl apply found a coupon paid twice", said, finished, origin, lines)


def _counts(finished: ApplyFinished) -> dict[str, int]:
    report = finished.report
    if report is not None:
        counts = {verdict.value: report.count(verdict) for verdict in Verdict}
        counts["skipped"] = report.skipped
        counts["paidTwice"] = len(report.paid_twice)
        return counts
    plan = finished.plan
    return {} if plan is None else {"planned": plan.items, "inDoubt": plan.in_doubt}


def _exposure(plan: PlanSummary | None) -> dict[str, str]:
    return {} if plan is None else {currency: str(amount) for currency, amount in plan.exposure}


def _capped(lines: Sequence[str]) -> tuple[str, ...]:
    if len(lines) <= MAX_DETAILS:
        return tuple(lines)
    return (*lines[:MAX_DETAILS], f"... and {len(lines) - MAX_DETAILS} more")


def _cut(line: str) -> str:
    """At most MAX_DETAIL_CHARS, cut once masked (a cut address would no longer look like one): Slack, Teams and
    most receivers refuse a body past some tens of kilobytes, and one overlong line would lose the whole notice."""
    return line if len(line) <= MAX_DETAIL_CHARS else line[: MAX_DETAIL_CHARS - 1] + "…"
