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
    RunInfo,
)
from reconciler.apply.lock import BUDGET_LEASE_PREFIX, LOCK_NAME, ApplyLock
from reconciler.cli.support import Settings, echo_report, format_option, reports_errors
from reconciler.config.load import load_config
from reconciler.config.redaction import scrub
from reconciler.errors import CouponctlError, ExitCode
from reconciler.render.formats import JOURNAL_IN_DOUBT, JOURNAL_RUN, JOURNAL_RUNS, LEDGER, render_document
from reconciler.render.journal import RunItems, when


def _journal(settings: Settings) -> Journal:
    settings.announce_root()
    return Journal(load_config(settings.directory).journal)


@click.group()
def journal() -> None:
    """Inspect the journal of issuing calls and resolve in-doubt items."""


@journal.command("list")
@click.option("--limit", type=click.IntRange(min=1), default=20, show_default=True)
@click.pass_obj
@reports_errors
def list_runs(settings: Settings, limit: int) -> None:
    """The latest apply runs, newest first."""
    echo_report(JOURNAL_RUNS, "text", _journal(settings).runs(limit))


def find_run(journal: Journal, given: str) -> RunInfo:
    """The one run whose id is, or starts with, ``given``; an error naming the candidates otherwise."""
    prefix = given.strip()
    if not prefix:
        raise CouponctlError("which run? give its id, or the start of it (see `couponctl journal list`)")
    runs = journal.runs_starting_with(prefix)
    if not runs:
        raise CouponctlError(
            f"no run id starts with {prefix!r} in the journal {journal.db.location} (see `couponctl journal list`)"
        )
    exact = [run for run in runs if run.id == prefix.lower()]
    if len(runs) > 1 and not exact:
        shown = [f"  {run.id} (started {when(run.started_at)}, {run.outcome or 'unfinished'})" for run in runs[:10]]
        more = [f"  ... and {len(runs) - 10} more"] if len(runs) > 10 else []
        raise CouponctlError(
            "\n".join([f"{prefix!r} is the start of {len(runs)} run ids; give more of it:", *shown, *more])
        )
    return exact[0] if exact else runs[0]


@journal.command("show")
@click.argument("run_id")
@click.pass_obj
@reports_errors
def show_run(settings: Settings, run_id: str) -> None:
    """Every item of one run. RUN_ID may be any unique start of the id."""
    opened = _journal(settings)
    run = find_run(opened, run_id)
    echo_report(JOURNAL_RUN, "text", RunItems(run, opened.items(run_id=run.id)))


@journal.command("in-doubt")
@click.pass_obj
@reports_errors
def in_doubt(settings: Settings) -> None:
    """Items whose issuing call has an unknown outcome (exit 5 when there are any)."""
    items = _journal(settings).items(states=(IN_DOUBT, PENDING))
    echo_report(JOURNAL_IN_DOUBT, "text", items)
    if items:
        raise SystemExit(ExitCode.IN_DOUBT)


def item_id(text: str) -> int:
    """An item id as `couponctl journal in-doubt` prints it (``#5``) or bare (``5``)."""
    given = text.strip()
    digits = given[1:] if given.startswith("#") else given
    if not digits.isascii() or not digits.isdigit():
        raise click.BadParameter(
            f"{given!r} is not an item id: give it as `couponctl journal in-doubt` prints it (#5) or as 5"
        )
    return int(digits)


def _item_ids(_ctx: click.Context, _param: click.Parameter, values: tuple[str, ...]) -> tuple[int, ...]:
    return tuple(item_id(value) for value in values)


