"""Building providers from config: hosts and token URLs per environment, credentials, options."""

from __future__ import annotations

import json
import sys
import types
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from urllib.parse import parse_qs

import httpx
import pytest

from reconciler.config.model import ProviderConfig, SandboxConfig
from reconciler.config.secrets import SecretRef
from reconciler.errors import AuthError, ConfigError
from reconciler.providers.base import Provider
from reconciler.providers.msads.provider import MsAdsProvider
from reconciler.providers.registry import build_provider, for_writing
from tests.support.msads_fakes import SPEC, accounts, emails
from tests.support.provider_calls import read_scope_once

SANDBOX = SandboxConfig(seed=Path("seed.yaml"), database=Path("sandbox.sqlite"))
ENV = {
    "MSADS_DEV": "dev-SECRET-value-1",
    "MSADS_TOKEN": "at-SECRET-value-2",
    "MSADS_CLIENT": "client-id-1",
    "MSADS_CLIENT_SECRET": "cs-SECRET-value-3",
    "MSADS_REFRESH": "rt-SECRET-value-4",
}
STATIC = {"developerToken": "MSADS_DEV", "accessToken": "MSADS_TOKEN"}
OAUTH = {
    "developerToken": "MSADS_DEV",
    "oauth.clientId": "MSADS_CLIENT",
    "oauth.clientSecret": "MSADS_CLIENT_SECRET",
    "oauth.refreshToken": "MSADS_REFRESH",
}


def config(
    credentials: Mapping[str, str],
    *,
    environment: str = "production",
    endpoint: str | None = None,
    options: Mapping[str, object] | None = None,
    type_: str = "msads",
) -> ProviderConfig:
    refs = {key: SecretRef(name) for key, name in credentials.items()}
    return ProviderConfig("msads-prod", type_, environment, endpoint, refs, options or {})


class Recorder:
    def __init__(self) -> None:
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        if request.url.path.endswith("/oauth2/v2.0/token"):
            return httpx.Response(200, json={"access_token": "fresh-AT", "expires_in": 3600})
        return httpx.Response(200, json={"Coupons": []})

    def urls(self) -> list[str]:
        return [str(r.url) for r in self.requests]


def read_once(provider: Provider) -> None:
    read_scope_once(provider, SPEC)


def build(cfg: ProviderConfig, recorder: Recorder, environ: Mapping[str, str] = ENV) -> Provider:
    return build_provider(cfg, SANDBOX, environ, transport=httpx.MockTransport(recorder))


SEARCH = "/CustomerBilling/v13/Coupons/Search"


@pytest.mark.parametrize(
    ("environment", "base", "token_url", "scope"),
    [
        (
            "production",
            "https://clientcenter.api.bingads.microsoft.com",
            "https://login.microsoftonline.com/common/oauth2/v2.0/token",
            "https://ads.microsoft.com/msads.manage offline_access",
        ),
        (
            "sandbox",
            "https://clientcenter.api.sandbox.bingads.microsoft.com",
            "https://login.microsoftonline.com/common/oauth2/v2.0/token",
            "https://si.ads.microsoft.com/msads.manage offline_access",
        ),
    ],
)
def test_environments_use_their_hosts_and_scopes(environment: str, base: str, token_url: str, scope: str) -> None:
    recorder = Recorder()
    provider = build(config(OAUTH, environment=environment), recorder)
    assert isinstance(provider, MsAdsProvider)
    assert (provider.name, provider.type) == ("msads-prod", "msads")
    read_once(provider)
    assert recorder.urls() == [token_url, base + SEARCH]
    form = parse_qs(recorder.requests[0].content.decode())
    assert form["scope"] == [scope]
    assert form["client_id"] == ["client-id-1"]
    assert form["refresh_token"] == [ENV["MSADS_REFRESH"]]
    assert form["client_secret"] == [ENV["MSADS_CLIENT_SECRET"]]
    api = recorder.requests[1]
    assert api.headers["Authorization"] == "Bearer fresh-AT"
    assert api.headers["DeveloperToken"] == ENV["MSADS_DEV"]
    assert api.headers["User-Agent"].startswith("couponctl/")


def test_tenant_option_changes_the_token_url() -> None:
    recorder = Recorder()
    read_once(build(config(OAUTH, options={"oauth": {"tenant": "contoso.onmicrosoft.com"}}), recorder))
    assert recorder.urls()[0] == "https://login.microsoftonline.com/contoso.onmicrosoft.com/oauth2/v2.0/token"


