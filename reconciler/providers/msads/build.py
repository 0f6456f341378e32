"""Building the msads provider from its couponctl.yaml block: hosts and OAuth scopes per environment, where it
connects (API and token endpoint), its tuning options and its credentials (in ``local``, the sandbox's)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import httpx

from reconciler.config.model import ProviderConfig, SandboxConfig
from reconciler.config.secrets import Secret, SecretRef
from reconciler.errors import ConfigError, Problem
from reconciler.providers.endpoints import IN_PROCESS, Connection
from reconciler.providers.http import HttpSettings, build_client, limiter_for
from reconciler.providers.local import LOCAL_BASE_URL, LocalSandbox, in_process
from reconciler.providers.msads.provider import PROVIDER_TYPE, MsAdsProvider, MsAdsSettings
from reconciler.providers.msads.wire import MAX_DISPATCH_EMAILS
from reconciler.providers.oauth import OAuthClient, RefreshTokenFlow, StaticToken, TokenSource
from reconciler.providers.options import USER_AGENT, Options, config_error, http_options, problem, resolve

# The hosts Microsoft documents (shared API notes: msads 1.1 Hosts and the OAuth token endpoints).
DOCUMENTED_HOSTS = frozenset(
    {
        "clientcenter.api.bingads.microsoft.com",
        "clientcenter.api.sandbox.bingads.microsoft.com",
        "login.microsoftonline.com",
        "login.windows-ppe.net",
    }
)
BASE_URLS = {
    "production": "https://clientcenter.api.bingads.microsoft.com",
    "sandbox": "https://clientcenter.api.sandbox.bingads.microsoft.com",
}
LOGIN_HOST = "https://login.microsoftonline.com"
CREDENTIAL_KEYS = ("developerToken", "accessToken", "oauth.clientId", "oauth.clientSecret", "oauth.refreshToken")
#: What says who the user is: a write block naming either brings its own, never a mix with the read user's.
USER_TOKENS = ("accessToken", "oauth.refreshToken")


def for_writing(read: Mapping[str, SecretRef], write: Mapping[str, SecretRef]) -> dict[str, SecretRef]:
    """The write credentials over the read ones. A user's tokens are one identity: when the write block names an
    access or refresh token, the read user's tokens are dropped, so that apply never starts with the read user's
    access token nor falls back to its refresh token. The application's keys (developerToken, oauth.clientId,
    oauth.clientSecret) are shared unless the write block names its own."""
    credentials = {**read, **write}
    if any(key in write for key in USER_TOKENS):
        credentials = {k: v for k, v in credentials.items() if k not in USER_TOKENS or k in write}
    return credentials


API = f"{PROVIDER_TYPE}:api"
TOKEN = f"{PROVIDER_TYPE}:token"


@dataclass(frozen=True, slots=True)
class Environment:
    base_url: str
    scope: str


ENVIRONMENTS: Mapping[str, Environment] = {
    "production": Environment(BASE_URLS["production"], "https://ads.microsoft.com/msads.manage offline_access"),
    "sandbox": Environment(BASE_URLS["sandbox"], "https://si.ads.microsoft.com/msads.manage offline_access"),
    "local": Environment(LOCAL_BASE_URL, "https://ads.microsoft.com/msads.manage offline_access"),
}


def connections(config: ProviderConfig) -> tuple[Connection, ...]:
    """Where the provider connects: its API, and its OAuth token endpoint."""
    name, endpoint = config.name, config.endpoint
    base = endpoint or BASE_URLS.get(config.environment)
    if base is None:  # environment local, no endpoint: the embedded sandbox, no network at all
        return (Connection(name, API, IN_PROCESS, None, DOCUMENTED_HOSTS),)
    given = config.option("oauth.tokenUrl")
    tenant = config.option("oauth.tenant") or "common"
    if isinstance(given, str):
        token = given
    elif endpoint is None:
        token = f"{LOGIN_HOST}/{tenant}/oauth2/v2.0/token"
    else:
        token = f"{base.rstrip('/')}/oauth2/v2.0/token"
    return (
        Connection(name, API, base.rstrip("/"), "endpoint" if endpoint else None, DOCUMENTED_HOSTS),
        Connection(name, TOKEN, token, "oauth.tokenUrl" if isinstance(given, str) else None, DOCUMENTED_HOSTS),
    )


def sandbox_credentials(sandbox: SandboxConfig) -> Mapping[str, str]:
    """The sandbox store's first seeded developer token and access token."""
    from reconciler.sandbox.embedded import sandbox_credentials as seeded

    return seeded(sandbox.database, sandbox.seed)


LOCAL = LocalSandbox(credentials=sandbox_credentials)


