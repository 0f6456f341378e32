"""Measuring processes: a served sandbox in a subprocess, and commands timed with their own rusage.

Each measured command runs as a child process reaped with ``os.wait4``, so its user+system CPU time is its own,
not a sum over children. Its peak RSS is the last ``VmHWM`` read from ``/proc/PID/status`` while it runs (every
5 ms): the high-water mark of the program it became, which only grows. ``ru_maxrss`` is not used for it: Linux
carries the forked copy's RSS (the size of the measuring process) into the child's ``ru_maxrss`` across exec.
The sandbox server's CPU time is read from ``/proc/PID/stat`` before and after each measurement; API calls are
counted in the store's ``calls`` table.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType

CLK_TCK = os.sysconf("SC_CLK_TCK")
URL_LINE = re.compile(r"serving at (http://\S+)")
COUPONCTL = [sys.executable, "-m", "reconciler"]


@dataclass(frozen=True)
class Run:
    """One measured child process."""

    argv: tuple[str, ...]
    returncode: int
    wall_s: float
    cpu_s: float
    user_s: float
    sys_s: float
    max_rss_mb: float
    server_cpu_s: float = 0.0
    other_cpu_s: float = 0.0
    calls: Mapping[str, int] = field(default_factory=dict)
    stdout: Path | None = None

    @property
    def total_calls(self) -> int:
        return sum(self.calls.values())


def high_water_kb(pid: int) -> int:
    """The peak resident set (``VmHWM``, kB) of process ``pid`` so far; 0 once it is gone."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return 0
    match = re.search(r"^VmHWM:\s+(\d+) kB", status, re.M)
    return int(match.group(1)) if match else 0


def run_measured(
    argv: Sequence[str],
    *,
    env: Mapping[str, str] | None = None,
    cwd: Path | None = None,
    stdout: Path | None = None,
    server: Sandbox | None = None,
    timeout_s: float = 3600.0,
) -> Run:
    """Run ``argv`` to its end; its wall, CPU and peak RSS, (with ``server``) the sandbox's CPU and calls, and
    the CPU every other process of the machine used meanwhile (other engineers' test runs share the cores)."""
    full_env = {**os.environ, **(env or {})}
    before_calls = server.calls() if server else {}
    before_cpu = server.cpu_s() if server else 0.0
    before_busy = machine_busy_s()
    out = stdout.open("wb") if stdout else subprocess.DEVNULL
    err_path = stdout.with_suffix(".stderr") if stdout else None
    err = err_path.open("w+b") if err_path else tempfile.TemporaryFile()  # noqa: SIM115 (closed below)
    try:
        started = time.perf_counter()
        process = subprocess.Popen(list(argv), env=full_env, cwd=cwd, stdout=out, stderr=err)
        deadline = started + timeout_s
        peak_kb = 0
        while True:
            pid, status, usage = os.wait4(process.pid, os.WNOHANG)
            if pid:
                break
            peak_kb = high_water_kb(process.pid) or peak_kb  # the last reading: after exec, it only grows
            if time.perf_counter() > deadline:
                process.kill()
                raise TimeoutError(f"{' '.join(argv)} ran longer than {timeout_s:.0f} s")
            time.sleep(0.005)
        wall = time.perf_counter() - started
        process.returncode = os.waitstatus_to_exitcode(status)
        err.seek(0)
        stderr = err.read()
    finally:
        if stdout:
            out.close()  # type: ignore[union-attr]
        err.close()
    server_cpu = (server.cpu_s() - before_cpu) if server else 0.0
    busy = machine_busy_s() - before_busy
    after_calls = server.calls() if server else {}
    calls = {k: after_calls.get(k, 0) - before_calls.get(k, 0) for k in after_calls}
    if stderr.strip():
        text = stderr.decode(errors="replace").strip()
        if process.returncode not in (0, 2):
            print(f"  stderr of {argv[-1]!r} (exit {process.returncode}):\n{text[-3000:]}", file=sys.stderr)
    return Run(
        argv=tuple(argv),
        returncode=process.returncode,
        wall_s=wall,
        cpu_s=usage.ru_utime + usage.ru_stime,
        user_s=usage.ru_utime,
        sys_s=usage.ru_stime,
        max_rss_mb=(peak_kb or usage.ru_maxrss) / 1024,
        server_cpu_s=server_cpu,
        other_cpu_s=max(0.0, busy - usage.ru_utime - usage.ru_stime - server_cpu),
        calls={k: v for k, v in calls.items() if v},
        stdout=stdout,
    )


