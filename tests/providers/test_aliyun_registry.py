"""Building the aliyun provider from config: hosts per environment, AccessKeys from the environment or the sandbox
seed, options (signature, sendBatchSize, fromApp), the embedded sandbox with its faults."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from dataclasses import replace
from pathlib import Path

import httpx
import pytest

from reconciler.config.load import load_config
from reconciler.config.model import ProviderConfig, SandboxConfig
from reconciler.config.secrets import SecretRef
from reconciler.errors import AuthError, ConfigError
from reconciler.providers.adaptive import AdaptiveLimiter
from reconciler.providers.aliyun.provider import AliyunProvider
from reconciler.providers.base import BatchResult, Outcome, Provider
from reconciler.providers.http import FixedLimiter
from reconciler.providers.registry import build_provider, for_writing
from reconciler.state.desired import Target
from reconciler.state.live import ScopeLive
from tests.support.aliyun_fakes import SPEC, Pages, Script, form, sent, uids, v1_valid, v3_valid
from tests.support.provider_calls import read_scope_once

ENV = {
    "ALIBABA_CLOUD_ACCESS_KEY_ID": "LTAI-from-env",
    "ALIBABA_CLOUD_ACCESS_KEY_SECRET": "secret-SECRET-from-env",
    "ALIBABA_CLOUD_SECURITY_TOKEN": "sts-SECRET-from-env",
}
KEYS = {"accessKeyId": "ALIBABA_CLOUD_ACCESS_KEY_ID", "accessKeySecret": "ALIBABA_CLOUD_ACCESS_KEY_SECRET"}
SEED = """
aliyun:
  accessKeys: [{id: seeded-ak, secret: seeded-secret}]
  sellers:
    - id: 3944837183
      users: [1, 2, 3]
      templates: [{id: 295873, amount: 100}]
