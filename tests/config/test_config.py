"""couponctl.yaml: defaults, paths, providers, credentials as references, and one fixture per failure mode.

tests/config/invalid/<mode>/ holds a couponctl.yaml and expected.txt, the exact problem lines.
"""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest

from reconciler.config.load import load_config, parse_duration
from reconciler.config.secrets import SecretRef
from reconciler.errors import ConfigError
from tests.support.expected import lines_match

INVALID = Path(__file__).parent / "invalid"


def write(directory: Path, text: str) -> Path:
    (directory / "couponctl.yaml").write_text(text)
    return directory


@pytest.mark.parametrize("mode", sorted(p.name for p in INVALID.iterdir() if p.is_dir()))
def test_invalid_config(mode: str) -> None:
    directory = INVALID / mode
    with pytest.raises(ConfigError) as raised:
        load_config(directory)
    expected = (directory / "expected.txt").read_text().splitlines()
    assert lines_match([str(p) for p in raised.value.problems], expected), raised.value.problems


@pytest.mark.parametrize(
    ("mode", "literals"),
    [
        ("literal-credential", ["0123ABCDsecretDEVtoken", "$ALIBABA_CLOUD_ACCESS_KEY_SECRET", "123456789"]),
        ("literal-oauth-secret", ["s3cr3t~value"]),
        ("journal-url-with-password", ["hunter2-db-pass"]),
    ],
)
def test_literal_credentials_are_never_echoed(mode: str, literals: list[str]) -> None:
    text = (INVALID / mode / "couponctl.yaml").read_text()
    with pytest.raises(ConfigError) as raised:
        load_config(INVALID / mode)
    for literal in literals:
        assert literal in text
        assert literal not in str(raised.value)


def test_a_syntax_error_next_to_a_literal_does_not_quote_the_line(tmp_path: Path) -> None:
    write(tmp_path, 'providers:\n  x:\n    developerToken: "sup3rs3cret\n')
    with pytest.raises(ConfigError) as raised:
        load_config(tmp_path)
    assert "sup3rs3cret" not in str(raised.value)


