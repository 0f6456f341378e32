"""Hostile pull requests, files family: a manifest or couponctl.yaml that names a file outside the project (an
absolute path, '..', a symlink, /proc, a FIFO) is refused with a located problem, shows no content, and the file
is never opened. Outside files are FIFOs where possible: opening one for reading would block, so a command that
finishes has not read it. Sentinels are searched for in everything the command printed."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from tests.support.projects import copy_examples

pytestmark = [pytest.mark.slow, pytest.mark.subprocess]  # each test runs couponctl in a process: about a second

SENTINEL = "SENTINEL-7f3a9c-SECRET-VALUE"
SPRING = "manifests/spring27-acquisition.yaml"


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    """A checkout holding the example project in project/, a git config and a FIFO beside it."""
    (tmp_path / ".git").mkdir()
    (tmp_path / ".git" / "config").write_text(f"[credential]\n\thelper = store {SENTINEL}\n")
    os.mkfifo(tmp_path / "outside.fifo")
    (tmp_path / "outside.txt").write_text(f"{SENTINEL}\n")
    copy_examples(tmp_path / "project")
    return tmp_path


def couponctl(project: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "COUPONCTL_TEST_SECRET": SENTINEL}
    return subprocess.run(
        [sys.executable, "-m", "reconciler", "-C", str(project), "--no-color", *args],
        capture_output=True,
        text=True,
        timeout=60,  # a read of an outside FIFO would block until this fails the test
        env=env,
        check=False,
    )


def set_emails_from(project: Path, value: str) -> None:
    path = project / SPRING
    text = path.read_text()
    assert "emailsFrom: ../lists/spring27.csv" in text
    path.write_text(text.replace("emailsFrom: ../lists/spring27.csv", f"emailsFrom: {value}"))


def assert_refused_unread(done: subprocess.CompletedProcess[str], *located: str) -> None:
    assert done.returncode == 1, done.stdout + done.stderr
    output = done.stdout + done.stderr
    assert SENTINEL not in output
    assert "Traceback" not in output and "internal error" not in output
    for text in located:
        assert text in done.stderr, done.stderr


@pytest.mark.parametrize(
    "value",
    [
        "/proc/self/environ",
        "../../.git/config",
        "../../../../../../../../etc/passwd",
        "../../outside.fifo",
        "~/.bashrc",
        "../lists/../../../outside.txt",
    ],
)
def test_emails_from_outside_the_project_is_refused(repo: Path, value: str) -> None:
    project = repo / "project"
    set_emails_from(project, value)
    for command in ("validate", "plan"):
        assert_refused_unread(couponctl(project, command), f"{SPRING}:", "spec.dispatch.emailsFrom")


@pytest.mark.parametrize("target", ["outside.fifo", "outside.txt", ".git/config"])
def test_emails_from_a_symlink_leading_outside_is_refused(repo: Path, target: str) -> None:
    project = repo / "project"
    (project / "lists" / "innocent.csv").symlink_to(repo / target)
    set_emails_from(project, "../lists/innocent.csv")
    assert_refused_unread(couponctl(project, "validate"), "spec.dispatch.emailsFrom", "symlink")


def test_emails_from_a_fifo_inside_the_project_is_refused(repo: Path) -> None:
    project = repo / "project"
    os.mkfifo(project / "lists" / "pipe.csv")
    set_emails_from(project, "../lists/pipe.csv")
    assert_refused_unread(couponctl(project, "validate"), "spec.dispatch.emailsFrom", "not a regular file")


def test_a_manifest_symlinked_to_outside_is_refused(repo: Path) -> None:
    project = repo / "project"
    (project / "manifests" / "evil.yaml").symlink_to(repo / "outside.fifo")
    assert_refused_unread(couponctl(project, "validate"), "manifests/evil.yaml")


def test_a_symlinked_directory_inside_the_project_is_fine(repo: Path) -> None:
    project = repo / "project"
    (project / "more-lists").symlink_to(project / "lists", target_is_directory=True)
    set_emails_from(project, "../more-lists/spring27.csv")
    done = couponctl(project, "validate")
    assert done.returncode == 0, done.stderr


@pytest.mark.parametrize(
    ("field", "value", "located"),
    [
        ("stateDir", "/tmp", "couponctl.yaml:"),
        ("stateDir", "../..", "stateDir"),
        ("journal", "../outside.sqlite", "journal"),
        ("journal", "/proc/self/environ", "journal"),
        ("manifests", ["/etc"], "manifests[0]"),
        ("manifests", ["../*"], "manifests[0]"),
        ("manifests", ["manifests/", "../.git/config"], "manifests[1]"),
        ("sandbox", {"seed": "/proc/self/environ"}, "sandbox.seed"),
        ("sandbox", {"seed": "../outside.fifo"}, "sandbox.seed"),
    ],
)
def test_config_paths_outside_the_project_are_refused(repo: Path, field: str, value: object, located: str) -> None:
    project = repo / "project"
    config = yaml.safe_load((project / "couponctl.yaml").read_text())
    config[field] = value
    (project / "couponctl.yaml").write_text(yaml.safe_dump(config, sort_keys=False))
    for command in ("validate", "plan"):
        done = couponctl(project, command)
        assert_refused_unread(done, located)
        assert not (repo / "outside.sqlite").exists()


def test_a_journal_outside_the_project_may_come_from_the_environment(repo: Path, tmp_path: Path) -> None:
    # The operator's setting, not the repository's: a persistent disk of a self-hosted runner.
    project = repo / "project"
    config = yaml.safe_load((project / "couponctl.yaml").read_text())
    config["journal"] = "${env:COUPONCTL_TEST_JOURNAL}"
    (project / "couponctl.yaml").write_text(yaml.safe_dump(config, sort_keys=False))
    journal = tmp_path / "persistent" / "journal.sqlite"
    done = subprocess.run(
        [sys.executable, "-m", "reconciler", "-C", str(project), "plan"],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "COUPONCTL_TEST_JOURNAL": str(journal)},
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert journal.exists()


def test_an_invalid_line_of_a_list_is_shown_masked(repo: Path) -> None:
    project = repo / "project"
    (project / "lists" / "spring27.csv").write_text(f"email\nok@example.org\n{SENTINEL}\n")
    done = couponctl(project, "validate")
    assert_refused_unread(done, "lists/spring27.csv:3:1: spec.dispatch.emailsFrom: invalid email address 'S***'")


def test_a_committed_state_directory_symlink_leading_outside_is_refused(repo: Path) -> None:
    project = repo / "project"
    outside = repo / "elsewhere"
    outside.mkdir()
    (project / ".couponctl").symlink_to(outside, target_is_directory=True)
    for command in ("validate", "plan"):
        assert_refused_unread(couponctl(project, command), "stateDir", "default location")
    assert list(outside.iterdir()) == [], "no journal or sandbox store was created outside the project"


def test_a_default_journal_symlinked_outside_is_refused(repo: Path) -> None:
    project = repo / "project"
    (project / ".couponctl").mkdir()
    (project / ".couponctl" / "journal.sqlite").symlink_to(repo / "outside.sqlite")
    assert_refused_unread(couponctl(project, "plan"), "journal")
    assert not (repo / "outside.sqlite").exists()


@pytest.mark.parametrize("database", ["/tmp/couponctl-shared.sqlite", "../outside.sqlite"])
def test_a_sandbox_database_outside_the_project_is_refused(repo: Path, database: str) -> None:
    project = repo / "project"
    config = yaml.safe_load((project / "couponctl.yaml").read_text())
    config["sandbox"]["database"] = database
    (project / "couponctl.yaml").write_text(yaml.safe_dump(config, sort_keys=False))
    assert_refused_unread(couponctl(project, "plan"), "sandbox.database")
    assert not (repo / "outside.sqlite").exists()


@pytest.mark.parametrize("pattern", ["*/../../../etc/ss*/*", "manifests/**/../../*", "../**/*.yaml"])
def test_a_glob_that_climbs_out_is_refused_without_listing_anything(repo: Path, pattern: str) -> None:
    project = repo / "project"
    config = yaml.safe_load((project / "couponctl.yaml").read_text())
    config["manifests"] = [pattern]
    (project / "couponctl.yaml").write_text(yaml.safe_dump(config, sort_keys=False))
    done = couponctl(project, "validate")
    assert_refused_unread(done, "couponctl.yaml:", "manifests[0]")
    assert "/etc/" not in done.stderr and "outside.txt" not in done.stderr


def test_a_config_file_symlinked_outside_is_not_read(repo: Path) -> None:
    project = repo / "project"
    (repo / "hosts.yml").write_text(f"{SENTINEL}: yes\n")
    (project / "couponctl.yaml").unlink()
    (project / "couponctl.yaml").symlink_to(repo / "hosts.yml")
    assert_refused_unread(couponctl(project, "validate"), "couponctl.yaml: ", "outside the project root")


def test_a_name_too_long_is_a_located_problem(repo: Path) -> None:
    project = repo / "project"
    set_emails_from(project, "../lists/" + "x" * 300 + ".csv")
    assert_refused_unread(couponctl(project, "validate"), "spec.dispatch.emailsFrom", "cannot be used")
