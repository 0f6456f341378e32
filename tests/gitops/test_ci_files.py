"""The project's own CI: .github/workflows match GitHub's published schema, run what .ci/run runs on every Python
couponctl claims with a PostgreSQL server, and the dependency policy holds: CI installs pinned versions, every
lower bound in pyproject.toml is the one the lowest-versions job installs, and a scheduled job tries the newest."""

from __future__ import annotations

import re
import subprocess
import sys
import tomllib
from pathlib import Path
from typing import Any

import pytest
import yaml
from packaging.version import Version

ROOT = Path(__file__).resolve().parents[2]
WORKFLOWS = ROOT / ".github" / "workflows"
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))


def load(path: Path) -> dict[Any, Any]:
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    assert isinstance(data, dict)
    return data


def requirement_name(requirement: str) -> str:
    match = re.match(r"[A-Za-z0-9._-]+", requirement)
    assert match, requirement
    return match.group().lower().replace("_", "-")


def pins(path: Path) -> dict[str, str]:
    found = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        line = line.split("#", 1)[0].strip()
        if line:
            name, _, version = line.partition("==")
            assert version, f"{path.name}: {line!r} is not pinned with =="
            found[requirement_name(name)] = version
    return found


@pytest.mark.subprocess
def test_the_projects_workflows_match_githubs_published_schema() -> None:
    files = sorted(WORKFLOWS.glob("*.yml"))
    assert [p.name for p in files] == ["ci.yml", "dependencies.yml"]
    done = subprocess.run(
        [sys.executable, "-m", "check_jsonschema", "--builtin-schema", "vendor.github-workflows", *map(str, files)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stdout + done.stderr


def test_ci_runs_ci_run_on_every_claimed_python_with_postgresql() -> None:
    job = load(WORKFLOWS / "ci.yml")["jobs"]["test"]
    claimed = PYPROJECT["project"]["requires-python"]
    assert claimed == ">=3.11"
    assert job["strategy"]["matrix"]["python-version"] == ["3.11", "3.12", "3.13"]
    assert job["services"]["postgres"]["ports"] == ["5432:5432"]
    assert job["env"]["CI"] == "true" and job["env"]["COUPONCTL_TEST_POSTGRES_URL"].startswith("postgresql://")
    assert [step.get("run") for step in job["steps"] if "run" in step] == ["bash .ci/run"]


def test_ci_run_installs_the_pinned_versions_and_runs_the_readmes_command() -> None:
    script = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    assert 'export PIP_CONSTRAINT="$PWD/requirements/constraints.txt"' in script
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    quickstart = re.search(r"## Quickstart\n\n```sh\n(.*?)\n```", readme, re.S)
    assert quickstart, "the README starts with a quickstart block"
    commands = quickstart.group(1).splitlines()
    assert len(commands) == 2
    assert commands[1] == "pip install -e '.[test]' && pytest"
    assert script.index("PIP_CONSTRAINT") < script.index(commands[1])


def test_every_dependency_is_pinned_for_ci() -> None:
    pinned = pins(ROOT / "requirements" / "constraints.txt")
    declared = [*PYPROJECT["project"]["dependencies"], *PYPROJECT["project"]["optional-dependencies"]["test"]]
    missing = sorted({requirement_name(r) for r in declared} - set(pinned))
    assert not missing, f"requirements/constraints.txt does not pin {missing}"


def test_the_lowest_job_installs_exactly_the_claimed_lower_bounds() -> None:
    lowest = pins(ROOT / "requirements" / "lowest.txt")
    bounds = {}
    # the test tools whose bounds matter
    tools = [name + _bound(name) for name in ("pytest", "pytest-xdist", "check-jsonschema")]
    for requirement in [*PYPROJECT["project"]["dependencies"], *tools]:
        match = re.search(r">=([0-9][0-9a-z.]*)", requirement)
        assert match, f"{requirement}: every base dependency has a lower bound"
        bounds[requirement_name(requirement)] = match.group(1)
    for name, bound in bounds.items():
        assert name in lowest, f"requirements/lowest.txt does not install {name}"
        same = Version(lowest[name]) == Version(bound)
        assert same, f"{name}: pyproject claims >={bound}, the lowest job tests {lowest[name]}"


def _bound(name: str) -> str:
    (requirement,) = [r for r in PYPROJECT["project"]["optional-dependencies"]["test"] if requirement_name(r) == name]
    return str(requirement[len(name) :]).split("#")[0].strip()


def test_a_scheduled_job_runs_the_suite_on_the_newest_and_the_lowest_versions() -> None:
    workflow = load(WORKFLOWS / "dependencies.yml")
    assert workflow[True]["schedule"], "on: schedule (YAML 1.1 reads the key `on` as true)"
    job = workflow["jobs"]["suite"]
    kinds = {entry["versions"] for entry in job["strategy"]["matrix"]["include"]}
    assert kinds == {"newest", "lowest"}
    install = next(step["run"] for step in job["steps"] if step.get("name", "").startswith("Install"))
    assert "-c requirements/lowest.txt" in install and "--upgrade-strategy eager" in install
    assert "constraints.txt" not in install
