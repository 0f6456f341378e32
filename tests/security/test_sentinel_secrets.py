"""Hostile pull requests, secrets family: every credential and every value resolved from the environment is
scrubbed from every byte couponctl writes. The project's credentials are sentinel values that really work against
a served sandbox (they are its seeded credentials); every command runs, on success and on failure paths, and its
stdout, stderr and every file it left in the project are searched for each sentinel."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from tests.support.projects import EXAMPLES, copy_examples

pytestmark = [pytest.mark.slow, pytest.mark.subprocess]

SENTINELS = {
    "S_DEV": "SNTL-devtoken-4b1e",
    "S_TOKEN": "SNTL-access-token-9c2d",
    "S_CLIENT": "SNTL-client-id-77aa",
    "S_REFRESH": "SNTL-refresh-token-0f3b",
    "S_AK": "SNTL-ak-5e6f",
    "S_SK": "SNTL-aksecret-a1b2",
    "S_MASK": "SNTL-maskkey-c3d4",
    "S_JOURNAL": "",  # an absolute path below the test's directory, set by the fixture
}
SERVE = [sys.executable, "-m", "reconciler", "sandbox", "serve", "--port", "0"]
# What the sandbox (the "vendor") was seeded with: it holds the same credentials as the project.
SEED_REPLACEMENTS = {
    "BBD37VB98": SENTINELS["S_DEV"],
    "sandbox-access-token": SENTINELS["S_TOKEN"],
    "sandbox-client": SENTINELS["S_CLIENT"],
    "sandbox-refresh-token": SENTINELS["S_REFRESH"],
    "sandbox-ak": SENTINELS["S_AK"],
    "sandbox-secret": SENTINELS["S_SK"],
}


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[Path, dict[str, str]]]:
    project = tmp_path / "project"
    copy_examples(project)
    seed_text = (EXAMPLES / "sandbox-seed.yaml").read_text()
    for old, new in SEED_REPLACEMENTS.items():
        seed_text = seed_text.replace(old, new)
    vendor = tmp_path / "vendor"
    vendor.mkdir()
    (vendor / "seed.yaml").write_text(seed_text)
    (project / "sandbox-seed.yaml").unlink()  # the project holds no credential of its own
    server = subprocess.Popen(
        [*SERVE, "--db", str(vendor / "store.sqlite"), "--seed", str(vendor / "seed.yaml")],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert server.stdout is not None
    line = ""
    while "serving at" not in line:
        line = server.stdout.readline()
        assert line, "sandbox serve stopped before serving"
    url = line.split("serving at ")[1].split()[0]
    journal = tmp_path / "journal-dir-SNTL-path-e5f6" / "journal.sqlite"
    env = {**SENTINELS, "S_JOURNAL": str(journal)}
    msads = {
        "developerToken": "${env:S_DEV}",
        "oauth": {"clientId": "${env:S_CLIENT}", "refreshToken": "${env:S_REFRESH}"},
    }
    aliyun = {"accessKeyId": "${env:S_AK}", "accessKeySecret": "${env:S_SK}"}
    config = yaml.safe_load((project / "couponctl.yaml").read_text())
    config.pop("sandbox", None)
    config["journal"] = "${env:S_JOURNAL}"
    config["maskKey"] = "${env:S_MASK}"
    config["providers"] = {
        "msads-local": {"type": "msads", "environment": "sandbox", "endpoint": url, **msads, "write": msads},
        "aliyun-local": {"type": "aliyun", "endpoint": url, **aliyun, "write": aliyun},
    }
    (project / "couponctl.yaml").write_text(yaml.safe_dump(config, sort_keys=False))
    yield project, env
    server.send_signal(signal.SIGTERM)
    server.wait(timeout=10)


def couponctl(project: Path, env: dict[str, str], *args: str) -> tuple[int, str]:
    done = subprocess.run(
        [sys.executable, "-m", "reconciler", "-C", str(project), "--no-color", "--debug", *args],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, **env, "CI": ""},
        check=False,
    )
    return done.returncode, done.stdout + done.stderr


def secrets_of(env: dict[str, str]) -> list[str]:
    return [value for value in env.values() if value]


def assert_clean(text: str, env: dict[str, str], where: str) -> None:
    for value in secrets_of(env):
        assert value not in text, f"{where} holds a secret ({value[:4]}…)"


def test_no_command_writes_a_secret_anywhere(served: tuple[Path, dict[str, str]]) -> None:
    project, env = served
    outputs: list[tuple[str, int, str]] = []

    def run(*args: str) -> int:
        code, text = couponctl(project, env, *args)
        outputs.append((" ".join(args), code, text))
        return code

    assert run("validate") == 0
    assert run("apply", "--yes") == 0, outputs[-1]  # a new journal: its location (a secret here) is announced
    manifest = project / "manifests" / "winback27.yaml"
    manifest.write_text(manifest.read_text().replace("emails:\n", "emails:\n      - one.more@example.org\n", 1))
    assert run("plan", "--out", "plan.json") == 0
    for fmt in ("text", "json", "markdown"):
        run("plan", "--format", fmt)
        run("show", "plan.json", "--format", fmt)
    assert run("apply", "plan.json", "--yes", "--report", "report.json") == 0, outputs[-1]
    for fmt in ("text", "json", "markdown"):
        assert run("drift", "--format", fmt) == 0
    run("journal", "list")
    run("journal", "in-doubt")
    run("journal", "export", "--format", "csv", "--out", "ledger.csv")
    run("journal", "export", "--format", "jsonl", "--out", "ledger.jsonl")
    run("lock", "status")
    assert run("export", "--provider", "msads-local", "--owner", "251186883", "--out", "exported") == 0
    run("export", "--provider", "aliyun-local", "--owner", "3944837183")

    # Failure paths: the vendor refuses the token, the endpoint is gone, the journal variable is not a location.
    config = yaml.safe_load((project / "couponctl.yaml").read_text())
    broken = dict(config)
    broken["providers"] = {
        name: {**block, "endpoint": "http://127.0.0.1:9"} for name, block in config["providers"].items()
    }
    (project / "couponctl.yaml").write_text(yaml.safe_dump(broken, sort_keys=False))
    assert run("plan") != 0
    (project / "couponctl.yaml").write_text(yaml.safe_dump(config, sort_keys=False))
    code, text = couponctl(project, {**env, "S_REFRESH": "SNTL-wrong-refresh-1234"}, "plan")
    outputs.append(("plan with a refused refresh token", code, text))
    assert code != 0
    code, text = couponctl(project, {**env, "S_CLIENT": "SNTL-wrong-client-9999"}, "plan")
    outputs.append(("plan with an unknown client id, which the token endpoint echoes", code, text))
    assert code != 0 and "***" in text
    code, text = couponctl(project, {**env, "S_JOURNAL": "SNTL-not-a-path-5678"}, "plan")
    outputs.append(("plan with a journal variable that is no location", code, text))
    assert code != 0 and "not shown" in text

    wrong = {
        **env,
        "S_WRONG": "SNTL-wrong-refresh-1234",
        "S_BAD_JOURNAL": "SNTL-not-a-path-5678",
        "S_WRONG_CLIENT": "SNTL-wrong-client-9999",
    }
    for command, _code, text in outputs:
        assert "Traceback" not in text, command
        assert_clean(text, wrong, f"the output of `{command}`")
    for path in project.rglob("*"):
        if path.is_file():
            assert_clean(path.read_bytes().decode("utf-8", "replace"), wrong, str(path.relative_to(project)))
    journal = Path(env["S_JOURNAL"])
    for path in journal.parent.iterdir():
        text = path.read_bytes().decode("utf-8", "replace")
        assert_clean(text, {k: v for k, v in wrong.items() if k != "S_JOURNAL"}, f"the journal ({path.name})")
    assert not (project / "SNTL-not-a-path-5678").exists() and not Path("SNTL-not-a-path-5678").exists()


def test_a_journal_url_password_is_never_printed(tmp_path: Path) -> None:
    project = tmp_path / "project"
    copy_examples(project)
    config = yaml.safe_load((project / "couponctl.yaml").read_text())
    config["journal"] = "${env:S_URL}"
    (project / "couponctl.yaml").write_text(yaml.safe_dump(config, sort_keys=False))
    for url in (
        "postgresql://couponctl:SNTL-userinfo-pw-1111@127.0.0.1:9/nowhere",
        "postgresql://couponctl@127.0.0.1:9/nowhere?password=SNTL-query-pw-2222&sslmode=disable",
    ):
        code, text = couponctl(project, {"S_URL": url}, "plan")
        assert code == 1 and "cannot open the journal" in text
        assert "SNTL-" not in text, text
    literal = dict(config, journal="postgresql://couponctl@db.example.com/j?password=SNTL-literal-3333")
    (project / "couponctl.yaml").write_text(yaml.safe_dump(literal, sort_keys=False))
    code, text = couponctl(project, {}, "validate")
    assert code == 1 and "couponctl.yaml:" in text and "SNTL-" not in text
