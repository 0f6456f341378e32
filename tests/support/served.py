"""A project pointed at a ``couponctl sandbox serve`` on loopback (so that several couponctl processes share one
sandbox), and a wait for an apply to reach its first issuing call."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path

import yaml

from reconciler.apply.journal import Journal
from reconciler.errors import JournalError
from tests.support.cli import COUPONCTL
from tests.support.projects import make_project


def wait_for_pending(location: str | Path, deadline_s: float = 30, *, sent: bool = False) -> None:
    """Until an apply has committed an intent (a PENDING item) to the journal at ``location``; with ``sent``, until
    it has also fenced that intent, so that its request has left (or is leaving): what "mid call" means, however
    slowly a loaded machine runs the apply between its intent and its fence."""
    condition = " AND fenced_at IS NOT NULL" if sent else ""
    end = time.monotonic() + deadline_s
    while time.monotonic() < end:
        if "://" in str(location) or Path(location).exists():
            journal = Journal(str(location))
            try:
                if journal.db.execute(f"SELECT count(*) FROM items WHERE state = 'PENDING'{condition}")[0][0]:
                    return
            finally:
                journal.close()
        time.sleep(0.05)
    raise AssertionError("the apply never sent an issuing call")


def writes_free(location: str | Path) -> bool:
    """Whether a write transaction of the journal at ``location`` can begin right now, asked without waiting: no
    process is inside one (SQLite's write lock, PostgreSQL's journal writers' advisory lock)."""
    journal = Journal(str(location))
    try:
        no_wait = "PRAGMA busy_timeout = 0" if journal.db.dialect == "sqlite" else "SET lock_timeout = '50ms'"
        journal.db.execute(no_wait)
        with journal.db.transaction():
            pass
    except JournalError:
        return False
    finally:
        journal.close()
    return True


@contextmanager
def paused(process: subprocess.Popen[str], journal: str | Path | None = None, *, attempts: int = 500) -> Iterator[None]:
    """``process`` stopped (SIGSTOP) for the block, then continued: a slow apply, deterministically, whatever the
    load of the machine. Give the project a lease and a request timeout that outlast the pause (see
    ``request_timeout``), or the paused apply comes back as a dead one.

    With ``journal``, it is stopped outside every write transaction of that journal (continued for a moment and
    stopped again until so): stopped inside one, it would hold up every other writer of the journal, not only
    those its leases stand in the way of, and another apply would fail on a locked database instead of a lease."""
    os.kill(process.pid, signal.SIGSTOP)
    try:
        if journal is not None:
            _stopped_outside_writes(process, journal, attempts)
        yield
    finally:
        os.kill(process.pid, signal.SIGCONT)


def _stopped_outside_writes(process: subprocess.Popen[str], journal: str | Path, attempts: int) -> None:
    for _ in range(attempts):
        if writes_free(journal):
            return
        os.kill(process.pid, signal.SIGCONT)
        time.sleep(0.002)
        os.kill(process.pid, signal.SIGSTOP)
    raise AssertionError(f"process {process.pid} never left its write transactions of the journal {journal}")


def request_timeout(project: Path, seconds: float) -> None:
    """Give every provider of ``project`` a request timeout of ``seconds`` (the served projects have 3 s)."""
    config_file = project / "couponctl.yaml"
    config = yaml.safe_load(config_file.read_text())
    for provider in config["providers"].values():
        provider["timeoutSeconds"] = seconds
    config_file.write_text(yaml.safe_dump(config, sort_keys=False))


ServeProject = Callable[..., tuple[Path, "subprocess.Popen[str]"]]


@contextmanager
def served_projects(tmp_path: Path, *, call_latency_ms: int = 1500) -> Iterator[ServeProject]:
    """Make the example project with ``extra`` config, pointed at a `couponctl sandbox serve` on loopback (port 0: a
    free one) whose issuing calls take ``call_latency_ms`` (so that processes overlap), with ``faults`` added to the
    server's; ``prepare`` may change the project (its seed) before the server starts. The servers stop on exit.

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
                f"dispatch:latency-ms={call_latency_ms}",
                "--fault",
                f"distribute:latency-ms={call_latency_ms}",
                "--fault",
                f"send:latency-ms={call_latency_ms}",
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

    try:
        yield start
    finally:
        for server in servers:
            server.send_signal(signal.SIGTERM)
            server.wait(timeout=10)
