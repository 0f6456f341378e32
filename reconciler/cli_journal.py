"""`couponctl journal ...` and `couponctl lock ...`: inspect runs, resolve in-doubt items, break a dead lock."""

from __future__ import annotations

import os
from pathlib import Path

import click

from reconciler.apply.context import ci_actor
from reconciler.apply.journal import (
    IN_DOUBT,
    PENDING,
    RESOLVED_ISSUED,
    RESOLVED_NOT_ISSUED,
    Journal,
    JournalItem,
)
from reconciler.apply.ledger import FORMATS, render_ledger
from reconciler.apply.lock import ApplyLock
from reconciler.cli_support import Settings, reports_errors
from reconciler.config import load_config
from reconciler.errors import CouponctlError


def _journal(settings: Settings) -> Journal:
    return Journal(load_config(settings.directory).journal)


def _item_line(item: JournalItem) -> str:
    extra = f" [{item.code}]" if item.code else ""
    resolution = f" — {item.resolved_by}: {item.resolution_reason}" if item.resolved_by else ""
    tracking = f" TrackingId {item.tracking_id}" if item.tracking_id else ""
    return (
        f"  #{item.id} {item.state:<19} {item.operation} {item.scope} {item.target}{extra}{tracking}"
        f" ({item.updated_at}){resolution}"
    )


@click.group()
def journal() -> None:
    """Inspect the journal of issuing calls and resolve in-doubt items."""


@journal.command("list")
@click.option("--limit", type=click.IntRange(min=1), default=20, show_default=True)
@click.pass_obj
@reports_errors
def list_runs(settings: Settings, limit: int) -> None:
    """The latest apply runs."""
    runs = _journal(settings).runs(limit)
    if not runs:
        click.echo("No runs recorded.")
    for run in runs:
        click.echo(f"{run.id}  {run.started_at}  {run.outcome or 'unfinished':<10} plan {run.plan_checksum[:12]}")


@journal.command("show")
@click.argument("run_id")
@click.pass_obj
@reports_errors
def show_run(settings: Settings, run_id: str) -> None:
    """Every item of one run."""
    items = _journal(settings).items(run_id=run_id)
    if not items:
        raise CouponctlError(f"no run {run_id!r} in the journal (see `couponctl journal list`)")
    for item in items:
        click.echo(_item_line(item))


@journal.command("in-doubt")
@click.pass_obj
@reports_errors
def in_doubt(settings: Settings) -> None:
    """Items whose issuing call has an unknown outcome (exit 5 when there are any)."""
    items = _journal(settings).items(states=(IN_DOUBT, PENDING))
    if not items:
        click.echo("Nothing in doubt.")
        return
    for item in items:
        click.echo(_item_line(item))
    raise SystemExit(5)


@journal.command("resolve")
@click.argument("item_ids", nargs=-1, required=True, type=int)
@click.option("--as", "state", type=click.Choice(["issued", "not-issued"]), required=True, help="What really happened.")
@click.option("--reason", required=True, help="Why you know (recorded with your name).")
@click.pass_obj
@reports_errors
def resolve(settings: Settings, item_ids: tuple[int, ...], state: str, reason: str) -> None:
    """Resolve in-doubt items by hand. `not-issued` lets the next apply issue them again: be sure."""
    if not reason.strip():
        raise CouponctlError("--reason must say why (it is recorded)")
    resolved_state = RESOLVED_ISSUED if state == "issued" else RESOLVED_NOT_ISSUED
    by = ci_actor(os.environ) or "unknown"
    changed = _journal(settings).resolve(list(item_ids), resolved_state, by=by, reason=reason.strip())
    if changed != len(item_ids):
        raise CouponctlError(
            f"resolved {changed} of {len(item_ids)} item(s): the others are not in doubt "
            "(see `couponctl journal in-doubt`)"
        )
    click.echo(f"resolved {changed} item(s) as {resolved_state}")


@journal.command("export")
@click.option("--format", "fmt", type=click.Choice(FORMATS), default="csv", show_default=True)
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), help="Write to FILE instead of stdout.")
@click.pass_obj
@reports_errors
def export_ledger(settings: Settings, fmt: str, out: Path | None) -> None:
    """The ledger for finance: who, when, which commit and plan, scope, target, amount, outcome, tracking id."""
    text = render_ledger(_journal(settings).ledger(), fmt)
    if out is None:
        click.echo(text, nl=False)
        return
    try:
        out.write_text(text, encoding="utf-8")
    except OSError as exc:
        raise CouponctlError(f"cannot write {out}: {exc}") from exc


@click.group()
def lock() -> None:
    """The apply lock: one apply at a time per journal."""


def _lock(settings: Settings) -> ApplyLock:
    return ApplyLock(_journal(settings).db)


@lock.command("status")
@click.pass_obj
@reports_errors
def lock_status(settings: Settings) -> None:
    """Who holds the lock, if anyone."""
    apply_lock = _lock(settings)
    lease = apply_lock.current()
    click.echo("The lock is free." if lease is None else f"Held by {lease.describe(apply_lock.clock())}")


@lock.command("break")
@click.option("--reason", required=True, help="Why the holder is known to be dead (recorded).")
@click.pass_obj
@reports_errors
def lock_break(settings: Settings, reason: str) -> None:
    """Remove a lock whose holder died. Its in-flight items are resolved by the next apply."""
    lease = _lock(settings).break_lock(ci_actor(os.environ) or "unknown", reason)
    click.echo("The lock was free." if lease is None else f"Broke the lock held by {lease.holder}")