def test_missing_file_names_the_path(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as raised:
        load_config(tmp_path)
    assert str(raised.value) == f"{tmp_path / 'couponctl.yaml'}: not found"


def test_defaults(tmp_path: Path) -> None:
    config = load_config(write(tmp_path, "providers: {}\n"))
    root = tmp_path.resolve()
    assert config.path == root / "couponctl.yaml"
    assert config.root == root
    assert config.manifests == ("manifests/",)
    assert config.state_dir == root / ".couponctl"
    assert config.journal == str(root / ".couponctl" / "journal.sqlite")
    assert config.sandbox.seed is None
    assert config.sandbox.database == root / ".couponctl" / "sandbox.sqlite"
    assert config.policy.max_items is None
    assert config.policy.max_amount == {}
    assert config.plan_ttl_seconds == 24 * 3600
    assert config.policy.max_inventory_share is None
    assert config.in_doubt_window_seconds == 60.0
    assert config.canary_size == 0
    assert config.providers == {}


def test_paths_are_relative_to_the_config_file(tmp_path: Path) -> None:
    text = """\
manifests: [teams/, "extra/*.yaml"]
stateDir: state
journal: shared/../journals/journal.sqlite
sandbox: {seed: seeds/sandbox.yaml, database: db/sandbox.sqlite}
providers: {}
"""
    config = load_config(write(tmp_path, text))
    root = tmp_path.resolve()
    assert config.manifests == ("teams/", "extra/*.yaml")
    assert config.state_dir == root / "state"
    assert config.journal == str(root / "journals" / "journal.sqlite")
    assert config.sandbox.seed == root / "seeds" / "sandbox.yaml"
    assert config.sandbox.database == root / "db" / "sandbox.sqlite"


def test_state_dir_moves_the_default_journal_and_sandbox_database(tmp_path: Path) -> None:
    config = load_config(write(tmp_path, "stateDir: .state\nproviders: {}\n"))
    assert config.journal == str(tmp_path.resolve() / ".state" / "journal.sqlite")
    assert config.sandbox.database == tmp_path.resolve() / ".state" / "sandbox.sqlite"


def test_journal_url_is_kept_as_given(tmp_path: Path) -> None:
    config = load_config(write(tmp_path, "journal: postgresql://ci@db/couponctl\nproviders: {}\n"))
    assert config.journal == "postgresql://ci@db/couponctl"


def test_policy(tmp_path: Path) -> None:
    config = load_config(
        write(tmp_path, "policy: {maxItems: 1000, maxAmount: {USD: 50000, CNY: 0.5}}\nproviders: {}\n")
    )
    assert config.policy.max_items == 1000
    assert config.policy.max_amount == {"USD": Decimal(50000), "CNY": Decimal("0.5")}


def test_apply_settings(tmp_path: Path) -> None:
    text = "policy: {maxInventoryShare: 0.25}\ncanarySize: 5\ninDoubtWindow: 2m\nproviders: {}\n"
    config = load_config(write(tmp_path, text))
    assert config.policy.max_inventory_share == Decimal("0.25")
    assert config.canary_size == 5
    assert config.in_doubt_window_seconds == 120.0


@pytest.mark.parametrize(
    ("value", "seconds"),
    [("3600", 3600), ("90s", 90), ("30m", 1800), ("24h", 86400), ("7d", 604800), ("'45'", 45)],
)
def test_plan_ttl(tmp_path: Path, value: str, seconds: int) -> None:
    assert load_config(write(tmp_path, f"planTTL: {value}\nproviders: {{}}\n")).plan_ttl_seconds == seconds


@pytest.mark.parametrize("value", ["0", "1.5h", "h", "24 h", "-1d", "1w"])
def test_parse_duration_refuses_what_the_schema_refuses(value: str) -> None:
    with pytest.raises(ValueError, match="not a duration"):
        parse_duration(value)


MSADS = """\
providers:
  msads-prod:
    type: msads
    environment: production
    endpoint: https://127.0.0.1:8443/billing
    developerToken: ${env:MSADS_DEVELOPER_TOKEN}
    oauth:
      clientId: ${env:MSADS_CLIENT_ID}
      clientSecret: ${env:MSADS_CLIENT_SECRET}
      refreshToken: ${env:MSADS_REFRESH_TOKEN}
      tenant: common
    customerId: 251186883
    customerAccountId: "180535609"
    distributeBatchSize: 100
    dispatchBatchSize: 1000
    concurrency: 4
    timeoutSeconds: 2.5
"""


def test_msads_provider_credentials_and_options(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("MSADS_DEVELOPER_TOKEN", "MSADS_CLIENT_ID", "MSADS_CLIENT_SECRET", "MSADS_REFRESH_TOKEN"):
        monkeypatch.delenv(name, raising=False)  # checked as named in config, not resolved
    provider = load_config(write(tmp_path, MSADS)).providers["msads-prod"]
    assert (provider.name, provider.type, provider.environment) == ("msads-prod", "msads", "production")
    assert provider.endpoint == "https://127.0.0.1:8443/billing"
    assert provider.credentials == {
        "developerToken": SecretRef("MSADS_DEVELOPER_TOKEN"),
        "oauth.clientId": SecretRef("MSADS_CLIENT_ID"),
        "oauth.clientSecret": SecretRef("MSADS_CLIENT_SECRET"),
        "oauth.refreshToken": SecretRef("MSADS_REFRESH_TOKEN"),
    }
    assert provider.options == {
        "oauth.tenant": "common",
        "customerId": "251186883",
        "customerAccountId": "180535609",
        "distributeBatchSize": 100,
        "dispatchBatchSize": 1000,
        "concurrency": 4,
        "timeoutSeconds": 2.5,
    }


def test_msads_access_token_instead_of_oauth(tmp_path: Path) -> None:
    text = """\
providers:
  m:
    type: msads
    environment: sandbox
    developerToken: ${env:D}
    accessToken: ${env:A}
"""
    assert load_config(write(tmp_path, text)).providers["m"].credentials == {
        "developerToken": SecretRef("D"),
        "accessToken": SecretRef("A"),
    }


def test_aliyun_provider(tmp_path: Path) -> None:
    text = """\
providers:
  reseller:
    type: aliyun
    environment: production
    accessKeyId: ${env:ALIBABA_CLOUD_ACCESS_KEY_ID}
    accessKeySecret: ${env:ALIBABA_CLOUD_ACCESS_KEY_SECRET}
    securityToken: ${env:ALIBABA_CLOUD_SECURITY_TOKEN}
    signature: v1
    sendBatchSize: 50
"""
    provider = load_config(write(tmp_path, text)).providers["reseller"]
    assert provider.credentials == {
        "accessKeyId": SecretRef("ALIBABA_CLOUD_ACCESS_KEY_ID"),
        "accessKeySecret": SecretRef("ALIBABA_CLOUD_ACCESS_KEY_SECRET"),
        "securityToken": SecretRef("ALIBABA_CLOUD_SECURITY_TOKEN"),
    }
    assert provider.options == {"signature": "v1", "sendBatchSize": 50}
    assert provider.endpoint is None


@pytest.mark.parametrize("kind", ["msads", "aliyun"])
def test_local_environment_needs_no_credentials(tmp_path: Path, kind: str) -> None:
    text = f"providers:\n  p: {{type: {kind}, environment: local, endpoint: 'http://127.0.0.1:8080'}}\n"
    provider = load_config(write(tmp_path, text)).providers["p"]
    assert provider.credentials == {}
    assert provider.endpoint == "http://127.0.0.1:8080"


def test_examples_config_loads() -> None:
    config = load_config(Path(__file__).resolve().parents[2] / "examples")
    assert set(config.providers) == {"msads-local", "aliyun-local"}
    assert config.sandbox.seed == config.root / "sandbox-seed.yaml"


def test_a_journal_url_from_the_environment_is_kept_as_a_reference(tmp_path: Path) -> None:
    (tmp_path / "couponctl.yaml").write_text(
        "journal: ${env:COUPONCTL_JOURNAL_URL}\nproviders:\n  p:\n    type: msads\n    environment: local\n"
    )
    assert load_config(tmp_path).journal == "${env:COUPONCTL_JOURNAL_URL}"


def test_write_credentials_are_kept_apart_from_the_read_ones(tmp_path: Path) -> None:
    (tmp_path / "couponctl.yaml").write_text(
        "providers:\n  p:\n    type: msads\n    environment: production\n"
        "    developerToken: ${env:DEV}\n    oauth:\n      clientId: ${env:CID}\n      refreshToken: ${env:READ_RT}\n"
        "    write:\n      oauth:\n        refreshToken: ${env:WRITE_RT}\n"
    )
    provider = load_config(tmp_path).providers["p"]
    assert provider.credentials["oauth.refreshToken"] == SecretRef("READ_RT")
    assert provider.write_credentials == {"oauth.refreshToken": SecretRef("WRITE_RT")}
    assert "write" not in provider.options


def test_a_literal_in_the_write_block_is_refused_and_not_echoed(tmp_path: Path) -> None:
    (tmp_path / "couponctl.yaml").write_text(
        "providers:\n  p:\n    type: aliyun\n    environment: production\n"
        "    accessKeyId: ${env:AK}\n    accessKeySecret: ${env:SK}\n"
        "    write:\n      accessKeyId: ${env:WAK}\n      accessKeySecret: LTAIliteralSecretValue\n"
    )
    with pytest.raises(ConfigError) as raised:
        load_config(tmp_path)
    assert "providers.p.write.accessKeySecret" in str(raised.value)
    assert "LTAIliteralSecretValue" not in str(raised.value)


def test_the_environment_may_be_left_out_when_an_endpoint_is_given(tmp_path: Path) -> None:
    (tmp_path / "couponctl.yaml").write_text(
        "providers:\n  reseller:\n    type: aliyun\n    endpoint: http://127.0.0.1:8765\n"
        "    accessKeyId: ${env:AK}\n    accessKeySecret: ${env:SK}\n"
    )
    assert load_config(tmp_path).providers["reseller"].environment == "production"
    (tmp_path / "couponctl.yaml").write_text("providers:\n  reseller:\n    type: aliyun\n")
    with pytest.raises(ConfigError, match="environment"):
        load_config(tmp_path)
