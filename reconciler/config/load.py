"""couponctl.yaml: load, check (schema and credential rules) and resolve paths, offline.

Credentials are ``${env:NAME}`` references, kept as SecretRef and resolved only when a provider is
built; so a config is checked for which credentials it *names*, never for what the environment holds.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import replace
from decimal import Decimal
from pathlib import Path
from typing import Any, cast
from urllib.parse import urlsplit

from reconciler.config.containment import escapes, outside_reason
from reconciler.config.model import CONFIG_FILE, Config, Policy, ProviderConfig, SandboxConfig, Verify
from reconciler.config.policies import load_policies
from reconciler.config.redaction import query_passwords
from reconciler.config.secrets import SecretRef
from reconciler.errors import ConfigError, InputError, Problem
from reconciler.governance.config import governance_config
from reconciler.governance.rules import rule_problems
from reconciler.manifest.discover import normalized
from reconciler.manifest.loader import Document, MiB, decode_utf8, parse_yaml, read_bytes
from reconciler.manifest.schema import config_validator, schema_problems
from reconciler.notify.config import notify_config
from reconciler.providers.endpoints import ALLOW_KEY, ALLOWED_HOSTS_ENV, unlisted
from reconciler.providers.local import fault_spec_problems
from reconciler.providers.registry import find, vendor
from reconciler.render.terminal import visible

MAX_CONFIG_BYTES = 1 * MiB
DEFAULT_MANIFESTS = ("manifests/",)
DEFAULT_STATE_DIR = ".couponctl"
DEFAULT_PLAN_TTL_SECONDS = 24 * 3600
DEFAULT_IN_DOUBT_WINDOW_SECONDS = 60
DEFAULT_LOCK_LEASE_SECONDS = 60
DEFAULT_ISSUE_CONCURRENCY = 4
#: A provider with an endpoint may leave its environment out: a real endpoint, so real credentials.
DEFAULT_ENVIRONMENT = "production"

_ENV_REF = re.compile(r"\$\{env:([A-Za-z_][A-Za-z0-9_]*)\}")
_DURATION = re.compile(r"([1-9][0-9]*)([smhd]?)")
_UNITS = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400}
_NOT_OPTIONS = frozenset({"type", "environment", "endpoint", "write"})


def load_config(directory: Path) -> Config:
    """Read ``<directory>/couponctl.yaml``; raise ConfigError with every problem at once.

    Problems are reported as ``couponctl.yaml:line:col: field: message`` and never quote a value.
    """
    root = directory.resolve()
    path = root / CONFIG_FILE
    if not path.is_file():
        raise ConfigError([Problem(str(directory / CONFIG_FILE), 0, 0, "", "not found")])
    outside = escapes(root, path)  # a committed symlink to a file elsewhere is not the project's config
    if outside is not None:
        raise ConfigError([Problem(CONFIG_FILE, 0, 0, "", outside)])
    try:
        text = decode_utf8(read_bytes(path, CONFIG_FILE, max_bytes=MAX_CONFIG_BYTES, what=CONFIG_FILE), CONFIG_FILE)
    except InputError as exc:
        raise ConfigError(exc.problems) from None
    loaded = parse_yaml(text, CONFIG_FILE)
    if loaded.problems:
        raise ConfigError(loaded.problems)
    if len(loaded.documents) > 1:
        line, column = loaded.documents[1].start
        raise ConfigError([Problem(CONFIG_FILE, line, column, "", "must hold a single YAML document")])
    document = loaded.documents[0] if loaded.documents else Document(CONFIG_FILE, (1, 1), {}, {}, {})
    problems = (
        schema_problems(config_validator(), document)
        + credential_problems(document)
        + fault_problems(document)
        + journal_problems(document)
        + path_problems(document, root)
    )
    if problems:
        raise ConfigError(sorted(problems, key=lambda p: (p.line, p.column, p.field, p.message)))
    policies = load_policies(root, document)
    if policies.problems:
        raise ConfigError(sorted(policies.problems, key=lambda p: (p.file, p.line, p.column, p.field, p.message)))
    governance, problems = governance_config(document, policies.rules)
    problems += rule_problems(governance.rules, {CONFIG_FILE: text, **policies.sources})
    notify, notify_problems = notify_config(document)
    problems += notify_problems
    if problems:
        raise ConfigError(sorted(problems, key=lambda p: (p.file, p.line, p.column, p.field, p.message)))
    config = replace(_build(root, path, cast(dict[str, Any], document.data)), governance=governance, notify=notify)
    problems = endpoint_problems(document, config)
    if problems:
        raise ConfigError(problems)
    return config


def endpoint_problems(document: Document, config: Config) -> list[Problem]:
    """Credentials go only to the vendor's documented hosts over https, or to loopback, unless the provider says
    allowUnlistedEndpoint: true (reconciler.providers.endpoints)."""
    problems = []
    for name, provider in sorted(config.providers.items()):
        fields: set[tuple[str, ...]] = set()
        descriptor = vendor(provider.type)
        for connection in unlisted(descriptor.connections(provider), provider, os.environ):
            # A token URL derived from the endpoint is the endpoint's host: one problem, at the endpoint.
            field: tuple[str, ...] = ("providers", name, *(connection.option or "endpoint").split("."))
            if field in fields:
                continue
            fields.add(field)
            hosts = ", ".join(sorted(descriptor.documented_hosts))
            message = (
                f"{visible(connection.url)} is neither a documented {provider.type} host over https ({hosts}) nor "
                "loopback, and the provider's credentials would be sent there: refused. If it is meant (a proxy, a "
                f"private sandbox), set providers.{name}.{ALLOW_KEY}: true (every plan then flags it) and list the "
                f"host in {ALLOWED_HOSTS_ENV} in the environment of the jobs that may reach it (the operator's "
                "setting: a pull request cannot change it)"
            )
            problems.append(document.problem(field, message))
    return problems


def parse_duration(value: int | str) -> int:
    """Seconds from an int, or a string of digits with an optional s, m, h or d suffix."""
    if isinstance(value, int):
        return value
    match = _DURATION.fullmatch(value)
    if not match:
        raise ValueError(f"not a duration: {value!r}")
    return int(match.group(1)) * _UNITS[match.group(2)]


def fault_problems(document: Document) -> list[Problem]:
    """Each ``sandbox.faults`` entry must be a valid ENDPOINT:KIND=VALUE spec (checked by the embedded sandbox's
    own parser, loaded only when there are faults to check)."""
    sandbox = document.data.get("sandbox") if isinstance(document.data, dict) else None
    faults = sandbox.get("faults") if isinstance(sandbox, dict) else None
    if not isinstance(faults, list):
        return []
    problems: list[Problem] = []
    for index, spec in enumerate(faults):
        if not isinstance(spec, str):
            continue  # the schema reports it
        problems += [document.problem(("sandbox", "faults", index), m) for m in fault_spec_problems(spec)]
    return problems


def credential_problems(document: Document) -> list[Problem]:
    """Outside environment local, each provider must name the credentials its type needs (its descriptor's rules;
    a type no vendor has is the schema's to report)."""
    providers = document.data.get("providers") if isinstance(document.data, dict) else None
    if not isinstance(providers, dict):
        return []
    problems: list[Problem] = []
    for name, block in providers.items():
        descriptor = find(block.get("type")) if isinstance(block, dict) else None
        environment = block.get("environment", DEFAULT_ENVIRONMENT) if isinstance(block, dict) else None
        if descriptor is not None and environment in ("sandbox", "production"):
            problems.extend(descriptor.credentials.check(document, ("providers", name), block, str(environment)))
    return problems


def _build(root: Path, path: Path, data: Mapping[str, Any]) -> Config:
    state_dir = normalized(root, data.get("stateDir", DEFAULT_STATE_DIR))
    sandbox = data.get("sandbox", {})
    journal = data.get("journal")
    policy = data.get("policy", {})
    return Config(
        path=path,
        root=root,
        manifests=tuple(data.get("manifests", DEFAULT_MANIFESTS)),
        providers={name: _provider(name, block) for name, block in data["providers"].items()},
        state_dir=state_dir,
        journal=_journal(root, state_dir, journal),
        sandbox=SandboxConfig(
            seed=normalized(root, sandbox["seed"]) if "seed" in sandbox else None,
            database=_sandbox_database(root, state_dir, sandbox.get("database")),
            faults=tuple(sandbox.get("faults", ())),
            fault_seed=sandbox.get("faultSeed", 0),
        ),
        policy=Policy(
            max_items=policy.get("maxItems"),
            max_amount={currency: Decimal(limit) for currency, limit in policy.get("maxAmount", {}).items()},
            max_inventory_share=_decimal_or_none(policy.get("maxInventoryShare")),
        ),
        plan_ttl_seconds=parse_duration(data.get("planTTL", DEFAULT_PLAN_TTL_SECONDS)),
        in_doubt_window_seconds=float(parse_duration(data.get("inDoubtWindow", DEFAULT_IN_DOUBT_WINDOW_SECONDS))),
        canary_size=data.get("canarySize", 0),
        verify=Verify(data.get("verify", Verify.NEEDED.value)),
        issue_concurrency=data.get("issueConcurrency", DEFAULT_ISSUE_CONCURRENCY),
        lock_lease_seconds=float(parse_duration(data.get("lockLease", DEFAULT_LOCK_LEASE_SECONDS))),
        mask_key=_secret_ref(data["maskKey"]) if "maskKey" in data else None,
        journal_in_checkout=bool(data.get("journalInCheckout", False)),
    )


def _sandbox_database(root: Path, state_dir: Path, given: str | None) -> Path:
    """The simulated vendor's store: a project path, or ``${env:NAME}`` naming one outside it (a store several
    projects share is the operator's choice, never the repository's)."""
    if given is None:
        return state_dir / "sandbox.sqlite"
    match = _ENV_REF.fullmatch(given.strip())
    if match is None:
        return normalized(root, given)
    value = os.environ.get(match.group(1), "")
    if not os.path.isabs(value):
        raise ConfigError(
            [Problem(CONFIG_FILE, 0, 0, "sandbox.database", f"{given}: the variable must hold an absolute path")]
        )
    return Path(value)


def glob_prefix(pattern: str) -> str:
    """The part of a glob pattern before its first wildcard component (``manifests/*/x.yaml`` -> ``manifests``)."""
    parts = []
    for part in Path(pattern).parts:
        if any(c in part for c in "*?["):
            break
        parts.append(part)
    return str(Path(*parts)) if parts else "."


def _decimal_or_none(value: int | Decimal | None) -> Decimal | None:
    return None if value is None else Decimal(value)


def _journal(root: Path, state_dir: Path, journal: str | None) -> str:
    """A path relative to this file; a URL or a ``${env:NAME}`` reference is kept as given."""
    if journal is None:
        return str(state_dir / "journal.sqlite")
    if "://" in journal or _ENV_REF.fullmatch(journal.strip()):
        return journal.strip()
    return str(normalized(root, journal))


def path_problems(document: Document, root: Path) -> list[Problem]:
    """Every file and directory the config names, and the default ones under the state directory (which may be a
    committed symlink), lies inside the project (containment.py); a glob of ``manifests`` or ``policyFiles`` may
    not start outside it nor climb with '..', and what it matches is checked as it is expanded. A journal or sandbox
    database given as ``${env:NAME}`` is the operator's, not the repository's, and may lie elsewhere (a persistent
    disk, a store several projects share)."""
    data: dict[str, Any] = document.data if isinstance(document.data, dict) else {}
    given_dir = data.get("stateDir")
    state_dir = given_dir if isinstance(given_dir, str) else DEFAULT_STATE_DIR
    named: list[tuple[tuple[str | int, ...], object]] = [(("stateDir",), state_dir)]
    given_sandbox = data.get("sandbox")
    sandbox: dict[str, Any] = given_sandbox if isinstance(given_sandbox, dict) else {}
    named.append((("sandbox", "seed"), sandbox.get("seed")))
    database = sandbox.get("database", f"{state_dir}/sandbox.sqlite")
    if isinstance(database, str) and not _ENV_REF.fullmatch(database.strip()):
        named.append((("sandbox", "database"), database))
    journal = data.get("journal", f"{state_dir}/journal.sqlite")
    if isinstance(journal, str) and "://" not in journal and not _ENV_REF.fullmatch(journal.strip()):
        named.append((("journal",), journal))
    for key in ("manifests", "policyFiles"):
        entries = data.get(key)
        if isinstance(entries, list):
            named += [((key, index), entry) for index, entry in enumerate(entries)]
    problems = []
    for path, value in named:
        if isinstance(value, str) and value:
            is_glob = path[0] in ("manifests", "policyFiles") and any(c in value for c in "*?[")
            if is_glob and ".." in Path(value).parts:
                problems.append(_path_problem(document, path, "a pattern may not climb out with '..': refused"))
                continue
            reason = outside_reason(root, glob_prefix(value) if is_glob else value)
            if reason is not None:
                problems.append(_path_problem(document, path, reason))
    return problems


def _path_problem(document: Document, path: tuple[str | int, ...], reason: str) -> Problem:
    """Located at the key when the file names it; a default location (under the state directory, which may be a
    committed symlink) at the nearest key there is, and said to be the default."""
    given = path in document.positions  # the loader records a position for every node the file holds
    return document.problem(path, reason if given else f"{reason} (its default location)")


def _has_query_password(url: str) -> bool:
    return bool(query_passwords(url))


def journal_problems(document: Document) -> list[Problem]:
    """A journal URL must not carry a password in the file: it belongs in an environment variable."""
    journal = document.data.get("journal") if isinstance(document.data, dict) else None
    if (
        isinstance(journal, str)
        and "://" in journal
        and (urlsplit(journal).password is not None or _has_query_password(journal))
    ):
        message = "a journal URL with a password must come from the environment: journal: ${env:NAME}"
        return [document.problem(("journal",), message)]
    return []


def _flatten(block: Mapping[str, Any]) -> dict[str, Any]:
    """``oauth: {clientId: ...}`` as ``oauth.clientId``; the keys that are not options left out."""
    flat: dict[str, Any] = {}
    for key, value in block.items():
        if isinstance(value, Mapping) and key not in _NOT_OPTIONS:
            flat.update({f"{key}.{k}": v for k, v in value.items()})
        elif key not in _NOT_OPTIONS:
            flat[key] = value
    return flat


def _provider(name: str, block: Mapping[str, Any]) -> ProviderConfig:
    descriptor = vendor(block["type"])
    keys = frozenset(descriptor.credentials.keys)
    flat = _flatten(block)
    credentials = {key: _secret_ref(value) for key, value in flat.items() if key in keys}
    options = {
        key: _option(value, digits=key in descriptor.digit_options) for key, value in flat.items() if key not in keys
    }
    write = {key: _secret_ref(value) for key, value in _flatten(block.get("write", {})).items()}
    return ProviderConfig(
        name=name,
        type=block["type"],
        environment=block.get("environment", DEFAULT_ENVIRONMENT),
        endpoint=block.get("endpoint"),
        credentials=credentials,
        options=options,
        write_credentials=write,
    )


def _secret_ref(value: str) -> SecretRef:
    match = _ENV_REF.fullmatch(value)
    if match is None:  # the schema refuses this first; never echo the value
        raise ConfigError([Problem(CONFIG_FILE, 0, 0, "", "credentials must be ${env:NAME} references, not literals")])
    return SecretRef(match.group(1))


def _option(value: object, *, digits: bool) -> object:
    if digits:
        return str(int(str(value)))
    return float(value) if isinstance(value, Decimal) else value
