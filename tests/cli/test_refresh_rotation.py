"""couponctl against a sandbox that rotates refresh tokens and refuses a rotated one (seed ``revokeOnRotation``), as
the Microsoft identity platform documents rotation ("Refresh tokens replace themselves with a fresh token upon every
use... Securely delete the old refresh token after acquiring a new one", learn.microsoft.com/entra/identity-platform/
refresh-tokens): within a run, every refresh uses the token the previous one returned; a refused refresh token is an
error that says what to do, with no traceback and no token in the output."""

from __future__ import annotations

from pathlib import Path

import yaml

from reconciler.sandbox.store import Store
from tests.support.cli import run
from tests.support.projects import make_project

SEEDED = "sandbox-refresh-token"
ENV = {"MSADS_DEVELOPER_TOKEN": "BBD37VB98", "MSADS_CLIENT_ID": "sandbox-client", "MSADS_REFRESH_TOKEN": SEEDED}
OAUTH_PROVIDER = {
    "type": "msads",
    "environment": "local",
    "developerToken": "${env:MSADS_DEVELOPER_TOKEN}",
    "oauth": {"clientId": "${env:MSADS_CLIENT_ID}", "refreshToken": "${env:MSADS_REFRESH_TOKEN}"},
}


def rotating_project(tmp_path: Path) -> Path:
    """The example project, its msads provider on the OAuth flow; access tokens live 1 s (under couponctl's 120 s
    margin, so a refresh precedes every call) and a rotated refresh token is refused at once."""
    project = make_project(tmp_path, faults=[], extra={"providers": {"msads-local": OAUTH_PROVIDER}})
    path = project / "sandbox-seed.yaml"
    seed = yaml.safe_load(path.read_text())
    (client,) = seed["msads"]["oauthClients"]
    client.update(tokenLifetimeSeconds=1, revokeOnRotation=True)
    path.write_text(yaml.safe_dump(seed, sort_keys=False))
    return project


def token_calls(project: Path) -> list[str]:
    store = Store(project / ".couponctl" / "sandbox.sqlite")
    try:
        return [c.outcome for c in store.calls() if c.endpoint == "token"]
    finally:
        store.close()


def test_a_run_that_refreshes_several_times_uses_each_rotated_refresh_token(tmp_path: Path) -> None:
    project = rotating_project(tmp_path)
    result = run(project, "plan", env=ENV)
    assert result.exit_code == 0, result.output
    calls = token_calls(project)
    assert len(calls) >= 2 and set(calls) == {"ok"}  # the second refresh would be refused with the first token


def test_a_refused_refresh_token_says_to_get_a_new_one_without_a_traceback_or_a_token(tmp_path: Path) -> None:
    project = rotating_project(tmp_path)
    assert run(project, "plan", env=ENV).exit_code == 0  # rotates the seeded token, which is now revoked
    result = run(project, "plan", env=ENV)  # a new run, started again from the CI secret's (rotated) token
    assert result.exit_code == 1
    output = result.stdout + result.stderr
    assert "invalid_grant" in output and "expired or revoked" in output
    assert "sign in again" in output and "${env:MSADS_REFRESH_TOKEN}" in output
    assert "Traceback" not in output and SEEDED not in output and "sandbox-rt-" not in output
    assert token_calls(project)[-1] == "refused"
