"""The command line's contract with scripts and terminals: usage errors exit 1 (2 means changes or drift), a
closed pipe ends quietly with the command's own exit code, colour can be forced, and no raw log line reaches
the user unless asked for."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner, Result

from reconciler.cli.main import main
from tests.support.projects import EXAMPLES

COUPONCTL = [sys.executable, "-m", "reconciler"]
INSTALLED = Path(sys.executable).parent / "couponctl"  # the console script, as a shell completes it


def run(project: Path, *args: str, env: dict[str, str] | None = None) -> Result:
    return CliRunner().invoke(main, ["-C", str(project), *args], env=env)


@pytest.mark.parametrize(
    "args",
    [
        ["plan", "--detailed-exitcode", "--formt", "json"],  # an unknown option
        ["drift", "--fromat", "markdown"],
        ["plna"],  # an unknown command
        ["plan", "--detailed-exitcode", "--format", "yaml"],  # a bad value
        ["apply", "--lock-timeout", "soon"],
        ["journal", "resolve", "5", "--as", "issued"],  # a required option missing
        ["journal", "nope"],
        ["export", "--owner", "1"],
    ],
)
def test_usage_errors_exit_1_never_2(project: Path, args: list[str]) -> None:
    result = run(project, *args)
    assert result.exit_code == 1, (result.exit_code, result.output)
    assert "Traceback" not in result.output
    assert result.stderr.strip(), "a usage error says what is wrong"


@pytest.mark.subprocess
def test_usage_errors_from_the_installed_command_exit_1(project: Path) -> None:
    done = subprocess.run(
        [*COUPONCTL, "-C", str(project), "plan", "--detailed-exitcode", "--formt", "json"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 1 and done.stdout == ""
    assert "--formt" in done.stderr and "Traceback" not in done.stderr


def test_help_and_version_exit_0(project: Path) -> None:
    assert run(project, "--help").exit_code == 0
    assert run(project, "plan", "--help").exit_code == 0
    version = run(project, "--version")
    assert version.exit_code == 0 and "couponctl" in version.stdout


def test_the_detailed_exit_codes_still_hold(project: Path) -> None:
    assert run(project, "plan", "--detailed-exitcode").exit_code == 2
    assert run(project, "validate").exit_code == 0


@pytest.mark.slow
@pytest.mark.subprocess
def test_output_piped_into_head_ends_quietly_with_the_commands_own_exit_code(project: Path) -> None:
    # Enough targets that the plan's JSON is far larger than a pipe's buffer: the writer meets the closed pipe.
    (project / "lists" / "spring27.csv").write_text(
        "email\n" + "".join(f"person{i:05d}@example.org\n" for i in range(4000)), encoding="utf-8"
    )
    process = subprocess.Popen(
        [*COUPONCTL, "-C", str(project), "--quiet", "plan", "--format", "json", "--detailed-exitcode"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    assert process.stdout is not None and process.stderr is not None
    first = process.stdout.readline()
    process.stdout.close()  # what `head -1` does once it has its line
    stderr = process.stderr.read().decode()
    code = process.wait(timeout=120)
    assert first.startswith(b"{")
    assert stderr == "", stderr
    assert code in (1, 2), code  # the plan's own outcome (2: changes; 1: the example's inventory is short)


def test_color_can_be_forced_when_piped_and_turned_off(project: Path) -> None:
    forced = run(project, "--color", "plan")
    assert forced.exit_code == 0 and "\x1b[" in forced.stdout
    assert "\x1b[" not in run(project, "--no-color", "plan").stdout
    assert "\x1b[" not in run(project, "plan").stdout  # piped, not forced: plain
    assert "\x1b[" not in run(project, "plan", env={"NO_COLOR": "1"}).stdout


def _in_doubt_project(project: Path) -> Path:
    config = yaml.safe_load((project / "couponctl.yaml").read_text())
    config["sandbox"] = {**config.get("sandbox", {}), "faults": ["dispatch:error-500=1"], "faultSeed": 1}
    config["inDoubtWindow"] = "1s"
    (project / "couponctl.yaml").write_text(yaml.safe_dump(config, sort_keys=False))
    return project


@pytest.mark.slow
def test_no_raw_log_line_reaches_the_user(project: Path) -> None:
    result = run(_in_doubt_project(project), "apply", "--yes")
    assert result.exit_code in (4, 5), result.output
    assert "operation=" not in result.output and "request_id=" not in result.output


@pytest.mark.slow
def test_quiet_silences_log_lines_too(project: Path) -> None:
    result = run(_in_doubt_project(project), "--quiet", "apply", "--yes")
    assert "operation=" not in result.output


@pytest.mark.slow
def test_debug_shows_the_log_lines_marked_as_such(project: Path) -> None:
    result = run(_in_doubt_project(project), "--debug", "apply", "--yes")
    lines = [line for line in result.stderr.splitlines() if "operation=DispatchCoupons" in line]
    assert lines and all(line.startswith("debug: ") for line in lines), result.stderr


def test_apply_yes_without_a_plan_file_shows_the_errors_it_refused_on(project: Path) -> None:
    manifest = project / "manifests" / "winback27.yaml"
    text = manifest.read_text()
    assert "WINBACK27" in text
    manifest.write_text(text.replace("couponClass: WINBACK27", "couponClass: NOSUCH27"))
    result = run(project, "--no-color", "apply", "--yes")
    assert result.exit_code == 3, result.output
    assert "NOSUCH27" in result.stderr and "class-not-found" in result.stderr
    assert "nothing was issued" in result.stderr


def test_apply_quiet_still_shows_the_errors(project: Path) -> None:
    manifest = project / "manifests" / "winback27.yaml"
    manifest.write_text(manifest.read_text().replace("couponClass: WINBACK27", "couponClass: NOSUCH27"))
    result = run(project, "--quiet", "apply", "--yes")
    assert result.exit_code == 3 and "class-not-found" in result.stderr


@pytest.mark.slow
@pytest.mark.subprocess
def test_shell_completion_completes_commands_and_options() -> None:
    def complete(words: str, cword: int) -> str:
        env = {**os.environ, "_COUPONCTL_COMPLETE": "bash_complete", "COMP_WORDS": words, "COMP_CWORD": str(cword)}
        done = subprocess.run([str(INSTALLED)], env=env, capture_output=True, text=True, timeout=60, check=False)
        assert done.returncode == 0, done.stderr
        return done.stdout

    assert "plain,plan" in complete("couponctl pl", 1).splitlines()
    assert "plain,--format" in complete("couponctl plan --fo", 2).splitlines()
    source = subprocess.run(
        [str(INSTALLED)], env={**os.environ, "_COUPONCTL_COMPLETE": "bash_source"}, capture_output=True, text=True
    )
    assert source.returncode == 0 and "complete " in source.stdout


def test_the_readme_documents_the_global_options() -> None:
    readme = (EXAMPLES.parent / "README.md").read_text(encoding="utf-8")
    for option in ("-C DIR", "--color", "-q/--quiet", "-v/--verbose", "--debug", "_COUPONCTL_COMPLETE"):
        assert option in readme, option
