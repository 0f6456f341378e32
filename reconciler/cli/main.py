"""The command line: click commands only. Each parses, calls one function below it, reports, exits."""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click

from reconciler import __version__
from reconciler.app.apply import ApplyDecisions, apply_project
from reconciler.app.events import ApplyEvent, ApplyNote, BatchSent, InDoubtResolved, LiveScopeRead, ResolutionStage
from reconciler.app.governance import overrides_given
from reconciler.app.notify import ApplyNotifier
from reconciler.app.plan import load_plan_file, plan_project
from reconciler.app.session import Project, check_project, load_project, project_for_plan
from reconciler.cli.notify import echo_deliveries
from reconciler.cli.progress import Progress, progress_mode
from reconciler.cli.support import (
    CouponctlGroup,
    Settings,
    echo_report,
    enable_debug_log,
    format_option,
    reports_errors,
)
from reconciler.config.load import load_config
from reconciler.config.model import Config
from reconciler.config.redaction import ScrubbingWriter, scrub
from reconciler.errors import CouponctlError, ExitCode, RefusedError
from reconciler.plan.masking import UNKEYED, mask_key
from reconciler.plan.model import Plan
from reconciler.plan.serialize import write_plan_json
from reconciler.providers.base import Outcome
from reconciler.render.formats import APPLY_REPORT, PLAN, RenderOptions, render_document
from reconciler.state.live import ScopeLive

F = TypeVar("F", bound=Callable[..., Any])


@click.group(
    cls=CouponctlGroup,
    context_settings={"help_option_names": ["-h", "--help"]},
    lazy_commands={
        "drift": "reconciler.cli.gitops:drift",
        "export": "reconciler.cli.gitops:export",
        "journal": "reconciler.cli.journal:journal",
        "lock": "reconciler.cli.journal:lock",
        "sandbox": "reconciler.cli.sandbox:sandbox",
        "status": "reconciler.cli.status:status",
    },
)
@click.version_option(__version__, prog_name="couponctl")
@click.option(
    "-C",
    "directory",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("."),
    help="Run as if started in DIR (paths on the command line are relative to it); the project is the nearest "
    "of DIR and its parents that holds couponctl.yaml.",
)
@click.option(
    "--color/--no-color",
    default=None,
    help="Force colour on (even when piped) or off. Default: on a terminal, unless NO_COLOR is set.",
)
@click.option("-q", "--quiet", is_flag=True, help="Print only results and errors (no progress, no notes).")
@click.option("-v", "--verbose", is_flag=True, help="Also print a line per issuing call, with its tracking id.")
@click.option("--debug", is_flag=True, help="Also print couponctl's internal log lines on stderr (for bug reports).")
@click.pass_context
def main(ctx: click.Context, directory: Path, color: bool | None, quiet: bool, verbose: bool, debug: bool) -> None:
    """couponctl: declare who gets which coupon; plan shows what is missing, apply issues it once.

    Exit codes: 0 success or nothing to do, 1 error (bad input or usage, config, API), 2 changes present
    (plan --detailed-exitcode) or drift found, 3 refused, 4 partial, 5 in doubt.
    """
    settings = Settings(directory, color, quiet, verbose)
    ctx.obj = settings
    ctx.color = settings.color
    if debug:
        enable_debug_log()


paths_argument = click.argument("paths", nargs=-1, type=click.Path(path_type=Path))


def override_options(command: Callable[..., Any]) -> Callable[..., Any]:
    """``--override NAME`` (repeatable) and ``--reason TEXT``: overrides the plan carries for its reviewer."""
    command = click.option(
        "--reason", metavar="TEXT", help="Why the overrides are needed: the reviewer reads it, the journal records it."
    )(command)
    return click.option(
        "--override",
        metavar="NAME",
        multiple=True,
        help="Override the deny rule, budget or limit NAME (repeatable); the plan carries it for review.",
    )(command)


def _load(settings: Settings, paths: tuple[Path, ...]) -> Project:
    settings.announce_root()
    return load_project(settings.directory, settings.paths(paths))


@main.command()
@paths_argument
@click.pass_obj
@reports_errors
def validate(settings: Settings, paths: tuple[Path, ...]) -> None:
    """Check config and manifests offline; report every problem at once."""
    settings.announce_root()
    project, targets = check_project(settings.directory, settings.paths(paths))
    desired = project.desired
    for advisory in (a for found in desired.advisories.values() for a in found):
        click.echo(f"warning: {advisory.problem}", err=True)
    click.echo(
        f"valid: {len(desired.scopes)} scope(s), {targets} target(s) "
        f"in {len({m for s in desired.scopes.values() for m in s.manifests})} manifest(s) "
        f"(project {project.config.root})"
    )