def machine_busy_s() -> float:
    """CPU seconds every core of the machine spent busy since boot (the ``cpu`` line of /proc/stat)."""
    fields = [int(v) for v in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    idle = fields[3] + (fields[4] if len(fields) > 4 else 0)
    return (sum(fields[:8]) - idle) / CLK_TCK


def proc_cpu_s(pid: int) -> float:
    """utime + stime of a live process, in seconds (fields 14 and 15 of /proc/PID/stat)."""
    text = Path(f"/proc/{pid}/stat").read_text()
    fields = text[text.rindex(")") + 2 :].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


class Sandbox:
    """``couponctl sandbox serve --port 0 --db DB --fault *:latency-ms=N [--fault F ...]`` in a subprocess, stopped
    by SIGINT."""

    def __init__(
        self,
        database: Path,
        *,
        latency_ms: int,
        log: Path,
        profile: Path | None = None,
        faults: Sequence[str] = (),
    ) -> None:
        self.database = database
        self.latency_ms = latency_ms
        self.faults = faults
        self.log = log
        self.profile = profile
        self.url = ""
        self._process: subprocess.Popen[bytes] | None = None

    def __enter__(self) -> Sandbox:
        argv = [*COUPONCTL, "sandbox", "serve", "--port", "0", "--db", str(self.database)]
        if self.latency_ms:
            argv += ["--fault", f"*:latency-ms={self.latency_ms}"]
        for fault in self.faults:
            argv += ["--fault", fault]
        if self.profile is not None:
            argv = [sys.executable, "-m", "cProfile", "-o", str(self.profile), *argv[1:]]
        # Both streams go to the log file (uvicorn writes an access line per call to stdout: a pipe nobody
        # drains would fill and stop the server); the URL is read back from it.
        self._log = self.log.open("wb")
        env = {**os.environ, "PYTHONUNBUFFERED": "1"}  # the URL line must reach the file at once
        self._process = subprocess.Popen(argv, stdout=self._log, stderr=subprocess.STDOUT, env=env)
        deadline = time.monotonic() + 60
        while not self.url and time.monotonic() < deadline and self._process.poll() is None:
            match = URL_LINE.search(self.log.read_text(errors="replace"))
            if match:
                self.url = match.group(1)
            else:
                time.sleep(0.05)
        if not self.url:
            self.__exit__(None, None, None)
            raise RuntimeError(f"the sandbox did not start; see {self.log}")
        return self

    @property
    def pid(self) -> int:
        assert self._process is not None
        return self._process.pid

    def cpu_s(self) -> float:
        return proc_cpu_s(self.pid)

    def calls(self) -> dict[str, int]:
        """Calls logged so far, per endpoint (read from the store file; WAL lets readers in)."""
        db = sqlite3.connect(f"file:{self.database}?mode=ro", uri=True, timeout=30)
        try:
            return dict(db.execute("SELECT endpoint, count(*) FROM calls GROUP BY endpoint").fetchall())
        finally:
            db.close()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self._process is not None and self._process.poll() is None:
            self._process.send_signal(signal.SIGINT)
            try:
                self._process.wait(60)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait()
        self._log.close()


def copy_store(source: Path, target: Path) -> Path:
    """A fresh copy of a (closed, checkpointed) store file."""
    for suffix in ("", "-wal", "-shm"):
        Path(f"{target}{suffix}").unlink(missing_ok=True)
    shutil.copyfile(source, target)
    return target


def checkpoint(database: Path) -> None:
    """Fold the WAL into the main file, so that the file alone is a complete copy."""
    db = sqlite3.connect(database)
    try:
        db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    finally:
        db.close()
