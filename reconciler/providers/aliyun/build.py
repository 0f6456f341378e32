"""Building the aliyun provider from its couponctl.yaml block: its one host, its tuning options, and its AccessKey
(in ``local``, the sandbox's first seeded one)."""

from __future__ import annotations

from collections.abc import Mapping

import httpx

from reconciler.config.model import ProviderConfig, SandboxConfig
from reconciler.config.secrets import Secret, SecretRef
from reconciler.errors import ConfigError, Problem
from reconciler.providers.aliyun.provider import (
    DEFAULT_FROM_APP,
    DEFAULT_SEND_BATCH_SIZE,
    MAX_SEND_BATCH_SIZE,
    SIGNATURES,
    AliyunProvider,
    AliyunSettings,
)
from reconciler.providers.http import build_client, limiter_for
from reconciler.providers.local import LOCAL_BASE_URL, LocalSandbox
from reconciler.providers.options import USER_AGENT, Options, config_error, http_options, problem, resolve
from reconciler.signing.acs import AcsCredentials

# ResellerTrade has one host for every region and no vendor sandbox (notes section 0); aliyun's endpoint map.
DOCUMENTED_HOSTS = frozenset({"resellertrade.aliyuncs.com"})
BASE_URLS = {"production": "https://resellertrade.aliyuncs.com"}
ENVIRONMENTS: Mapping[str, str] = {**BASE_URLS, "local": LOCAL_BASE_URL}
CREDENTIAL_KEYS = ("accessKeyId", "accessKeySecret", "securityToken")


def for_writing(read: Mapping[str, SecretRef], write: Mapping[str, SecretRef]) -> dict[str, SecretRef]:
    """The write credentials over the read ones; an AccessKey and its STS token are one identity: a write AccessKey
    never takes the read token."""
    credentials = {**read, **write}
    if "accessKeyId" in write:
        credentials = {k: v for k, v in credentials.items() if k != "securityToken" or k in write}
    return credentials


def sandbox_credentials(sandbox: SandboxConfig) -> Mapping[str, str]:
    """The sandbox store's first seeded AccessKey (and its STS token, if it has one)."""
    from reconciler.sandbox.embedded import aliyun_sandbox_credentials

    return aliyun_sandbox_credentials(sandbox.database, sandbox.seed)


LOCAL = LocalSandbox(credentials=sandbox_credentials)


def build(
    config: ProviderConfig,
    sandbox: SandboxConfig,
    environ: Mapping[str, str],
    transport: httpx.AsyncBaseTransport | None,
) -> AliyunProvider:
    """The aliyun provider ``config`` describes. ``transport`` replaces the network (tests)."""
    base_url = config.endpoint or ENVIRONMENTS.get(config.environment)
    if base_url is None:
        choices = ", ".join(ENVIRONMENTS)
        message = f"ResellerTrade has no {config.environment!r} environment ({choices}; or give an endpoint)"
        raise config_error(config, "environment", message)
    options = Options(config)
    http, read_retry, issue_retry = http_options(options)
    signature = options.text("signature") or "v3"
    if signature not in SIGNATURES:
        options.problems.append(problem(config, "options.signature", f"must be one of: {', '.join(SIGNATURES)}"))
        signature = "v3"
    settings = AliyunSettings(
        signature=signature,
        send_batch_size=options.integer(
            "sendBatchSize", DEFAULT_SEND_BATCH_SIZE, minimum=1, maximum=MAX_SEND_BATCH_SIZE
        ),
        from_app=options.text("fromApp") or DEFAULT_FROM_APP,
        bid=_bid(options),
        operator=options.text("operator"),
        read_window=http.concurrency,
        read_retry=read_retry,
        issue_retry=issue_retry,
    )
    credentials = _credentials(config, sandbox, environ, options.problems)
    if credentials is None or options.problems:
        raise ConfigError(options.problems)
    transport = LOCAL.wire(config, sandbox, transport)
    client = build_client(base_url=base_url.rstrip("/"), user_agent=USER_AGENT, settings=http, transport=transport)
    return AliyunProvider(
        name=config.name, client=client, credentials=credentials, limiter=limiter_for(http), settings=settings
    )


def _bid(options: Options) -> int | None:
    """``bid``: SendCoupon's ``Bid``, a Long in the SDK's model (sent as its decimal digits)."""
    text = options.identifier("bid")
    if text is None:
        return None
    if int(text) >= 2**63:
        options.bad("bid", "must be at most 9223372036854775807 (a Long)")
        return None
    return int(text)


def _credentials(
    config: ProviderConfig, sandbox: SandboxConfig, environ: Mapping[str, str], problems: list[Problem]
) -> AcsCredentials | None:
    """The AccessKey (and STS token) from the environment; in ``local``, the sandbox's first seeded AccessKey
    when none is configured. Problems (a variable named, never a value) are added to ``problems``: then None."""
    values, unset = resolve(config, CREDENTIAL_KEYS, environ)
    if not unset and config.environment == "local" and not any(values.values()):
        values = {key: Secret(value) for key, value in LOCAL.credentials(sandbox).items()}
    key_id, secret = values.get("accessKeyId"), values.get("accessKeySecret")
    missing = unset or [
        problem(config, f"credentials.{key}", "is required")
        for key, value in (("accessKeyId", key_id), ("accessKeySecret", secret))
        if value is None
    ]
    if missing or key_id is None or secret is None:
        problems.extend(missing)
        return None
    return AcsCredentials(key_id.reveal(), secret, values.get("securityToken"))
