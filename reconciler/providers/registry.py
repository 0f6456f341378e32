"""Build providers from couponctl.yaml: hosts per environment, credentials from the environment, options.

Options may be written flat (``oauth.tokenUrl: ...``) or nested (``oauth: {tokenUrl: ...}``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace

import httpx

from reconciler import __version__
from reconciler.config_model import ProviderConfig, SandboxConfig
from reconciler.errors import ConfigError, Problem
from reconciler.providers.aliyun.provider import (
    DEFAULT_FROM_APP,
    DEFAULT_SEND_BATCH_SIZE,
    MAX_SEND_BATCH_SIZE,
    SIGNATURES,
    AliyunProvider,
    AliyunSettings,
)
from reconciler.providers.base import Provider
from reconciler.providers.endpoints import ALIYUN_BASE, MSADS_BASE, connections
from reconciler.providers.http import HttpSettings, RetryPolicy, build_client, limiter_for
from reconciler.providers.msads.provider import MsAdsProvider, MsAdsSettings
from reconciler.providers.msads.wire import MAX_DISPATCH_EMAILS
from reconciler.providers.oauth import OAuthClient, RefreshTokenFlow, StaticToken, TokenSource
from reconciler.secrets import Secret
from reconciler.signing.acs import AcsCredentials

CONFIG_FILE = "couponctl.yaml"
USER_AGENT = f"couponctl/{__version__}"
DEFAULT_CONCURRENCY = 8
LOCAL_BASE_URL = "http://sandbox.local"
CREDENTIAL_KEYS = ("developerToken", "accessToken", "oauth.clientId", "oauth.clientSecret", "oauth.refreshToken")
ALIYUN_CREDENTIAL_KEYS = ("accessKeyId", "accessKeySecret", "securityToken")
# ResellerTrade has one host for every region and no vendor sandbox (notes section 0).
ALIYUN_ENVIRONMENTS: Mapping[str, str] = {**ALIYUN_BASE, "local": LOCAL_BASE_URL}


@dataclass(frozen=True, slots=True)
class Environment:
    base_url: str
    scope: str


MSADS_ENVIRONMENTS: Mapping[str, Environment] = {
    "production": Environment(MSADS_BASE["production"], "https://ads.microsoft.com/msads.manage offline_access"),
    "sandbox": Environment(MSADS_BASE["sandbox"], "https://si.ads.microsoft.com/msads.manage offline_access"),
    "local": Environment(LOCAL_BASE_URL, "https://ads.microsoft.com/msads.manage offline_access"),
}


def build_provider(
    config: ProviderConfig,
    sandbox: SandboxConfig,
    environ: Mapping[str, str],
    *,
    transport: httpx.AsyncBaseTransport | None = None,
    write: bool = False,
) -> Provider:
    """The provider ``config`` describes. ``transport`` replaces the network (tests).

    With ``write`` (apply) the ``write:`` credentials replace the read ones; read-only commands never look
    at them, so their environment variables need not even be set there.
    """
    config = for_writing(config) if write else config
    if config.type == "msads":
        return _build_msads(config, sandbox, environ, transport)
    if config.type == "aliyun":
        return _build_aliyun(config, sandbox, environ, transport)
    raise _config_error(config, "type", f"unknown provider type {config.type!r} (expected msads or aliyun)")


def for_writing(config: ProviderConfig) -> ProviderConfig:
    """The provider with its write credentials; outside environment ``local`` they must be configured."""
    if not config.write_credentials and config.environment != "local":
        raise _config_error(
            config,
            "write",
            "apply needs write credentials: add a write: block with the credentials that may issue "
            "(msads: oauth.refreshToken or accessToken; aliyun: accessKeyId and accessKeySecret), as "
            "${env:NAME}; plan, drift and export use only the read ones",
        )
    credentials = {**config.credentials, **config.write_credentials}
    if config.type == "aliyun" and "accessKeyId" in config.write_credentials:
        # An AccessKey and its STS token are one identity: a write AccessKey never takes the read token.
        credentials = {k: v for k, v in credentials.items() if k != "securityToken" or k in config.write_credentials}
    return replace(config, credentials=credentials)


def _build_msads(
    config: ProviderConfig,
    sandbox: SandboxConfig,
    environ: Mapping[str, str],
    transport: httpx.AsyncBaseTransport | None,
) -> MsAdsProvider:
    environment = MSADS_ENVIRONMENTS.get(config.environment)
    if environment is None:
        choices = ", ".join(MSADS_ENVIRONMENTS)
        raise _config_error(config, "environment", f"unknown environment {config.environment!r} ({choices})")
    options = _Options(config)
    in_process = config.environment == "local" and config.endpoint is None
    settings, http = _read_options(options)
    creds = _credentials(config, sandbox, environ, options.problems)
    if creds is None or options.problems:
        raise ConfigError(options.problems)

    # The URLs the plan shows (providers/endpoints.py): the only places these credentials are sent.
    urls = {c.role: c.url for c in connections(config)}
    base_url = environment.base_url if in_process else urls["msads:api"]
    if in_process and transport is None:
        transport = _sandbox_transport(sandbox)
    token_url = urls.get("msads:token") or f"{base_url}/oauth2/v2.0/token"

    client = build_client(base_url=base_url, user_agent=USER_AGENT, settings=http, transport=transport)
    tokens: TokenSource
    if creds.refresh_token is not None and creds.client_id is not None:
        oauth = OAuthClient(token_url, creds.client_id, environment.scope, creds.client_secret)
        tokens = RefreshTokenFlow(oauth, creds.refresh_token, client, provider=config.name, initial=creds.access_token)
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


def _sandbox_transport(sandbox: SandboxConfig) -> httpx.AsyncBaseTransport:
    """The embedded sandbox (environment ``local``), with the faults couponctl.yaml asks for."""
    from reconciler.sandbox.embedded import embedded_transport
    from reconciler.sandbox.faults import FaultPlan

    faults = FaultPlan.parse(sandbox.faults, seed=sandbox.fault_seed) if sandbox.faults else None
    return embedded_transport(sandbox.database, sandbox.seed, faults=faults)


def _build_aliyun(
    config: ProviderConfig,
    sandbox: SandboxConfig,
    environ: Mapping[str, str],
    transport: httpx.AsyncBaseTransport | None,
) -> AliyunProvider:
    base_url = config.endpoint or ALIYUN_ENVIRONMENTS.get(config.environment)
    if base_url is None:
        choices = ", ".join(ALIYUN_ENVIRONMENTS)
        message = f"ResellerTrade has no {config.environment!r} environment ({choices}; or give an endpoint)"
        raise _config_error(config, "environment", message)
    options = _Options(config)
    in_process = config.environment == "local" and config.endpoint is None
    http, read_retry, issue_retry = _http_options(options)
    signature = options.text("signature") or "v3"
    if signature not in SIGNATURES:
        options.problems.append(_problem(config, "options.signature", f"must be one of: {', '.join(SIGNATURES)}"))
        signature = "v3"
    settings = AliyunSettings(
        signature=signature,
        send_batch_size=options.integer(
            "sendBatchSize", DEFAULT_SEND_BATCH_SIZE, minimum=1, maximum=MAX_SEND_BATCH_SIZE
        ),
        from_app=options.text("fromApp") or DEFAULT_FROM_APP,
        read_window=http.concurrency,
        read_retry=read_retry,
        issue_retry=issue_retry,
    )
    credentials = _aliyun_credentials(config, sandbox, environ, options.problems)
    if credentials is None or options.problems:
        raise ConfigError(options.problems)
    if in_process and transport is None:
        transport = _sandbox_transport(sandbox)
    client = build_client(base_url=base_url.rstrip("/"), user_agent=USER_AGENT, settings=http, transport=transport)
    return AliyunProvider(
        name=config.name, client=client, credentials=credentials, limiter=limiter_for(http), settings=settings
    )


def _aliyun_credentials(
    config: ProviderConfig, sandbox: SandboxConfig, environ: Mapping[str, str], problems: list[Problem]
) -> AcsCredentials | None:
    """The AccessKey (and STS token) from the environment; in ``local``, the sandbox's first seeded AccessKey
    when none is configured. Problems (a variable named, never a value) are added to ``problems``: then None."""
    values, unset = _resolve(config, ALIYUN_CREDENTIAL_KEYS, environ)
    if not unset and config.environment == "local" and not any(values.values()):
        from reconciler.sandbox.embedded import aliyun_sandbox_credentials

        given = aliyun_sandbox_credentials(sandbox.database, sandbox.seed)
        values = {key: Secret(value) for key, value in given.items()}
    key_id, secret = values.get("accessKeyId"), values.get("accessKeySecret")
    missing = unset or [
        _problem(config, f"credentials.{key}", "is required")
        for key, value in (("accessKeyId", key_id), ("accessKeySecret", secret))
        if value is None
    ]
    if missing or key_id is None or secret is None:
        problems.extend(missing)
        return None
    return AcsCredentials(key_id.reveal(), secret, values.get("securityToken"))


def _resolve(
    config: ProviderConfig, keys: tuple[str, ...], environ: Mapping[str, str]
) -> tuple[dict[str, Secret | None], list[Problem]]:
    """Every configured ``${env:NAME}`` among ``keys``, and a problem for each variable that is not set."""
    values: dict[str, Secret | None] = {}
    unset = []
    for key in keys:
        ref = config.credentials.get(key)
        values[key] = ref.resolve(environ) if ref is not None else None
        if ref is not None and values[key] is None:
            unset.append(_problem(config, f"credentials.{key}", f"environment variable {ref.env_name} is not set"))
    return values, unset


def request_timeout_seconds(config: ProviderConfig) -> float:
    """How long one of this provider's requests may be in flight once its first byte left: its write and read
    timeouts, after which couponctl gives up on it (``timeoutSeconds``, 60 s each by default)."""
    http, _, _ = _http_options(_Options(config))
    return http.write_timeout + http.read_timeout


def _http_options(options: _Options) -> tuple[HttpSettings, RetryPolicy, RetryPolicy]:
    """Timeouts, concurrency, rate, and the read and issue retry policies, as every provider type reads them;
    No client-side rate limit unless ``requestsPerSecond`` is set: neither vendor documents one for these
    operations, and both answer a call over their limit with a throttle that proves nothing was processed
    (waited out and retried). ``concurrency`` bounds the calls in flight."""
    concurrency = options.integer("concurrency", DEFAULT_CONCURRENCY, minimum=1)
    read_retry = RetryPolicy(
        attempts=options.integer("readAttempts", 5, minimum=1),
        base_delay=options.number("retryBaseDelaySeconds", 0.5),
        max_delay=options.number("retryMaxDelaySeconds", 30.0),
        max_retry_after=options.number("maxRetryAfterSeconds", 120.0),
    )
    issue_retry = RetryPolicy(
        attempts=options.integer("issueThrottleAttempts", 3, minimum=1),
        base_delay=read_retry.base_delay,
        max_delay=read_retry.max_delay,
        max_retry_after=read_retry.max_retry_after,
    )
    timeout = options.number("timeoutSeconds", 60.0, positive=True)
    http = HttpSettings(
        connect_timeout=options.number("connectTimeoutSeconds", 10.0, positive=True),
        read_timeout=timeout,
        write_timeout=timeout,
        pool_timeout=timeout,
        concurrency=concurrency,
        requests_per_second=options.number("requestsPerSecond", 0.0),
    )
    return http, read_retry, issue_retry


def _read_options(options: _Options) -> tuple[MsAdsSettings, HttpSettings]:
    """The msads tuning options, and the HTTP ones (:func:`_http_options`). Where it connects, the token
    endpoint included, is :func:`reconciler.providers.endpoints.connections`."""
    http, read_retry, issue_retry = _http_options(options)
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
        options.text(key)  # a problem unless text; where the token endpoint is: endpoints.connections()
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
    values, unset = _resolve(config, CREDENTIAL_KEYS, environ)
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
    from reconciler.sandbox.embedded import sandbox_credentials

    given = sandbox_credentials(sandbox.database, sandbox.seed)
    for key in ("developerToken", "accessToken"):
        if values[key] is None and given.get(key):
            values[key] = Secret(given[key])


def _missing(config: ProviderConfig, values: Mapping[str, Secret | None]) -> list[Problem]:
    problems = []
    if values["developerToken"] is None:
        problems.append(_problem(config, "credentials.developerToken", "a developer token is required"))
    if values["oauth.refreshToken"] is not None and values["oauth.clientId"] is None:
        problems.append(_problem(config, "credentials.oauth.clientId", "oauth.refreshToken needs oauth.clientId"))
    if values["accessToken"] is None and values["oauth.refreshToken"] is None:
        problems.append(_problem(config, "credentials", "give accessToken or oauth.refreshToken (+ oauth.clientId)"))
    return problems


def _problem(config: ProviderConfig, field: str, message: str) -> Problem:
    return Problem(CONFIG_FILE, 0, 0, f"providers.{config.name}.{field}", message)


def _config_error(config: ProviderConfig, field: str, message: str) -> ConfigError:
    return ConfigError([_problem(config, field, message)])


class _Options:
    """Typed reads of ``config.options`` that collect every problem, raised together."""

    def __init__(self, config: ProviderConfig) -> None:
        self._config = config
        self.problems: list[Problem] = []

    def get(self, key: str) -> object:
        return self._config.option(key)

    def _bad(self, key: str, message: str) -> None:
        self.problems.append(_problem(self._config, f"options.{key}", message))

    def integer(self, key: str, default: int, *, minimum: int, maximum: int | None = None) -> int:
        value = self.get(key)
        if value is None:
            return default
        if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
            self._bad(key, f"must be an integer >= {minimum}")
            return default
        if maximum is not None and value > maximum:
            self._bad(key, f"must be at most {maximum}")
            return default
        return value

    def number(self, key: str, default: float, *, positive: bool = False) -> float:
        value = self.get(key)
        if value is None:
            return default
        if isinstance(value, bool) or not isinstance(value, int | float) or value < 0 or (positive and not value):
            self._bad(key, "must be a positive number" if positive else "must be a number >= 0")
            return default
        return float(value)

    def text(self, key: str) -> str | None:
        value = self.get(key)
        if value is None:
            return None
        if not isinstance(value, str) or not value:
            self._bad(key, "must be a non-empty string")
            return None
        return value

    def identifier(self, key: str) -> str | None:
        value = self.get(key)
        if value is None:
            return None
        text = str(value).strip()
        if isinstance(value, bool) or not text.isdigit():
            self._bad(key, "must be a numeric id")
            return None
        return text