def _show(plan: Plan, fmt: str, color: bool, config: Config | None) -> None:
    """Print the plan; JSON is streamed as it is produced (a large plan is never one string). Markdown masks emails
    with digests keyed by the project's mask key (``config``'s; unkeyed outside a project)."""
    key = mask_key(config) if PLAN.format(fmt).masks_emails else UNKEYED
    echo_report(PLAN, fmt, plan, RenderOptions(color=color, mask_key=key))


@main.command()
@paths_argument
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), help="Save the plan (JSON) to FILE.")
@format_option(PLAN)
@click.option(
    "--detailed-exitcode",
    is_flag=True,
    help="Exit 0 when nothing is due now, 2 when coupons are due (scheduled items are not), 1 on error.",
)
@override_options
@click.pass_obj
@reports_errors
def plan(
    settings: Settings,
    paths: tuple[Path, ...],
    out: Path | None,
    fmt: str,
    detailed_exitcode: bool,
    override: tuple[str, ...],
    reason: str | None,
) -> None:
    """Read live state, diff it against the manifests, show what apply would issue. Never issues."""
    project = _load(settings, paths)
    overrides = overrides_given(project, override, reason)
    result = plan_project(project, _scope_progress(settings, project), overrides)
    _show(result, fmt, settings.color, project.config)
    if out is not None:
        out = settings.path(out)
        _save(out, result)
        if not settings.quiet:
            click.echo(f"saved plan to {out} (checksum {result.checksum[:12]})", err=True)
    if result.has_errors:
        sys.exit(ExitCode.ERROR)
    if detailed_exitcode and result.has_changes:
        sys.exit(ExitCode.CHANGES)


def _save(out: Path, result: Plan) -> None:
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        with out.open("w", encoding="utf-8") as file:
            scrubbed = ScrubbingWriter(file)
            write_plan_json(result, scrubbed)
            scrubbed.write("\n")
    except OSError as exc:
        raise CouponctlError(f"cannot write {out}: {exc}") from exc


@main.command()
@click.argument("planfile", type=click.Path(dir_okay=False, path_type=Path))
@format_option(PLAN)
@click.pass_obj
@reports_errors
def show(settings: Settings, planfile: Path, fmt: str) -> None:
    """Render a saved plan."""
    root = settings.found_root
    config = load_config(root) if root is not None and PLAN.format(fmt).masks_emails else None
    _show(load_plan_file(settings.path(planfile)), fmt, settings.color, config)


def _scope_progress(settings: Settings, project: Project) -> Callable[[ScopeLive], None]:
    """Progress over the scopes read (with the coupons read so far)."""
    progress = Progress(
        "reading live state", len(project.desired.scopes), "scopes", mode=progress_mode(quiet=settings.quiet)
    )
    coupons = 0

    def scope_read(live: ScopeLive) -> None:
        nonlocal coupons
        coupons += live.coupons_read
        progress.advance(1, f"({coupons:,} coupons, {live.scope})")
        if progress.done >= progress.total:
            progress.finish()

    return scope_read


class ApplyProgressReport:
    """An apply's progress: over the scopes read, then over the items issued; with --verbose also one line per
    issuing call."""

    def __init__(self, settings: Settings, project: Project) -> None:
        self.verbose = settings.verbose
        self.mode = progress_mode(quiet=settings.quiet)
        self.scope_read = _scope_progress(settings, project)
        self.progress: Progress | None = None

    def on_event(self, event: ApplyEvent) -> None:
        if isinstance(event, LiveScopeRead):
            self.scope_read(event.live)
        elif isinstance(event, BatchSent):
            self.batch_sent(event)

    def batch_sent(self, event: BatchSent) -> None:
        result, done_items, total_items = event.result, event.done_items, event.total_items
        if self.progress is None:
            self.progress = Progress("issuing", total_items, "items", mode=self.mode)
        if self.verbose:
            counts = {o: sum(1 for r in result.results if r.outcome is o) for o in Outcome}
            click.echo(
                f"[{done_items}/{total_items}] {result.batch.operation} {result.batch.scope}: "
                f"{counts[Outcome.ISSUED]} issued, {counts[Outcome.FAILED]} failed, "
                f"{counts[Outcome.IN_DOUBT]} in doubt"
                + (f" (TrackingId {result.tracking_id})" if result.tracking_id else "")
            )
        self.progress.advance(len(result.results))
        if done_items >= total_items:
            self.progress.finish()