@journal.command("resolve")
@click.argument("item_ids", metavar="ID...", nargs=-1, required=True, callback=_item_ids)
@click.option("--as", "state", type=click.Choice(["issued", "not-issued"]), required=True, help="What really happened.")
@click.option("--reason", required=True, help="Why you know (recorded with your name).")
@click.pass_obj
@reports_errors
def resolve(settings: Settings, item_ids: tuple[int, ...], state: str, reason: str) -> None:
    """Resolve in-doubt items by hand. `not-issued` lets the next apply issue them again: be sure.

    Each ID as `couponctl journal in-doubt` prints it: #5 (quote it in a shell, where # starts a comment) or 5.
    """
    if not reason.strip():
        raise CouponctlError("--reason must say why (it is recorded)")
    resolved_state = RESOLVED_ISSUED if state == "issued" else RESOLVED_NOT_ISSUED
    by = ci_actor(os.environ)
    changed = _journal(settings).resolve(list(item_ids), resolved_state, by=by, reason=reason.strip())
    if changed != len(item_ids):
        raise CouponctlError(
            f"resolved {changed} of {len(item_ids)} item(s): the others are not in doubt "
            "(see `couponctl journal in-doubt`)"
        )
    click.echo(f"resolved {changed} item(s) as {resolved_state}")


@journal.command("export")
@format_option(LEDGER)
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), help="Write to FILE instead of stdout.")
@click.pass_obj
@reports_errors
def export_ledger(settings: Settings, fmt: str, out: Path | None) -> None:
    """The ledger for finance: who, when, which commit and plan, scope, target, amount, outcome, tracking id."""
    text = render_document(LEDGER, fmt, _journal(settings).ledger())
    if out is None:
        click.echo(text, nl=False)
        return
    out = settings.path(out)  # relative to where couponctl runs, like every path on the command line
    try:
        out.write_text(scrub(text), encoding="utf-8")
    except OSError as exc:
        raise CouponctlError(f"cannot write {out}: {exc}") from exc


@click.group()
def lock() -> None:
    """The apply leases: one per scope an apply touches (applies of disjoint scopes run at once)."""


def _lock(settings: Settings, scopes: tuple[str, ...] = ()) -> ApplyLock:
    """The leases that stand in the way of ``scopes`` (every lease when none is given)."""
    return ApplyLock(_journal(settings).db, names=scopes or (LOCK_NAME,))


def _scope_names(_ctx: click.Context, _param: click.Parameter, values: tuple[str, ...]) -> tuple[str, ...]:
    for value in values:
        if value != LOCK_NAME and value.count("/") != 2 and not value.startswith(BUDGET_LEASE_PREFIX):
            raise click.BadParameter(
                f"{value!r} is not a scope: give it as `couponctl lock status` prints it, provider/owner/class"
                f" (or {BUDGET_LEASE_PREFIX}NAME for a budget's lease)"
            )
    return values


scopes_argument = click.argument("scopes", metavar="[SCOPE]...", nargs=-1, callback=_scope_names)


@lock.command("status")
@scopes_argument
@click.pass_obj
@reports_errors
def lock_status(settings: Settings, scopes: tuple[str, ...]) -> None:
    """Who holds which lease: every lease, or those in the way of the SCOPEs given (provider/owner/class)."""
    apply_lock = _lock(settings, scopes)
    leases = apply_lock.standing()
    if not leases:
        which = f" for {', '.join(scopes)}" if scopes else ""
        click.echo(f"The lock is free{which}.")
        return
    now = apply_lock.clock()
    for lease in leases:
        click.echo(f"Held by {lease.describe(now)}")


@lock.command("break")
@scopes_argument
@click.option("--reason", required=True, help="Why the holder is known to be dead (recorded).")
@click.pass_obj
@reports_errors
def lock_break(settings: Settings, scopes: tuple[str, ...], reason: str) -> None:
    """Remove the leases whose holder died: every lease, or those in the way of the SCOPEs given. Each is recorded
    with who broke it and why; the items its holder left in flight are resolved by the next apply."""
    if not reason.strip():
        raise CouponctlError("--reason must say why (it is recorded)")
    broken = _lock(settings, scopes).break_leases(ci_actor(os.environ), reason.strip())
    if not broken:
        click.echo("The lock was free.")
    for lease in broken:
        click.echo(f"Broke the lease held by {lease.holder} on {lease.what}")
