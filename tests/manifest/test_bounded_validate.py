"""validate checks targets as a stream (duplicates by an external sort) and keeps none; a plan keeps them compactly."""

from __future__ import annotations

import stat
import tempfile
from decimal import Decimal
from pathlib import Path
from typing import ClassVar

import pytest

from reconciler.app import session
from reconciler.errors import Problem
from reconciler.manifest import spill
from reconciler.manifest.problems import CappedProblems
from reconciler.manifest.spill import SpilledTargets
from reconciler.state.declared import DeclaredTargets, Source
from reconciler.state.desired import Position, Scope, Target, TargetKind
from tests.support.cli import run
from tests.support.email_lists import emails_from_project

SCOPE = Scope("m", "1", "C")


def project(tmp_path: Path, a: str, b: str) -> Path:
    return emails_from_project(tmp_path, {"a.txt": a, "b.csv": b}, "[../lists/a.txt, ../lists/b.csv]")


def test_validate_names_both_files_and_lines_of_a_duplicate(tmp_path: Path) -> None:
    directory = project(tmp_path, "x@example.com\nAna@example.com\n", "email\ny@example.com\nana@EXAMPLE.com\n")
    result = run(directory, "validate")
    assert result.exit_code != 0
    assert (
        "lists/b.csv:3:1: spec.dispatch.emailsFrom[1]: email:ana@example.com is declared twice in scope m/1/C: "
        "first at lists/a.txt:2:1 (manifest spring)"
    ) in result.output


def test_validate_names_file_line_and_field_of_a_bad_row(tmp_path: Path) -> None:
    directory = project(tmp_path, "x@example.com\n\nnot-an-address\n", "email\ny@example.com\n")
    result = run(directory, "validate")
    assert result.exit_code != 0
    assert "lists/a.txt:3:1: spec.dispatch.emailsFrom[0]: invalid email address 'n***' (14 characters)" in result.output


def test_validate_counts_distinct_targets(tmp_path: Path) -> None:
    directory = project(tmp_path, "x@example.com\nz@example.com\n", "email\ny@example.com\n")
    result = run(directory, "validate")
    assert result.exit_code == 0, result.output
    assert "valid: 1 scope(s), 3 target(s) in 1 manifest(s)" in result.output


def test_spilled_duplicates_are_found_across_runs_and_merge_passes(tmp_path: Path) -> None:
    source = Source("spring", "lists/a.txt", TargetKind.EMAIL)
    other = Source("autumn", "lists/b.txt", TargetKind.EMAIL)
    sink = SpilledTargets(tmp_path, run_records=3, fan_in=2)
    for n in range(20):
        sink.declare(SCOPE, source, f"u{n}@example.com", n + 1, 1, "f")
    sink.declare(SCOPE, other, "u0@example.com", 7, 2, "g")  # the 7th run: three merge passes away from the 1st
    sink.declare(Scope("m", "1", "D"), other, "u1@example.com", 8, 1, "g")  # another scope: no duplicate
    problems = sink.finish()
    assert [str(p) for p in problems] == [
        "lists/b.txt:7:2: g: email:u0@example.com is declared twice in scope m/1/C: first at lists/a.txt:1:1 "
        "(manifest spring)"
    ]
    assert sink.distinct == 21
    assert list(tmp_path.iterdir()) == []  # the sorted runs are removed


def test_spilled_duplicates_list_the_first_hundred_by_line_then_count(tmp_path: Path) -> None:
    source = Source("spring", "lists/a.txt", TargetKind.EMAIL)
    sink = SpilledTargets(tmp_path, run_records=50)
    cap = CappedProblems("lists/a.txt", 100)  # the file's problems, as _declare_file counts them
    for n in range(150):
        sink.declare(SCOPE, source, f"z{149 - n}@example.com", n + 1, 1, "f", cap)
    for n in range(150):
        sink.declare(SCOPE, source, f"z{149 - n}@example.com", 151 + n, 1, "f", cap)
    assert sink.file_read(cap) == []  # listed by finish, with the duplicates
    problems = sink.finish()
    assert [p.line for p in problems] == [*range(151, 251), 251]
    assert problems[-1].message == "50 more problems from here on are not listed"


def test_declared_targets_keep_order_positions_and_amounts() -> None:
    targets = DeclaredTargets()
    inline = Source("r1", "m.yaml", TargetKind.UID, Decimal(5))
    listed = Source("r1", "lists/a.txt", TargetKind.EMAIL)
    assert targets.declare(inline, "11", 9, 14) is None
    assert targets.declare(listed, "a@example.com", 2, 1) is None
    assert targets.declare(Source("r1", "m.yaml", TargetKind.UID, Decimal(6)), "12", 10, 14) is None
    first = targets.declare(listed, "a@example.com", 5, 1)
    assert first is not None and first.position == Position("lists/a.txt", 2, 1)
    targets.seal()
    assert list(targets) == [Target.uid(11), Target.email("a@example.com"), Target.uid(12)]
    assert [(t, i.manifest, str(i.position), i.amount) for t, i in targets.items()] == [
        (Target.uid(11), "r1", "m.yaml:9:14", Decimal(5)),
        (Target.email("a@example.com"), "r1", "lists/a.txt:2:1", None),
        (Target.uid(12), "r1", "m.yaml:10:14", Decimal(6)),
    ]
    assert len(targets) == 3
    assert Target.uid(12) in targets and Target.uid(13) not in targets
    assert Target(TargetKind.ACCOUNT, "11") not in targets  # the kind is part of the target
    assert targets[Target.uid(12)].amount == Decimal(6)
    assert targets.get(Target.email("b@example.com")) is None


class _Watched(SpilledTargets):
    seen: ClassVar[list[tuple[Path, int]]] = []

    def finish(self) -> list[Problem]:
        assert self.directory is not None  # a run was written: the directory was made
        _Watched.seen.append((self.directory, stat.S_IMODE(self.directory.stat().st_mode)))
        return super().finish()


@pytest.mark.parametrize("b", ["email\ny@example.com\n", "email\nx@example.com\n"], ids=["valid", "duplicate"])
def test_validate_spills_to_a_private_directory_removed_at_the_end(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, b: str
) -> None:
    temp = tmp_path / "temp"
    temp.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(temp))
    monkeypatch.setattr(session, "SpilledTargets", _Watched)
    monkeypatch.setattr(spill, "RUN_RECORDS", 1)  # every target is a run: the runs are written
    _Watched.seen.clear()
    run(project(tmp_path / "p", "x@example.com\n", b), "validate")
    [(directory, mode)] = _Watched.seen
    assert directory.parent == temp and mode == 0o700
    assert list(temp.iterdir()) == []