"""


def config(
    credentials: Mapping[str, str] = KEYS,
    *,
    environment: str = "production",
    endpoint: str | None = None,
    options: Mapping[str, object] | None = None,
) -> ProviderConfig:
    refs = {key: SecretRef(name) for key, name in credentials.items()}
    return ProviderConfig("aliyun-prod", "aliyun", environment, endpoint, refs, options or {})


def sandbox(tmp_path: Path, *faults: str) -> SandboxConfig:
    seed = tmp_path / "seed.yaml"
    seed.write_text(SEED)
    return SandboxConfig(seed=seed, database=tmp_path / "sandbox.sqlite", faults=faults)


def build(cfg: ProviderConfig, handler: Pages | Script, environ: Mapping[str, str] = ENV) -> Provider:
    box = SandboxConfig(seed=None, database=Path("unused.sqlite"))
    return build_provider(cfg, box, environ, transport=httpx.MockTransport(handler))


def read(provider: Provider) -> ScopeLive:
    return read_scope_once(provider, SPEC)


def issue(provider: Provider, *values: int) -> BatchResult:
    async def run() -> BatchResult:
        try:
            (batch,) = provider.batches(SPEC, uids(*values))
            return await provider.issue(SPEC, batch)
        finally:
            await provider.aclose()

    return asyncio.run(run())


def test_production_calls_the_resellertrade_host_with_the_environments_access_key() -> None:
    pages = Pages([])
    provider = build(config(), pages)
    assert isinstance(provider, AliyunProvider) and provider.type == "aliyun"
    read(provider)
    request = pages.requests[0]
    assert request.url.host == "resellertrade.aliyuncs.com" and request.url.scheme == "https"
    assert "Credential=LTAI-from-env," in request.headers["Authorization"]
    assert v3_valid(request, "secret-SECRET-from-env")


def test_an_sts_token_and_v1_from_config() -> None:
    pages = Pages([])
    credentials = {**KEYS, "securityToken": "ALIBABA_CLOUD_SECURITY_TOKEN"}
    read(build(config(credentials, options={"signature": "v1"}), pages))
    request = pages.requests[0]
    assert request.url.params["SecurityToken"] == "sts-SECRET-from-env"
    assert v1_valid(request, "secret-SECRET-from-env")


def test_an_endpoint_replaces_the_host() -> None:
    pages = Pages([])
    read(build(config(environment="sandbox", endpoint="http://127.0.0.1:8765/"), pages))
    assert str(pages.requests[0].url).startswith("http://127.0.0.1:8765/?")


def test_there_is_no_vendor_sandbox_without_an_endpoint() -> None:
    with pytest.raises(ConfigError, match=r"providers\.aliyun-prod\.environment: ResellerTrade has no 'sandbox'"):
        build(config(environment="sandbox"), Pages([]))


def test_bid_and_operator_reach_send_coupon() -> None:
    """Seed 003's example sends bid and operator: ``bid`` and ``operator`` in couponctl.yaml become SendCoupon's
    ``Bid`` and ``Operator``; GetCouponPage, whose SDK model has neither, does not send them."""
    script = Script(sent("1"))
    issue(build(config(options={"bid": "26842", "operator": "ops-7"}), script), 1)
    (request,) = script.requests
    body = form(request)
    assert (body["Bid"], body["Operator"]) == ("26842", "ops-7")
    pages = Pages([])
    read(build(config(options={"bid": 26842, "operator": "ops-7"}), pages))
    assert "Bid" not in pages.requests[0].url.params and "Operator" not in pages.requests[0].url.params


def test_options_reach_the_provider() -> None:
    provider = build(config(options={"sendBatchSize": 2, "fromApp": "channel-team"}), Pages([]))
    assert [len(b.items) for b in provider.batches(SPEC, uids(1, 2, 3))] == [2, 1]
    pages = Pages([])
    read(build(config(options={"fromApp": "channel-team"}), pages))
    assert pages.requests[0].url.params["FromApp"] == "channel-team"


@pytest.mark.parametrize(
    ("options", "field"),
    [
        ({"signature": "v2"}, "options.signature"),
        ({"sendBatchSize": 0}, "options.sendBatchSize"),
        ({"sendBatchSize": 1001}, "options.sendBatchSize"),
        ({"fromApp": ""}, "options.fromApp"),
        ({"bid": "26842x"}, "options.bid"),
        ({"bid": 2**63}, "options.bid"),
        ({"operator": ""}, "options.operator"),
        ({"concurrency": 0}, "options.concurrency"),
        ({"adaptive": "yes"}, "options.adaptive"),
    ],
)
def test_bad_options_are_config_errors(options: Mapping[str, object], field: str) -> None:
    with pytest.raises(ConfigError, match=field):
        build(config(options=options), Pages([]))


@pytest.mark.parametrize(("options", "kind"), [({}, AdaptiveLimiter), ({"adaptive": False}, FixedLimiter)])
def test_the_limiter_is_adaptive_unless_the_option_turns_it_off(options: Mapping[str, object], kind: type) -> None:
    built = build(config(options=options), Pages([]))
    assert isinstance(built, AliyunProvider)
    assert isinstance(built._limiter, kind)
    asyncio.run(built.aclose())


def test_an_unset_variable_is_named_and_no_value_is_shown() -> None:
    with pytest.raises(ConfigError) as caught:
        build(config(), Pages([]), {"ALIBABA_CLOUD_ACCESS_KEY_ID": "LTAI-from-env"})
    text = str(caught.value)
    assert "credentials.accessKeySecret: environment variable ALIBABA_CLOUD_ACCESS_KEY_SECRET is not set" in text
    assert "LTAI-from-env" not in text


def test_credentials_are_required_outside_local() -> None:
    with pytest.raises(ConfigError) as caught:
        build(config({}), Pages([]))
    assert [p.field for p in caught.value.problems] == [
        "providers.aliyun-prod.credentials.accessKeyId",
        "providers.aliyun-prod.credentials.accessKeySecret",
    ]


# --- local: the embedded sandbox ------------------------------------------------------------------------


def test_local_uses_the_embedded_sandbox_and_its_seeded_access_key(tmp_path: Path) -> None:
    box = sandbox(tmp_path)
    assert issue(build_provider(config({}, environment="local"), box, {}), 1).results[0].outcome is Outcome.ISSUED
    live = read(build_provider(config({}, environment="local"), box, {}))
    assert [c.status for c in live.issued[Target.uid(1)]] == ["AVAILABLE"]


def test_local_with_configured_credentials_uses_them(tmp_path: Path) -> None:
    provider = build_provider(config(environment="local"), sandbox(tmp_path), ENV)
    with pytest.raises(AuthError, match=r"InvalidAccessKeyId\.NotFound"):
        read(provider)


def test_local_passes_the_sandbox_faults(tmp_path: Path) -> None:
    provider = build_provider(config({}, environment="local"), sandbox(tmp_path, "send:error-500=1"), {})
    result = issue(provider, 1)
    assert result.results[0].outcome is Outcome.IN_DOUBT and result.results[0].code == "InternalError"


def test_couponctl_yaml_accepts_every_option_the_registry_reads(tmp_path: Path) -> None:
    (tmp_path / "couponctl.yaml").write_text(
        """\