def test_static_access_token_needs_no_token_endpoint() -> None:
    recorder = Recorder()
    read_once(build(config(STATIC), recorder))
    assert recorder.urls() == ["https://clientcenter.api.bingads.microsoft.com" + SEARCH]
    assert recorder.requests[0].headers["Authorization"] == f"Bearer {ENV['MSADS_TOKEN']}"


def test_endpoint_overrides_the_base_and_token_urls() -> None:
    recorder = Recorder()
    read_once(build(config(OAUTH, endpoint="http://127.0.0.1:8080/"), recorder))
    assert recorder.urls() == ["http://127.0.0.1:8080/oauth2/v2.0/token", "http://127.0.0.1:8080" + SEARCH]


def test_token_url_option_wins() -> None:
    recorder = Recorder()
    options = {"oauth.tokenUrl": "https://login.example/t/oauth2/v2.0/token"}
    read_once(build(config(OAUTH, endpoint="http://127.0.0.1:8080", options=options), recorder))
    assert recorder.urls()[0] == "https://login.example/t/oauth2/v2.0/token"


def test_customer_options_become_headers() -> None:
    recorder = Recorder()
    read_once(build(config(STATIC, options={"customerId": 251186883, "customerAccountId": "180535609"}), recorder))
    headers = recorder.requests[0].headers
    assert (headers["CustomerId"], headers["CustomerAccountId"]) == ("251186883", "180535609")


def test_batch_size_options() -> None:
    provider = build(config(STATIC, options={"distributeBatchSize": 10, "dispatchBatchSize": 250}), Recorder())
    sizes = [len(b.items) for b in provider.batches(SPEC, [*accounts(range(1, 26)), *emails(600)])]
    assert sizes == [10, 10, 5, 250, 250, 100]


def test_missing_environment_variables_are_named_never_valued() -> None:
    environ = {"MSADS_DEV": "dev-SECRET-value-1"}
    with pytest.raises(ConfigError) as caught:
        build(config({**STATIC, "oauth.refreshToken": "MSADS_REFRESH"}), Recorder(), environ)
    text = str(caught.value)
    assert "MSADS_TOKEN" in text and "MSADS_REFRESH" in text
    assert "providers.msads-prod.credentials.accessToken" in text
    assert "dev-SECRET-value-1" not in text
    assert len(caught.value.problems) == 2


def test_an_empty_variable_counts_as_missing() -> None:
    with pytest.raises(ConfigError, match="MSADS_TOKEN"):
        build(config(STATIC), Recorder(), {**ENV, "MSADS_TOKEN": ""})


@pytest.mark.parametrize(
    ("credentials", "message"),
    [
        ({"accessToken": "MSADS_TOKEN"}, "developer token is required"),
        ({"developerToken": "MSADS_DEV"}, "accessToken or oauth.refreshToken"),
        ({"developerToken": "MSADS_DEV", "oauth.refreshToken": "MSADS_REFRESH"}, "needs oauth.clientId"),
    ],
)
def test_incomplete_credentials(credentials: Mapping[str, str], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        build(config(credentials), Recorder())


@pytest.mark.parametrize(
    ("options", "field"),
    [
        ({"dispatchBatchSize": 1001}, "options.dispatchBatchSize"),
        ({"distributeBatchSize": 0}, "options.distributeBatchSize"),
        ({"concurrency": "many"}, "options.concurrency"),
        ({"timeoutSeconds": 0}, "options.timeoutSeconds"),
        ({"customerId": "abc"}, "options.customerId"),
    ],
)
def test_bad_options_are_config_errors(options: Mapping[str, object], field: str) -> None:
    with pytest.raises(ConfigError, match=field):
        build(config(STATIC, options=options), Recorder())


def test_option_and_credential_problems_are_reported_together() -> None:
    with pytest.raises(ConfigError) as caught:
        build(config(STATIC, options={"dispatchBatchSize": 5000}), Recorder(), {})
    assert len(caught.value.problems) == 3


def test_unknown_type_and_environment() -> None:
    with pytest.raises(ConfigError, match="unknown provider type"):
        build(config(STATIC, type_="paypal"), Recorder())
    with pytest.raises(ConfigError, match="unknown environment"):
        build(config(STATIC, environment="staging"), Recorder())


# --- local: the embedded sandbox ------------------------------------------------------------------------


@dataclass
class Embedded:
    calls: list[tuple[str, Path, Path | None]] = field(default_factory=list)
    recorder: Recorder = field(default_factory=Recorder)


@pytest.fixture
def embedded(monkeypatch: pytest.MonkeyPatch) -> Embedded:
    """A stand-in for reconciler.sandbox.embedded that records how it was called."""
    fake = Embedded()
    calls, recorder = fake.calls, fake.recorder
    module = types.ModuleType("reconciler.sandbox.embedded")

    def embedded_transport(database: Path, seed: Path | None, *, faults: object = None) -> httpx.AsyncBaseTransport:
        calls.append(("transport", database, seed))
        return httpx.MockTransport(recorder)

    def sandbox_credentials(database: Path, seed: Path | None) -> dict[str, str]:
        calls.append(("credentials", database, seed))
        return {"developerToken": "sandbox-dev", "accessToken": "sandbox-at"}

    module.embedded_transport = embedded_transport  # type: ignore[attr-defined]
    module.sandbox_credentials = sandbox_credentials  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "reconciler.sandbox.embedded", module)
    return fake


