"""validate's temporary files hold addresses (personal data): written only when a run must spill, in a private
directory that is removed at the end, whatever ends validate (success, problems, Ctrl-C, SIGTERM), and a
temporary directory it cannot write is a clear error, not an internal one."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from reconciler.app.session import load_project
from reconciler.errors import ManifestError
from reconciler.manifest import spill
from tests.support.cli import run
from tests.support.email_lists import emails_from_project


def project(directory: Path, addresses: str) -> Path:
    return emails_from_project(directory, {"a.txt": addresses}, "[../lists/a.txt]")


def watched_temp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    temp = tmp_path / "temp"
    temp.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(temp))
    return temp


def test_a_run_that_fits_in_memory_writes_nothing_to_disk(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    temp = watched_temp(tmp_path, monkeypatch)
    created: list[Path] = []
    real = tempfile.mkdtemp

    def mkdtemp(*args: object, **kwargs: object) -> str:
        made = real(*args, **kwargs)  # type: ignore[call-overload]
        created.append(Path(made))
        return str(made)

    monkeypatch.setattr(tempfile, "mkdtemp", mkdtemp)
    result = run(project(tmp_path / "p", "x@example.com\ny@example.com\nX@example.com\n"), "validate")
    assert "lists/a.txt:3:1: spec.dispatch.emailsFrom[0]: email:x@example.com is declared twice" in result.output
    assert created == [] and list(temp.iterdir()) == []


def test_an_unwritable_temporary_directory_is_a_clear_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path / "missing"))
    monkeypatch.setattr(spill, "RUN_RECORDS", 2)
    result = run(project(tmp_path / "p", "a@example.com\nb@example.com\nc@example.com\n"), "validate")
    assert result.exit_code == 1
    assert "internal error" not in result.output
    assert "validate cannot write its temporary files" in result.output
    assert str(tmp_path / "missing") in result.output


def test_small_runs_spill_and_find_every_duplicate(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    temp = watched_temp(tmp_path, monkeypatch)
    monkeypatch.setattr(spill, "RUN_RECORDS", 2)
    addresses = "".join(f"u{n % 5}@example.com\n" for n in range(9))
    result = run(project(tmp_path / "p", addresses), "validate")
    assert [line.split(":")[1] for line in result.output.splitlines() if "declared twice" in line] == [
        "6",
        "7",
        "8",
        "9",
    ]
    assert list(temp.iterdir()) == []


CHILD = """
import os, signal, sys, tempfile
from reconciler.app.session import load_project
from reconciler.errors import ManifestError
from reconciler.manifest import spill
from reconciler.cli.main import main

tempfile.tempdir = sys.argv[1]
spill.RUN_RECORDS = 2
written = spill.SpilledTargets._write

def write(self, records):
    path = written(self, records)
    os.kill(os.getpid(), signal.SIGTERM)  # as a CI runner cancelling the job would
    return path

spill.SpilledTargets._write = write
main(["-C", sys.argv[2], "--no-color", "validate"])
"""


def test_sigterm_removes_the_spilled_addresses(tmp_path: Path) -> None:
    temp = tmp_path / "temp"
    temp.mkdir()
    directory = project(tmp_path / "p", "".join(f"u{n}@example.com\n" for n in range(10)))
    done = subprocess.run(
        [sys.executable, "-c", CHILD, str(temp), str(directory)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        env={**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])},
    )
    assert done.returncode not in (0, -signal.SIGTERM), done.stderr
    assert "interrupted" in done.stderr
    assert list(temp.iterdir()) == []


def plan_problems(directory: Path) -> list[str]:
    with pytest.raises(ManifestError) as raised:
        load_project(directory)
    return [str(p) for p in raised.value.problems]


@pytest.mark.parametrize("run_records", [1000, 7], ids=["in-memory", "spilled"])
def test_validate_lists_exactly_the_problems_a_plan_lists(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, run_records: int
) -> None:
    """Invalid lines and duplicates of one list share its cap of 100 (as a plan counts them), a list read twice is
    capped per reference, and inline duplicates are never capped."""
    monkeypatch.setattr(spill, "RUN_RECORDS", run_records)
    a = (
        [f"u{n}@example.com" for n in range(50)]
        + [f"bad{n}" for n in range(80)]
        + [f" U{n}@Example.com" for n in range(50)]
    )
    b = ["email", *(f'"u{n}@example.com "' for n in range(120))]
    inline = ", ".join(f"i{n % 3}@example.com" for n in range(110))
    directory = emails_from_project(
        tmp_path / "p",
        {"a.txt": "\n".join(a) + "\n", "b.csv": "\r\n".join(b) + "\r\n"},
        "[../lists/a.txt, ../lists/a.txt, ../lists/b.csv]",
        emails=inline,
    )
    expected = plan_problems(directory)
    result = run(directory, "validate")
    assert [line for line in result.output.splitlines() if line.startswith(("lists/", "manifests/"))] == expected
    assert f"error: {len(expected)} problem(s) found" in result.output
