"""The example project in a test's temporary directory: copied as is or with faults and settings, what its manifests
declare, and what the sandbox's own store says each target holds."""

from __future__ import annotations

import shutil
import sqlite3
from collections import Counter
from collections.abc import Mapping
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "examples"
EXAMPLE_SEED = EXAMPLES / "sandbox-seed.yaml"
EXAMPLE_ITEMS = 3 + 2 + 4 + 3 + 3  # accounts + emails + emails from the CSV (spring) + winback emails + reseller uids


def copy_examples(target: Path) -> Path:
    """examples/ copied to ``target``, without the sandbox state a local run may have left in it."""
    shutil.copytree(EXAMPLES, target, ignore=shutil.ignore_patterns(".couponctl"))
    return target


def declared_targets(project: Path, pattern: str = "*.yaml") -> tuple[set[str], set[int], set[int]]:
    """The emails, accounts and (aliyun) uids the example's manifests (those ``pattern`` matches) declare (read
    independently of couponctl)."""
    emails: set[str] = set()
    accounts: set[int] = set()
    uids: set[int] = set()
    for path in (project / "manifests").glob(pattern):
        for doc in yaml.safe_load_all(path.read_text()):
            spec = doc["spec"]
            emails.update(e.lower() for e in spec.get("dispatch", {}).get("emails", []))
            accounts.update(spec.get("distribute", {}).get("accounts", []))
            uids.update(int(entry["uid"]) for entry in spec.get("send", []))
            source = spec.get("dispatch", {}).get("emailsFrom")
            if source:
                lines = (path.parent / source).read_text().splitlines()[1:]
                emails.update(line.split(",")[0].lower() for line in lines if line)
    return emails, accounts, uids


def holders(project: Path) -> tuple[Counter[str], Counter[int], Counter[int]]:
    """Straight from the sandbox's store: how many coupons each email, each account and each uid got."""
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
        uids = Counter({row[0]: row[1] for row in db.execute("SELECT uid, count(*) FROM aliyun_coupons GROUP BY 1")})
    finally:
        db.close()
    return emails, accounts, uids


def assert_exactly_once(project: Path) -> None:
    emails, accounts, uids = declared_targets(project)
    got_emails, got_accounts, got_uids = holders(project)
    assert set(got_emails) == emails, "an undeclared email got a coupon, or a declared one none"
    assert set(got_accounts) == accounts, "an undeclared account got a coupon, or a declared one none"
    assert set(got_uids) == uids, "an undeclared uid got a coupon, or a declared one none"
    assert all(n == 1 for n in got_emails.values()), f"paid twice: {got_emails.most_common(3)}"
    assert all(n == 1 for n in got_accounts.values()), f"paid twice: {got_accounts.most_common(3)}"
    assert all(n == 1 for n in got_uids.values()), f"paid twice: {got_uids.most_common(3)}"


def make_project(tmp_path: Path, *, faults: list[str], extra: Mapping[str, object] | None = None) -> Path:
    """The example project at ``tmp_path / "project"``, its sandbox given ``faults`` (fault seed 7) and its config
    ``extra`` settings (``providers`` by name: the other providers stay)."""
    project = copy_examples(tmp_path / "project")
    config = yaml.safe_load((project / "couponctl.yaml").read_text())
    config["sandbox"] = {**config.get("sandbox", {}), "faults": faults, "faultSeed": 7}
    rest = dict(extra or {})
    providers = rest.pop("providers", {})
    assert isinstance(providers, dict)
    config["providers"] = {**config["providers"], **providers}  # by name: the other providers stay
    config.update(rest)
    (project / "couponctl.yaml").write_text(yaml.safe_dump(config, sort_keys=False))
    return project


def set_config(project: Path, **keys: object) -> None:
    """Set top-level ``keys`` of the project's couponctl.yaml (each replaces what was there)."""
    path = project / "couponctl.yaml"
    config = yaml.safe_load(path.read_text())
    config.update(keys)
    path.write_text(yaml.safe_dump(config, sort_keys=False))


def coupons_held(project: Path) -> int:
    """How many coupons the sandbox's own store holds, of every kind."""
    return sum(sum(counter.values()) for counter in holders(project))
