"""Shared pieces of the reliability tests: the example project with faults, and what the sandbox holds."""

from __future__ import annotations

import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner, Result

from reconciler.apply.journal import Journal
from reconciler.cli import main

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def declared_targets(project: Path) -> tuple[set[str], set[int], set[int]]:
    """The emails, accounts and (aliyun) uids the example's manifests declare (read independently of couponctl)."""
    emails: set[str] = set()
    accounts: set[int] = set()
    uids: set[int] = set()
    for path in (project / "manifests").glob("*.yaml"):
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
    project = tmp_path / "project"
    shutil.copytree(EXAMPLES, project, ignore=shutil.ignore_patterns(".couponctl"))
    config = yaml.safe_load((project / "couponctl.yaml").read_text())
    config["sandbox"] = {**config.get("sandbox", {}), "faults": faults, "faultSeed": 7}
    rest = dict(extra or {})
    providers = rest.pop("providers", {})
    assert isinstance(providers, dict)
    config["providers"] = {**config["providers"], **providers}  # by name: the other providers stay
    config.update(rest)
    (project / "couponctl.yaml").write_text(yaml.safe_dump(config, sort_keys=False))
    return project


def run(project: Path, *args: str) -> Result:
    return CliRunner().invoke(main, ["-C", str(project), "--no-color", *args])


@pytest.fixture
def fast_apply() -> dict[str, object]:
    """Apply settings that keep the suite quick: a short lag window for in-doubt resolution."""
    return {"inDoubtWindow": "2s"}


COUPONCTL = [sys.executable, "-m", "reconciler"]


def couponctl(
    project: Path, *args: str, timeout: float = 120, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*COUPONCTL, "-C", str(project), "--no-color", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
        env={**os.environ, **(env or {})},
    )


def wait_for_pending(location: str | Path, deadline_s: float = 30) -> None:
    """Until an apply has committed an intent (a PENDING item) to the journal at ``location``."""
    end = time.monotonic() + deadline_s
    while time.monotonic() < end:
        if "://" in str(location) or Path(location).exists():
            journal = Journal(str(location))
            try:
                if journal.db.execute("SELECT count(*) FROM items WHERE state = 'PENDING'")[0][0]:
                    return
            finally:
                journal.close()
        time.sleep(0.05)
    raise AssertionError("the apply never sent an issuing call")


ServeProject = Callable[..., tuple[Path, "subprocess.Popen[str]"]]


@pytest.fixture
def serve_project(tmp_path: Path) -> Iterator[ServeProject]:
    """Make the example project with ``extra`` config, pointed at a `couponctl sandbox serve` on loopback
    whose issuing calls take 1.5 s (so that processes overlap), with ``faults`` added to the server's;
    ``prepare`` may change the project (its seed) before the server starts.

    Providers get a request timeout of 3 s unless ``extra`` gives one (``timeoutSeconds``): an apply that
    takes over a dead one's lease waits that long (twice: write and read) before it may decide that the dead
    one's calls issued nothing, and the default (60 s) would make these tests slow."""
    servers: list[subprocess.Popen[str]] = []

    def start(
        extra: Mapping[str, object], faults: Sequence[str] = (), prepare: Callable[[Path], None] | None = None
    ) -> tuple[Path, subprocess.Popen[str]]:
        project = make_project(tmp_path, faults=[], extra=extra)
        if prepare is not None:  # e.g. edit the seed the server loads
            prepare(project)
        database = project / ".couponctl" / "sandbox.sqlite"
        database.parent.mkdir(parents=True)
        server = subprocess.Popen(
            [
                *COUPONCTL,
                "sandbox",
                "serve",
                "--port",
                "0",
                "--db",
                str(database),
                "--seed",
                str(project / "sandbox-seed.yaml"),
                "--fault",
                "dispatch:latency-ms=1500",
                "--fault",
                "distribute:latency-ms=1500",
                "--fault",
                "send:latency-ms=1500",
                *(arg for fault in faults for arg in ("--fault", fault)),
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        servers.append(server)
        assert server.stdout is not None
        line = ""
        while "serving at" not in line:
            line = server.stdout.readline()
            assert line, "sandbox serve stopped before serving"
        url = line.split("serving at ")[1].split()[0]
        config = yaml.safe_load((project / "couponctl.yaml").read_text())
        for name in ("msads-local", "aliyun-local"):
            config["providers"][name]["endpoint"] = url
            config["providers"][name].setdefault("timeoutSeconds", 3)
        config["sandbox"].pop("faults", None)
        (project / "couponctl.yaml").write_text(yaml.safe_dump(config, sort_keys=False))
        return project, server

    yield start
    for server in servers:
        server.send_signal(signal.SIGTERM)
        server.wait(timeout=10)
