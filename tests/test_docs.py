"""The docs are runnable: every shell block marked ``sh runnable`` in README.md and docs/*.md runs as written
against the embedded sandbox (on a copy of examples/), and what a user copies from the README validates."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
FENCE = re.compile(r"^```([^\n`]*)\n(.*?)^```$", re.S | re.M)
BIN = Path(sys.executable).parent  # the environment couponctl is installed in


def blocks(path: Path) -> list[tuple[str, str, int]]:
    """(info string, body, line) of each fenced block."""
    text = path.read_text(encoding="utf-8")
    return [(m.group(1).strip(), m.group(2), text.count("\n", 0, m.start()) + 1) for m in FENCE.finditer(text)]


RUNNABLE = [
    pytest.param(body, id=f"{path.name}:{line}")
    for path in DOCS
    for info, body, line in blocks(path)
    if info.split()[:2] == ["sh", "runnable"]
]


def test_there_are_runnable_blocks() -> None:
    assert len(RUNNABLE) >= 3


@pytest.mark.slow
@pytest.mark.subprocess
@pytest.mark.parametrize("body", RUNNABLE)
def test_a_runnable_block_runs_as_written(tmp_path: Path, body: str) -> None:
    shutil.copytree(ROOT / "examples", tmp_path / "examples", ignore=shutil.ignore_patterns(".couponctl", "*.json"))
    env = {
        "PATH": os.pathsep.join([str(BIN), "/usr/bin", "/bin"]),
        "HOME": str(tmp_path),
        "LANG": "C.UTF-8",
        "NO_COLOR": "1",
    }
    done = subprocess.run(
        ["bash", "--noprofile", "--norc", "-euo", "pipefail", "-c", body],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, f"exit {done.returncode}\n{done.stdout}\n{done.stderr}"
    assert "internal error" not in done.stderr and "Traceback" not in done.stderr


@pytest.mark.slow
@pytest.mark.subprocess
def test_the_readme_manifest_and_config_validate_in_the_readmes_layout(tmp_path: Path) -> None:
    readme = blocks(ROOT / "README.md")
    yamls = [body for info, body, _ in readme if info == "yaml"]
    manifest = next(b for b in yamls if "kind: CouponAssignment" in b)
    config = next(b for b in yamls if b.startswith("manifests:"))
    (tmp_path / "manifests").mkdir()
    (tmp_path / "lists").mkdir()
    (tmp_path / "couponctl.yaml").write_text(config, encoding="utf-8")
    (tmp_path / "manifests" / "spring27.yaml").write_text(manifest, encoding="utf-8")
    (tmp_path / "lists" / "spring27.csv").write_text("email\nana@example.org\n", encoding="utf-8")
    done = subprocess.run(
        [sys.executable, "-m", "reconciler", "-C", str(tmp_path), "validate"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr


def test_the_docs_speak_of_the_project_alone() -> None:
    for path in DOCS:
        text = path.read_text(encoding="utf-8")
        assert "shared/" not in text, f"{path.name} refers to a folder that is not in the repository"
