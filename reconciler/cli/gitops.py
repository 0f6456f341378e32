"""The GitOps commands: ``drift`` (what changed at the vendor outside the manifests) and ``export`` (manifests from
live state, to adopt a running program). Both read only. Click commands only: the work is in
:mod:`reconciler.app.drift` and :mod:`reconciler.app.export`."""

from __future__ import annotations

import sys
from datetime import UTC, datetime
from pathlib import Path

import click

from reconciler.app.drift import check_drift
from reconciler.app.export import read_export, write_export
from reconciler.app.notify import notify_drift
from reconciler.app.session import load_project
from reconciler.cli.notify import echo_deliveries
from reconciler.cli.support import Settings, echo_report, format_option, reports_errors
from reconciler.config.load import load_config
from reconciler.manifest.export import EMAILS_INLINE_MAX, export_manifests, export_stream
from reconciler.plan.masking import UNKEYED, mask_key
from reconciler.providers.registry import vendors
from reconciler.render.formats import DRIFT, RenderOptions

#: What --owner and --class name, per provider type, in the words of each type's export.
OWNER_IDS = ", ".join(f"{v.type} {v.export.owner} id" for v in vendors())
_OTHER_CLASSES = [f"{v.type}: {v.export.klass} id" for v in vendors() if v.export.klass != "class"]
CLASS_IDS = f" ({'; '.join(_OTHER_CLASSES)})" if _OTHER_CLASSES else ""


@click.command()
@click.argument("paths", nargs=-1, type=click.Path(path_type=Path))
@format_option(DRIFT)
@click.pass_obj
@reports_errors
def drift(settings: Settings, paths: tuple[Path, ...], fmt: str) -> None:
    """Report drift in the declared scopes: coupons held by targets no manifest names, and declared targets whose
    every coupon is void or expired. Exit 0: none, 2: drift found, 1: error. Read-only: never issues, never
    writes the journal."""
    settings.announce_root()
    project = load_project(settings.directory, settings.paths(paths))
    report = check_drift(project)
    key = mask_key(project.config) if DRIFT.format(fmt).masks_emails else UNKEYED
    echo_report(DRIFT, fmt, report, RenderOptions(mask_key=key))
    echo_deliveries(notify_drift(project.config, report))
    sys.exit(report.exit_code)


@click.command()
@click.option("--provider", "provider_name", required=True, metavar="NAME", help="A provider of couponctl.yaml.")
@click.option("--owner", required=True, metavar="ID", help=f"The owner: {OWNER_IDS}.")
@click.option(
    "--class",
    "classes",
    multiple=True,
    metavar="NAME",
    help=f"A coupon class{CLASS_IDS} to export; repeatable. Default: every class of the owner.",
)
@click.option(
    "--out",
    metavar="DIR",
    type=click.Path(file_okay=False, path_type=Path),
    help="Write one manifest per class into DIR (long email lists as CSV beside it); default: print them.",
)
@click.pass_obj
@reports_errors
def export(settings: Settings, provider_name: str, owner: str, classes: tuple[str, ...], out: Path | None) -> None:
    """Write manifests from live state, to adopt a program that already runs: export, review, commit, and
    `plan` shows nothing to issue. Read-only: never issues."""
    config = load_config(settings.directory)
    source, lives = read_export(config, provider_name, owner, classes)
    result = export_manifests(
        source,
        lives,
        generated_at=datetime.now(UTC),
        emails_inline_max=None if out is None else EMAILS_INLINE_MAX,
        keep_empty=bool(classes),
    )
    for reason in result.skipped:
        click.echo(f"skipped: {reason}", err=True)
    if out is None:
        click.echo(export_stream(result), nl=False)
    else:
        for path in write_export(result, settings.path(out)):
            if not settings.quiet:
                click.echo(f"wrote {path}")
    if not settings.quiet:
        click.echo(
            f"exported {len(result.classes)} class(es), {result.target_count} target(s) from {source.provider}"
            f" owner {source.owner}",
            err=True,
        )
