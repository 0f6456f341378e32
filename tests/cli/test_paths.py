"""Paths as git users expect: the project is found by searching upward, every path on the command line is
relative to where couponctl runs (``-C DIR`` runs it as if started in DIR), and messages say where the
project root is."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.cli import run

COUPONCTL = [sys.executable, "-m", "reconciler"]


def test_the_project_is_found_from_a_subdirectory(project: Path) -> None:
    result = run(project / "manifests", "validate")
    assert result.exit_code == 0, result.output
    assert f"(project {project})" in result.stdout
    assert f"project {project}" in result.stderr  # the root is named when it is not where the user stands


@pytest.mark.subprocess
def test_the_installed_command_searches_upward_from_the_current_directory(project: Path) -> None:
    done = subprocess.run(
        [*COUPONCTL, "validate"], cwd=project / "lists", capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 0, done.stderr
    assert str(project) in done.stdout


def test_the_root_is_not_announced_when_the_user_stands_in_it(project: Path) -> None:
    result = run(project, "validate")
    assert result.exit_code == 0 and result.stderr == ""


def test_without_a_project_anywhere_the_error_says_where_it_looked(tmp_path: Path) -> None:
    empty = tmp_path / "nowhere"
    empty.mkdir()
    result = run(empty, "plan")
    assert result.exit_code == 1
    assert f"{empty / 'couponctl.yaml'}: not found, nor in any parent directory" in result.stderr


def test_manifest_paths_are_relative_to_where_couponctl_runs(project: Path) -> None:
    from_subdir = run(project / "manifests", "validate", "winback27.yaml")
    assert from_subdir.exit_code == 0, from_subdir.output
    assert "in 1 manifest(s)" in from_subdir.stdout
    from_root = run(project, "validate", "manifests/winback27.yaml")
    assert from_root.exit_code == 0 and "in 1 manifest(s)" in from_root.stdout
    # the same name relative to the wrong place is not found, and the message says which path it tried
    wrong = run(project, "validate", "winback27.yaml")
    assert wrong.exit_code == 1 and "winback27.yaml: no such file or directory" in wrong.stderr


def test_out_planfile_and_report_are_relative_to_where_couponctl_runs(project: Path) -> None:
    sub = project / "manifests"
    planned = run(sub, "plan", "--out", "reviewed.json")
    assert planned.exit_code == 0, planned.output
    assert (sub / "reviewed.json").is_file() and not (project / "reviewed.json").exists()
    shown = run(sub, "show", "reviewed.json", "--format", "json")
    assert shown.exit_code == 0 and json.loads(shown.stdout)["summary"]["itemCount"] > 0
    applied = run(sub, "apply", "reviewed.json", "--yes", "--report", "report.json")
    assert applied.exit_code == 0, applied.output
    assert (sub / "report.json").is_file()


def test_uppercase_yaml_suffixes_are_read(project: Path) -> None:
    manifests = project / "manifests"
    (manifests / "winback27.yaml").rename(manifests / "WINBACK27.YAML")
    result = run(project, "validate")
    assert result.exit_code == 0, result.output
    assert "in 3 manifest(s)" in result.stdout


def test_an_empty_manifests_directory_says_so(project: Path) -> None:
    for path in (project / "manifests").iterdir():
        path.unlink()
    result = run(project, "plan")
    assert result.exit_code == 1
    assert "manifests/: holds no manifest file (*.yaml or *.yml" in result.stderr