providers:
  reseller:
    type: aliyun
    environment: production
    accessKeyId: ${env:ALIBABA_CLOUD_ACCESS_KEY_ID}
    accessKeySecret: ${env:ALIBABA_CLOUD_ACCESS_KEY_SECRET}
    signature: v1
    sendBatchSize: 20
    fromApp: channel-team
    bid: 26842
    operator: ops-7
    concurrency: 2
    timeoutSeconds: 30
    connectTimeoutSeconds: 5
    requestsPerSecond: 3
    readAttempts: 4
    issueThrottleAttempts: 2
    retryBaseDelaySeconds: 1
    retryMaxDelaySeconds: 10
    maxRetryAfterSeconds: 60
"""
    )
    provider = load_config(tmp_path).providers["reseller"]
    built = build_provider(provider, SandboxConfig(None, tmp_path / "s.sqlite"), ENV)
    assert isinstance(built, AliyunProvider)
    assert [len(b.items) for b in built.batches(SPEC, uids(*range(1, 26)))] == [20, 5]
    asyncio.run(built.aclose())


def test_a_write_access_key_does_not_take_the_read_sts_token() -> None:
    read_sts = {**KEYS, "securityToken": "ALIBABA_CLOUD_SECURITY_TOKEN"}
    env = {**ENV, "WRITE_ID": "LTAI-writer", "WRITE_SECRET": "writer-SECRET", "WRITE_TOKEN": "writer-token"}

    def written(write: Mapping[str, str]) -> httpx.Request:
        refs = {key: SecretRef(name) for key, name in write.items()}
        cfg = replace(config(read_sts), write_credentials=refs)
        script = Pages([])
        read(build(for_writing(cfg), script, env))
        return script.requests[0]

    permanent = written({"accessKeyId": "WRITE_ID", "accessKeySecret": "WRITE_SECRET"})
    assert "x-acs-security-token" not in permanent.headers and v3_valid(permanent, "writer-SECRET")
    sts = written({"accessKeyId": "WRITE_ID", "accessKeySecret": "WRITE_SECRET", "securityToken": "WRITE_TOKEN"})
    assert sts.headers["x-acs-security-token"] == "writer-token"
    reading = Pages([])
    read(build(config(read_sts), reading, env))
    assert reading.requests[0].headers["x-acs-security-token"] == "sts-SECRET-from-env"


def test_a_write_block_without_an_access_key_id_is_refused() -> None:
    """A write secret or token alone would sign as the read AccessKey: apply refuses instead."""
    refs = {"accessKeySecret": SecretRef("WRITE_SECRET")}
    with pytest.raises(ConfigError) as refused:
        for_writing(replace(config(KEYS), write_credentials=refs))
    assert "accessKeyId" in refused.value.problems[0].message
