"""Shared pieces of the reliability tests: the example project with faults, and what the sandbox holds."""

from __future__ import annotations

import shutil
import sqlite3
from collections import Counter
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner, Result

from reconciler.cli import main

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def declared_targets(project: Path) -> tuple[set[str], set[int]]:
    """The emails and accounts the example's manifests declare (read independently of couponctl)."""
    emails: set[str] = set()
    accounts: set[int] = set()
    for path in (project / "manifests").glob("*.yaml"):
        for doc in yaml.safe_load_all(path.read_text()):
            spec = doc["spec"]
            emails.update(e.lower() for e in spec.get("dispatch", {}).get("emails", []))
            accounts.update(spec.get("distribute", {}).get("accounts", []))
            source = spec.get("dispatch", {}).get("emailsFrom")
            if source:
                lines = (path.parent / source).read_text().splitlines()[1:]
                emails.update(line.split(",")[0].lower() for line in lines if line)
    return emails, accounts


def holders(project: Path) -> tuple[Counter[str], Counter[int]]:
    """Straight from the sandbox's store: how many coupons each email and each account got."""
    db = sqlite3.connect(project / ".couponctl" / "sandbox.sqlite")
    try:
        emails = Counter(
            {
                row[0]: row[1]
                for row in db.execute(
                    "SELECT lower(send_to_email), count(*) FROM coupons WHERE send_to_email IS NOT NULL GROUP BY 1"
                )
            }
        )
        accounts = Counter(
            {
                row[0]: row[1]
                for row in db.execute(
                    "SELECT claim_account_id, count(*) FROM coupons WHERE claim_account_id IS NOT NULL GROUP BY 1"
                )
            }
        )
    finally:
        db.close()
    return emails, accounts


def assert_exactly_once(project: Path) -> None:
    emails, accounts = declared_targets(project)
    got_emails, got_accounts = holders(project)
    assert set(got_emails) == emails, "an undeclared email got a coupon, or a declared one none"
    assert set(got_accounts) == accounts, "an undeclared account got a coupon, or a declared one none"
    assert all(n == 1 for n in got_emails.values()), f"paid twice: {got_emails.most_common(3)}"
    assert all(n == 1 for n in got_accounts.values()), f"paid twice: {got_accounts.most_common(3)}"


def make_project(tmp_path: Path, *, faults: list[str], extra: dict[str, object] | None = None) -> Path:
    project = tmp_path / "project"
    shutil.copytree(EXAMPLES, project, ignore=shutil.ignore_patterns(".couponctl"))
    config = yaml.safe_load((project / "couponctl.yaml").read_text())
    config["sandbox"] = {**config.get("sandbox", {}), "faults": faults, "faultSeed": 7}
    config.update(extra or {})
    (project / "couponctl.yaml").write_text(yaml.safe_dump(config, sort_keys=False))
    return project


def run(project: Path, *args: str) -> Result:
    return CliRunner().invoke(main, ["-C", str(project), "--no-color", *args])


@pytest.fixture
def fast_apply() -> dict[str, object]:
    """Apply settings that keep the suite quick: a short lag window for in-doubt resolution."""
    return {"inDoubtWindow": "2s"}
