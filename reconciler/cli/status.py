"""``couponctl status``: what the declared coupons did at the vendor. Click command only: the work is in
:mod:`reconciler.app.status`, the rendering in :mod:`reconciler.render.status` and
:mod:`reconciler.render.status_html`."""

from __future__ import annotations

from pathlib import Path

import click

from reconciler.app.session import load_project
from reconciler.app.status import check_status
from reconciler.cli.support import Settings, echo_report, format_option, reports_errors
from reconciler.config.redaction import scrub
from reconciler.errors import CouponctlError
from reconciler.render.formats import STATUS
from reconciler.render.status_html import render_status_html


@click.command()
@click.argument("paths", nargs=-1, type=click.Path(path_type=Path))
@format_option(STATUS)
@click.option(
    "--html",
    "html_file",
    metavar="FILE",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Also write one self-contained HTML page with charts (a funnel per campaign, issued and redeemed over "
    "time) to FILE.",
)
@click.pass_obj
@reports_errors
def status(settings: Settings, paths: tuple[Path, ...], fmt: str, html_file: Path | None) -> None:
    """Report, per manifest and per label, the targets declared, issued, claimed, redeemed, expired and void, and
    the value issued and spent per currency. Read-only: never issues, never writes the journal."""
    settings.announce_root()
    project = load_project(settings.directory, settings.paths(paths))
    report = check_status(project)
    if html_file is not None:
        target = settings.path(html_file)
        try:
            target.write_text(scrub(render_status_html(report)), encoding="utf-8")
        except OSError as error:
            raise CouponctlError(f"cannot write {target}: {error.strerror or error}") from None
        if not settings.quiet:
            click.echo(f"wrote {target}", err=True)
    echo_report(STATUS, fmt, report)
