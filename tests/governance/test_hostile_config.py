"""Governance config mistakes through the CLI: each one located (file:line:col, field), exit 1, never an internal
error, whatever the time zone names (a directory of zones, a name longer than a file name may be)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from tests.support.cli import run

INVALID = Path(__file__).parents[1] / "config" / "invalid"


@pytest.mark.parametrize("mode", ["bad-governance", "bad-governance-shapes"])
def test_each_governance_mistake_is_located_with_exit_1(tmp_path: Path, mode: str) -> None:
    project = shutil.copytree(INVALID / mode, tmp_path / mode)
    for command in (["validate"], ["plan"]):
        result = run(project, *command)
        assert result.exit_code == 1, result.output
        assert "internal error" not in result.output and "Traceback" not in result.output
        expected = (project / "expected.txt").read_text().splitlines()
        assert [line for line in result.stderr.splitlines() if line.startswith("couponctl.yaml:")] == expected
