"""Bind apply to the reviewed plan: single use, not expired, unaltered, and a fresh diff may only contain
items the saved plan showed (to issue, or in doubt pending a read)."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from reconciler.apply.database import JournalLostError
from reconciler.apply.journal import Journal
from reconciler.errors import RefusedError
from reconciler.plan.checksum import verify_checksum
from reconciler.plan.explain import explain_difference
from reconciler.plan.model import Plan, PlanEndpoint, PlanItem
from reconciler.state.desired import Scope, Target

MAX_EXPLAINED = 50
FUTURE_TOLERANCE_SECONDS = 60.0
"""How far in the future a saved plan's creation time may lie before it is refused (clock jitter, not skew)."""

ItemKey = tuple[Scope, Target, str | None]


@dataclass(frozen=True)
class BoundPlan:
    """The fresh plan restricted to what was reviewed; ``skipped`` items were satisfied since review."""

    plan: Plan
    skipped: int


def _key(scope: Scope, item: PlanItem) -> ItemKey:
    return (scope, item.target, None if item.amount is None else str(item.amount))


def _to_issue(plan: Plan) -> set[ItemKey]:
    return {_key(s.scope, i) for s in plan.scopes for i in s.to_issue}


def _reviewed(plan: Plan, now: datetime) -> set[ItemKey]:
    """What the reviewer saw as to be issued at ``now``: due items, items in doubt, and scheduled items whose
    shown date has come (applied within planTTL once due, they were reviewed; before it, a manifest edited since
    review would issue them earlier than the reviewer saw). Closed items never are."""
    due = {_key(s.scope, i) for s in plan.scopes for i in (*s.to_issue, *s.in_doubt)}
    return due | {_key(s.scope, t.item) for s in plan.scopes for t in s.scheduled if t.at <= now}


def check_saved(
    saved: Plan, saved_name: str, journal: Journal, now: datetime, *, plan_ttl_seconds: float | None = None
) -> None:
    """Refuse (exit 3) an altered, expired, future-dated or already applied saved plan. ``plan_ttl_seconds`` is
    the project's planTTL: an expiry further away than that was set by a clock ahead of this one."""
    check_unaltered(saved, saved_name)
    tolerance = timedelta(seconds=FUTURE_TOLERANCE_SECONDS)
    too_far = (
        plan_ttl_seconds is not None
        and saved.expires_at is not None
        and saved.expires_at > now + timedelta(seconds=plan_ttl_seconds) + tolerance
    )
    if saved.created_at > now + tolerance or too_far:
        raise RefusedError(
            f"{saved_name} is dated {saved.created_at.isoformat()}, after now ({now.isoformat()}): a plan from the "
            "future was made on a machine whose clock is ahead, and its age cannot be judged; make and review a "
            "new plan"
        )
    if saved.expires_at is not None and now >= saved.expires_at:
        raise RefusedError(
            f"{saved_name} expired at {saved.expires_at.isoformat()} (plans live planTTL after they are made); "
            "make and review a new plan"
        )
    check_same_journal(saved, saved_name, journal)
    earlier = journal.run_with_checksum(saved.checksum)
    if earlier is not None:
        raise RefusedError(
            f"{saved_name} was already applied (run {earlier.id}, started {earlier.started_at}, "
            f"outcome {earlier.outcome or 'unfinished'}); a plan is applied once: make and review a new plan"
        )


def check_unaltered(saved: Plan, saved_name: str) -> None:
    if not verify_checksum(saved):
        raise RefusedError(f"{saved_name}: the plan's checksum does not match its content; it was altered")


def check_endpoints(saved: Plan, saved_name: str, current: tuple[PlanEndpoint, ...]) -> None:
    """Refuse (exit 3) before any credential is used when the providers would connect anywhere the reviewed plan
    did not show: write credentials go only where the reviewer saw them go. (An altered plan is refused first.)"""
    check_unaltered(saved, saved_name)
    if saved.endpoints is None:
        raise RefusedError(f"{saved_name} does not say where its providers connect; make and review a new plan")
    shown, now = set(saved.endpoints), set(current)
    if shown != now:
        lines = [f"  - now {e.provider} {e.role} -> {e.url}" for e in sorted(now - shown, key=str)]
        lines += [f"  - reviewed {e.provider} {e.role} -> {e.url}" for e in sorted(shown - now, key=str)]
        raise RefusedError(
            f"{saved_name} was reviewed with other endpoints than couponctl.yaml now gives; no credential was sent. "
            "Make and review a new plan:\n" + "\n".join(lines)
        )


def check_same_journal(saved: Plan, saved_name: str, journal: Journal) -> None:
    """Refuse a plan made against another journal, or against a later state of this one: a lost, replaced or
    restored journal has forgotten what it alone knew (items in doubt, issued but not visible yet)."""
    if saved.journal is None:
        raise JournalLostError(
            f"{saved_name} does not say which journal it was made against (made by an older couponctl?); make and "
            "review a new plan"
        )
    now = journal.identity()
    where = journal.db.location
    if now.id != saved.journal.id:
        raise JournalLostError(
            f"{saved_name} was made against another journal (journal {saved.journal.id[:12]} with "
            f"{saved.journal.runs} run(s)); {where} is journal {now.id[:12] or '(none)'} with {now.runs} run(s). "
            "A lost, replaced or per-runner journal forgets what earlier applies left in doubt, and they would be "
            "paid again: nothing was done. Apply with the journal the plan was made against (a shared journal for "
            "CI runners: README, PostgreSQL), or make and review a new plan against this one"
        )
    if now.runs < saved.journal.runs:
        raise JournalLostError(
            f"{saved_name} was made against {where} when it held {saved.journal.runs} run(s); it now holds "
            f"{now.runs}: it was restored from an older copy (a SQLite file copied without its -wal?) and has "
            "forgotten runs, so nothing was done. Restore the complete journal, or make and review a new plan"
        )


def bind(saved: Plan, fresh: Plan, saved_name: str) -> BoundPlan:
    """Refuse (exit 3) when ``fresh`` wants to issue anything ``saved`` did not show.

    Items of ``saved`` that are already satisfied are skipped; the apply issues the fresh items, all of
    which the reviewer saw. The result carries the saved plan's checksum and id: that is what was reviewed.
    """
    fresh_items = _to_issue(fresh)
    extra = fresh_items - _reviewed(saved, fresh.created_at)
    if extra:
        lines = explain_difference(saved, fresh)
        shown = "\n".join(f"  - {line}" for line in lines[:MAX_EXPLAINED])
        more = f"\n  ... and {len(lines) - MAX_EXPLAINED} more" if len(lines) > MAX_EXPLAINED else ""
        raise RefusedError(
            f"{saved_name} no longer matches the manifests and live state: {len(extra)} item(s) to issue "
            f"were not in the reviewed plan. Make and review a new plan.\n{shown}{more}".rstrip()
        )
    skipped = len(_to_issue(saved) - fresh_items)
    return BoundPlan(plan=replace(fresh, checksum=saved.checksum, plan_id=saved.plan_id), skipped=skipped)