def build(
    config: ProviderConfig,
    sandbox: SandboxConfig,
    environ: Mapping[str, str],
    transport: httpx.AsyncBaseTransport | None,
) -> MsAdsProvider:
    """The msads provider ``config`` describes. ``transport`` replaces the network (tests)."""
    environment = ENVIRONMENTS.get(config.environment)
    if environment is None:
        choices = ", ".join(ENVIRONMENTS)
        raise config_error(config, "environment", f"unknown environment {config.environment!r} ({choices})")
    options = Options(config)
    settings, http = read_options(options)
    creds = _credentials(config, sandbox, environ, options.problems)
    if creds is None or options.problems:
        raise ConfigError(options.problems)

    # The URLs the plan shows (connections above): the only places these credentials are sent.
    urls = {c.role: c.url for c in connections(config)}
    base_url = environment.base_url if in_process(config) else urls[API]
    transport = LOCAL.wire(config, sandbox, transport)
    token_url = urls.get(TOKEN) or f"{base_url}/oauth2/v2.0/token"

    client = build_client(base_url=base_url, user_agent=USER_AGENT, settings=http, transport=transport)
    tokens: TokenSource
    if creds.refresh_token is not None and creds.client_id is not None:
        oauth = OAuthClient(token_url, creds.client_id, environment.scope, creds.client_secret)
        source = str(config.credentials.get("oauth.refreshToken", ""))
        tokens = RefreshTokenFlow(
            oauth, creds.refresh_token, client, provider=config.name, initial=creds.access_token, source=source
        )
    else:
        assert creds.access_token is not None
        tokens = StaticToken(creds.access_token)
    return MsAdsProvider(
        name=config.name,
        client=client,
        developer_token=creds.developer_token,
        tokens=tokens,
        limiter=limiter_for(http),
        settings=settings,
    )


def read_options(options: Options) -> tuple[MsAdsSettings, HttpSettings]:
    """The msads tuning options, and the HTTP ones (:func:`reconciler.providers.options.http_options`). Where it
    connects, the token endpoint included, is :func:`connections`."""
    http, read_retry, issue_retry = http_options(options)
    settings = MsAdsSettings(
        customer_id=options.identifier("customerId"),
        customer_account_id=options.identifier("customerAccountId"),
        distribute_batch_size=options.integer("distributeBatchSize", 100, minimum=1),
        dispatch_batch_size=options.integer(
            "dispatchBatchSize", MAX_DISPATCH_EMAILS, minimum=1, maximum=MAX_DISPATCH_EMAILS
        ),
        search_window=options.integer("searchWindow", http.concurrency, minimum=1),
        read_retry=read_retry,
        issue_retry=issue_retry,
    )
    for key in ("oauth.tenant", "oauth.tokenUrl"):
        options.text(key)  # a problem unless text; where the token endpoint is: connections()
    return settings, http


@dataclass(frozen=True)
class _Credentials:
    developer_token: Secret
    access_token: Secret | None
    client_id: str | None
    client_secret: Secret | None
    refresh_token: Secret | None

    def __repr__(self) -> str:
        return "_Credentials(***)"


def _credentials(
    config: ProviderConfig, sandbox: SandboxConfig, environ: Mapping[str, str], problems: list[Problem]
) -> _Credentials | None:
    """Resolve every ``${env:NAME}`` reference; in ``local``, a credential not configured comes from the
    sandbox. Problems (a missing variable named, never a value) are added to ``problems``: then None."""
    values, unset = resolve(config, CREDENTIAL_KEYS, environ)
    if not unset and config.environment == "local":
        _fill_from_sandbox(values, sandbox)
    missing = unset or _missing(config, values)
    if missing:
        problems.extend(missing)
        return None
    developer_token = values["developerToken"]
    assert developer_token is not None
    client_id = values["oauth.clientId"]
    return _Credentials(
        developer_token=developer_token,
        access_token=values["accessToken"],
        client_id=None if client_id is None else client_id.reveal(),
        client_secret=values["oauth.clientSecret"],
        refresh_token=values["oauth.refreshToken"],
    )


def _fill_from_sandbox(values: dict[str, Secret | None], sandbox: SandboxConfig) -> None:
    if values["developerToken"] is not None and (values["accessToken"] or values["oauth.refreshToken"]):
        return
    given = LOCAL.credentials(sandbox)
    for key in ("developerToken", "accessToken"):
        if values[key] is None and given.get(key):
            values[key] = Secret(given[key])


def _missing(config: ProviderConfig, values: Mapping[str, Secret | None]) -> list[Problem]:
    problems = []
    if values["developerToken"] is None:
        problems.append(problem(config, "credentials.developerToken", "a developer token is required"))
    if values["oauth.refreshToken"] is not None and values["oauth.clientId"] is None:
        problems.append(problem(config, "credentials.oauth.clientId", "oauth.refreshToken needs oauth.clientId"))
    if values["accessToken"] is None and values["oauth.refreshToken"] is None:
        problems.append(problem(config, "credentials", "give accessToken or oauth.refreshToken (+ oauth.clientId)"))
    return problems