class ApplyNotes:
    """What an apply tells besides its progress: its notes (stderr, not with --quiet), and what reading decided of
    earlier in-doubt items before it issued anything."""

    def __init__(self, settings: Settings) -> None:
        self.quiet = settings.quiet

    def on_event(self, event: ApplyEvent) -> None:
        if isinstance(event, ApplyNote) and not self.quiet:
            click.echo(event.message, err=True)
        elif isinstance(event, InDoubtResolved) and event.stage is ResolutionStage.BEFORE_ISSUING:
            for r in event.resolutions:
                if r.decided:
                    click.echo(f"resolved in-doubt {r.scope} {r.target}: {r.state} ({r.reason})")
                else:
                    click.echo(f"still in doubt {r.scope} {r.target}: {r.reason}")


@main.command()
@click.argument("planfile", required=False, type=click.Path(dir_okay=False, path_type=Path))
@click.option("--yes", "-y", is_flag=True, help="Do not ask for confirmation (for CI).")
@click.option("--report", type=click.Path(dir_okay=False, path_type=Path), help="Write the apply report (JSON).")
@click.option(
    "--lock-timeout", type=click.FloatRange(min=0), default=0.0, help="Seconds to wait for another apply's lock."
)
@click.option(
    "--allow-over-limit",
    metavar="REASON",
    help="With a fresh plan only: override every per-apply limit; REASON is recorded.",
)
@override_options
@click.option(
    "--environment",
    metavar="NAME",
    help="The deployment environment this apply runs in: it must be entitled to the plan's approval tier.",
)
@click.pass_obj
@reports_errors
def apply(
    settings: Settings,
    planfile: Path | None,
    yes: bool,
    report: Path | None,
    lock_timeout: float,
    allow_over_limit: str | None,
    override: tuple[str, ...],
    reason: str | None,
    environment: str | None,
) -> None:
    """Issue what is missing: exactly the reviewed PLANFILE's items, or a fresh plan after confirmation."""
    planfile = settings.path(planfile) if planfile is not None else None
    saved = load_plan_file(planfile) if planfile is not None else None
    settings.announce_root()
    project = load_project(settings.directory) if saved is None else project_for_plan(settings.directory, saved)
    if saved is not None and (override or reason):
        raise RefusedError(
            f"{planfile} is a reviewed plan: apply takes only the overrides it carries, and the reviewer saw no "
            "other; nothing was issued. Make the plan with plan --override NAME --reason TEXT and have it reviewed"
        )

    def confirm(fresh: Plan) -> bool:
        if saved is None and not settings.quiet:
            echo_report(PLAN, "text", fresh, RenderOptions(color=settings.color))
        if yes:
            return True
        if not sys.stdin.isatty():
            raise RefusedError("no terminal to confirm on: pass --yes to apply without confirmation")
        return click.confirm(f"Issue {fresh.item_count} coupon(s)? Coupons cannot be revoked", default=False)

    decisions = ApplyDecisions(
        confirm=confirm,
        saved_plan=saved,
        saved_name=str(planfile or ""),
        allow_over_limit=allow_over_limit,
        lock_timeout=lock_timeout,
        overrides=overrides_given(project, override, reason) if saved is None else (),
        environment=environment,
    )
    notifier = ApplyNotifier(project.config)
    try:
        applied = apply_project(
            project, decisions, [ApplyNotes(settings), ApplyProgressReport(settings, project), notifier]
        )
    finally:  # once the apply has ended, however it ended: what it tells never changes how it exits
        echo_deliveries(notifier.deliver())
    result = applied.report
    if result is None:
        click.echo("No changes. Nothing to issue.")
        if applied.plan.in_doubt_count:
            click.echo(
                f"{applied.plan.in_doubt_count} item(s) are still in doubt and block their targets: "
                "apply again later, or resolve them by hand (`couponctl journal in-doubt`)."
            )
            sys.exit(applied.exit_code)
        return
    if report is not None:
        _write(settings.path(report), render_document(APPLY_REPORT, "json", result))
    echo_report(APPLY_REPORT, "text", result)
    sys.exit(applied.exit_code)


def _write(path: Path, text: str) -> None:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(scrub(text), encoding="utf-8")
    except OSError as exc:
        raise CouponctlError(f"cannot write {path}: {exc}") from exc
