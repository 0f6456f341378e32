"""Where a journal lives decides whether it outlives the run: under CI, a SQLite file inside the checkout is on the
runner's disk, and an ephemeral runner takes it with it. The next runner's fresh journal would not know what the
last one left in doubt, and would pay it again."""

from __future__ import annotations

import os
from collections.abc import Collection, Mapping
from pathlib import Path

from reconciler.apply.database import JournalLostError, resolve_location
from reconciler.config.model import Config

TRUE_VALUES = ("true", "1", "yes")


def in_ci(environ: Mapping[str, str]) -> bool:
    """Run by a CI system: GitHub Actions, GitLab and most others set CI=true."""
    return environ.get("CI", "").strip().lower() in TRUE_VALUES


def checkout_root(start: Path, environ: Mapping[str, str]) -> Path | None:
    """The git work tree holding ``start`` (the nearest directory with a .git), else the CI's workspace."""
    for directory in (start, *start.parents):
        if (directory / ".git").exists():
            return directory
    workspace = environ.get("GITHUB_WORKSPACE") or environ.get("CI_PROJECT_DIR")
    return Path(workspace).resolve() if workspace else None


def check_journal_outlives_ci(config: Config, providers: Collection[str], environ: Mapping[str, str]) -> None:
    """Refuse (exit 3) an apply under CI whose providers reach a real vendor while its journal is a file inside the
    checkout, unless ``journalInCheckout: true`` says that checkout persists."""
    if not in_ci(environ) or config.journal_in_checkout:
        return
    real = sorted(name for name in providers if config.providers[name].environment != "local")
    if not real:
        return
    location = resolve_location(config.journal, environ)
    if "://" in location:
        return
    journal = Path(os.path.normpath(config.root / location))
    checkout = checkout_root(config.root.resolve(), environ)
    if checkout is None or not journal.resolve().is_relative_to(checkout):
        return
    raise JournalLostError(
        f"the journal {journal} lives inside the checkout {checkout}, and this apply runs in CI (CI=true) against "
        f"{', '.join(real)}: an ephemeral runner's disk is gone after the run, and with it what this apply may leave "
        "in doubt, so the next runner would pay it again. Nothing was done. Use a shared journal "
        "(journal: ${env:COUPONCTL_JOURNAL_URL}, PostgreSQL), or set journalInCheckout: true in couponctl.yaml if "
        "this checkout is kept between runs"
    )