def test_local_uses_the_embedded_sandbox_and_its_credentials(embedded: Embedded) -> None:
    provider = build_provider(config({}, environment="local"), SANDBOX, {})
    read_once(provider)
    assert embedded.calls == [
        ("credentials", SANDBOX.database, SANDBOX.seed),
        ("transport", SANDBOX.database, SANDBOX.seed),
    ]
    (request,) = embedded.recorder.requests
    assert str(request.url) == "http://sandbox.local" + SEARCH
    assert request.headers["Authorization"] == "Bearer sandbox-at"
    assert request.headers["DeveloperToken"] == "sandbox-dev"
    assert json.loads(request.content)["PageInfo"] == {"Index": 0, "Size": 100}


def test_local_with_configured_credentials_does_not_ask_the_sandbox(embedded: Embedded) -> None:
    recorder = Recorder()
    read_once(build(config(OAUTH, environment="local"), recorder))
    assert embedded.calls == []
    assert recorder.urls() == ["http://sandbox.local/oauth2/v2.0/token", "http://sandbox.local" + SEARCH]


def test_local_with_a_missing_variable_is_an_error(embedded: Embedded) -> None:
    with pytest.raises(ConfigError, match="MSADS_DEV"):
        build(config(STATIC, environment="local"), Recorder(), {})
    assert embedded.calls == []


# --- read and write credentials -------------------------------------------------------------------------

WRITE_ENV = {**ENV, "MSADS_WRITE_REFRESH": "rt-WRITE-value-5"}


def with_write(cfg: ProviderConfig, write: Mapping[str, str]) -> ProviderConfig:
    return replace(cfg, write_credentials={key: SecretRef(name) for key, name in write.items()})


def refresh_token_sent(recorder: Recorder) -> str:
    token_calls = [r for r in recorder.requests if r.url.path.endswith("/oauth2/v2.0/token")]
    return parse_qs(token_calls[0].content.decode())["refresh_token"][0]


def test_read_only_commands_use_the_read_credentials_even_when_write_ones_are_unset() -> None:
    recorder = Recorder()
    cfg = with_write(config(OAUTH), {"oauth.refreshToken": "MSADS_WRITE_REFRESH"})
    read_once(build(cfg, recorder, ENV))  # MSADS_WRITE_REFRESH is not set: not needed to read
    assert refresh_token_sent(recorder) == "rt-SECRET-value-4"


def test_apply_uses_the_write_credentials() -> None:
    recorder = Recorder()
    cfg = with_write(config(OAUTH), {"oauth.refreshToken": "MSADS_WRITE_REFRESH"})
    provider = build_provider(cfg, SANDBOX, WRITE_ENV, transport=httpx.MockTransport(recorder), write=True)
    read_once(provider)
    assert refresh_token_sent(recorder) == "rt-WRITE-value-5"


def test_apply_without_write_credentials_refuses_and_names_what_is_missing() -> None:
    with pytest.raises(ConfigError, match=r"providers\.msads-prod\.write") as caught:
        build_provider(config(OAUTH), SANDBOX, ENV, transport=httpx.MockTransport(Recorder()), write=True)
    assert "apply needs write credentials" in str(caught.value)
    cfg = with_write(config(OAUTH), {"oauth.refreshToken": "MSADS_WRITE_REFRESH"})
    with pytest.raises(ConfigError, match="MSADS_WRITE_REFRESH is not set") as unset:
        build_provider(cfg, SANDBOX, ENV, transport=httpx.MockTransport(Recorder()), write=True)
    assert "rt-" not in str(unset.value)


