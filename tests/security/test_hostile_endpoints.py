"""Hostile pull requests, endpoints family: credentials go only to the vendor's documented hosts over https, or to
loopback; any other endpoint or token URL is refused at validate unless the provider says
allowUnlistedEndpoint: true, and then every plan format flags it; apply never sends write credentials anywhere
the reviewed plan did not show. No test here talks to anything but loopback: refused URLs are never contacted."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner, Result

from reconciler.cli.main import main
from reconciler.plan.model import PlanEndpoint
from reconciler.render.plan_markdown import render_markdown
from reconciler.render.plan_text import render_text
from tests.support.plan_factories import sample_plan
from tests.support.projects import copy_examples
from tests.support.served import ServeProject

CREDS = {"E_DEV": "dev-token-1234", "E_TOKEN": "access-token-1234", "E_AK": "sandbox-ak", "E_SK": "sandbox-secret"}


def project_with(tmp_path: Path, msads: dict[str, object]) -> Path:
    project = tmp_path / "project"
    copy_examples(project)
    config = yaml.safe_load((project / "couponctl.yaml").read_text())
    config["providers"]["msads-local"] = {
        "type": "msads",
        "developerToken": "${env:E_DEV}",
        "accessToken": "${env:E_TOKEN}",
        **msads,
    }
    (project / "couponctl.yaml").write_text(yaml.safe_dump(config, sort_keys=False))
    return project


def run(project: Path, *args: str, allowed: str | None = None) -> Result:
    env: dict[str, str | None] = {**CREDS, "CI": None, "COUPONCTL_ALLOWED_HOSTS": allowed}
    return CliRunner().invoke(main, ["-C", str(project), "--no-color", *args], env=env)


@pytest.mark.parametrize(
    ("settings", "field"),
    [
        ({"environment": "production", "endpoint": "https://evil.example"}, "providers.msads-local.endpoint"),
        ({"environment": "production", "endpoint": "http://169.254.169.254/latest"}, "providers.msads-local.endpoint"),
        (
            {"environment": "production", "endpoint": "http://clientcenter.api.bingads.microsoft.com"},
            "providers.msads-local.endpoint",
        ),
        (
            {"environment": "production", "oauth": {"tokenUrl": "https://login.evil.example/token"}},
            "providers.msads-local.oauth.tokenUrl",
        ),
        (
            {"environment": "production", "endpoint": "https://clientcenter.api.bingads.microsoft.com.evil.example"},
            "providers.msads-local.endpoint",
        ),
    ],
)
def test_an_unlisted_endpoint_is_refused_before_anything_is_sent(
    tmp_path: Path, settings: dict[str, object], field: str
) -> None:
    project = project_with(tmp_path, settings)
    for command in ("validate", "plan", "drift"):
        result = run(project, command)
        assert result.exit_code == 1, result.output
        assert f"{field}: " in result.stderr and "allowUnlistedEndpoint" in result.stderr
        assert "Traceback" not in result.output


@pytest.mark.parametrize(
    "settings",
    [
        {"environment": "production"},
        {"environment": "sandbox"},
        {"environment": "production", "endpoint": "http://127.0.0.1:9/"},
        {"environment": "production", "endpoint": "https://localhost:9"},
    ],
)
def test_documented_hosts_and_loopback_validate(tmp_path: Path, settings: dict[str, object]) -> None:
    result = run(project_with(tmp_path, settings), "validate")
    assert result.exit_code == 0, result.output


def test_an_unlisted_host_needs_the_config_and_the_operator(tmp_path: Path) -> None:
    # The pull request controls couponctl.yaml, so its flag alone allows nothing: the host must also be in
    # COUPONCTL_ALLOWED_HOSTS, in the environment of the jobs (the operator's setting).
    flagged = {"environment": "production", "endpoint": "https://proxy.corp.example", "allowUnlistedEndpoint": True}
    project = project_with(tmp_path, flagged)
    refused = run(project, "validate")
    assert refused.exit_code == 1 and "COUPONCTL_ALLOWED_HOSTS" in refused.stderr
    assert run(project, "validate", allowed="other.example, PROXY.corp.example.").exit_code == 0
    unflagged = project_with(tmp_path / "b", {"environment": "production", "endpoint": "https://proxy.corp.example"})
    assert run(unflagged, "validate", allowed="proxy.corp.example").exit_code == 1, "the operator alone neither"


def test_every_format_flags_an_unlisted_endpoint() -> None:
    endpoints = (
        PlanEndpoint("msads-prod", "msads:api", "https://proxy.corp.example", False),
        PlanEndpoint("msads-prod", "msads:token", "https://login.microsoftonline.com/common/oauth2/v2.0/token", True),
    )
    plan = replace(sample_plan(), endpoints=endpoints)
    text = render_text(plan, color=False)
    assert "UNLISTED:   msads-prod api -> https://proxy.corp.example" in text
    assert "connects:   msads-prod token -> https://login.microsoftonline.com" in text
    markdown = render_markdown(plan)
    assert "> [!WARNING]" in markdown and "`https://proxy.corp.example`" in markdown
    assert "Connects to:" in markdown


@pytest.fixture
def served(serve_project: ServeProject) -> Iterator[tuple[Path, str]]:
    project, _server = serve_project({})
    url = yaml.safe_load((project / "couponctl.yaml").read_text())["providers"]["msads-local"]["endpoint"]
    yield project, url


def calls(project: Path) -> list[str]:
    db = sqlite3.connect(project / ".couponctl" / "sandbox.sqlite")
    try:
        return [row[0] for row in db.execute("SELECT endpoint FROM calls ORDER BY id")]
    finally:
        db.close()


@pytest.mark.slow
@pytest.mark.subprocess
def test_apply_sends_nothing_to_an_endpoint_the_reviewed_plan_did_not_show(served: tuple[Path, str]) -> None:
    project, url = served
    planned = CliRunner().invoke(main, ["-C", str(project), "plan", "--format", "json", "--out", "p.json"])
    assert planned.exit_code == 0, planned.output
    shown = json.loads((project / "p.json").read_text())["endpoints"]
    assert {"provider": "msads-local", "role": "msads:api", "url": url, "listed": True} in shown
    # After review, the merged config points the provider elsewhere (here: the same server under another name).
    config = yaml.safe_load((project / "couponctl.yaml").read_text())
    moved = url.replace("127.0.0.1", "localhost")
    config["providers"]["msads-local"]["endpoint"] = moved
    (project / "couponctl.yaml").write_text(yaml.safe_dump(config, sort_keys=False))
    before = calls(project)
    refused = CliRunner().invoke(main, ["-C", str(project), "apply", "p.json", "--yes"])
    assert refused.exit_code == 3, refused.output
    assert "other endpoints than couponctl.yaml now gives" in refused.stderr and moved in refused.stderr
    assert calls(project) == before, "not one call reached the server"