def _writing(read: Mapping[str, str], write: Mapping[str, str]) -> ProviderConfig:
    refs = {key: SecretRef(name) for key, name in write.items()}
    return for_writing(replace(config(read), write_credentials=refs))


def test_a_write_refresh_token_never_starts_with_the_read_users_access_token() -> None:
    """Read as one user (a static access token), write as another (a refresh token): apply's first call carries
    a token refreshed for the writer, never the reader's access token."""
    env = {**ENV, "WRITER_REFRESH": "writer-rt-SECRET"}
    recorder = Recorder()
    read_once(build(_writing({**STATIC, **OAUTH}, {"oauth.refreshToken": "WRITER_REFRESH"}), recorder, env))
    token_calls = [r for r in recorder.requests if r.url.path.endswith("/oauth2/v2.0/token")]
    assert len(token_calls) == 1 and b"writer-rt-SECRET" in token_calls[0].content
    search = [r for r in recorder.requests if r.url.path == SEARCH]
    assert search[0].headers["Authorization"] == "Bearer fresh-AT"


def test_a_write_access_token_never_falls_back_to_the_read_users_refresh_token() -> None:
    """Once the writer's access token expires, apply fails; it never goes on as the reader (its refresh token)."""
    env = {**ENV, "WRITER_TOKEN": "writer-at-SECRET"}
    written = _writing(OAUTH, {"accessToken": "WRITER_TOKEN"})
    assert "oauth.refreshToken" not in written.credentials
    recorder = Recorder()
    read_once(build(written, recorder, env))
    assert not [r for r in recorder.requests if r.url.path.endswith("/oauth2/v2.0/token")]
    assert recorder.requests[0].headers["Authorization"] == "Bearer writer-at-SECRET"


def test_the_applications_keys_are_shared_with_a_write_user() -> None:
    written = _writing(OAUTH, {"oauth.refreshToken": "WRITER_REFRESH"})
    assert {key: ref.env_name for key, ref in written.credentials.items()} == {
        **OAUTH,
        "oauth.refreshToken": "WRITER_REFRESH",
    }


@pytest.mark.parametrize(
    ("read", "write"),
    [
        (STATIC, {"oauth.clientId": "MSADS_CLIENT", "oauth.clientSecret": "MSADS_CLIENT_SECRET"}),
        (OAUTH, {"developerToken": "MSADS_DEV"}),
    ],
)
def test_a_write_block_that_names_no_user_is_refused_never_issuing_as_the_reader(
    read: Mapping[str, str], write: Mapping[str, str]
) -> None:
    refs = {key: SecretRef(name) for key, name in write.items()}
    with pytest.raises(ConfigError) as refused:
        for_writing(replace(config(read), write_credentials=refs))
    (problem,) = refused.value.problems
    assert problem.field == "providers.msads-prod.write"
    assert "accessToken or oauth.refreshToken" in problem.message


class RefusesRefresh(Recorder):
    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        return httpx.Response(400, json={"error": "invalid_grant", "error_description": "AADSTS700082: expired."})


def test_a_refused_refresh_token_names_the_secret_to_renew_read_or_write() -> None:
    """Microsoft identity platform: refresh tokens expire (90 days) or are revoked; the error says which secret,
    as ``${env:NAME}``, needs a new one: the write one for apply."""
    cfg = with_write(config(OAUTH), {"oauth.refreshToken": "MSADS_WRITE_REFRESH"})
    for write, named in ((False, "${env:MSADS_REFRESH}"), (True, "${env:MSADS_WRITE_REFRESH}")):
        transport = httpx.MockTransport(RefusesRefresh())
        provider = build_provider(cfg, SANDBOX, WRITE_ENV, transport=transport, write=write)
        with pytest.raises(AuthError) as caught:
            read_once(provider)
        assert f"store it in the secret behind {named}" in str(caught.value) and "sign in again" in str(caught.value)
        assert "rt-SECRET-value-4" not in str(caught.value) and "rt-WRITE-value-5" not in str(caught.value)
