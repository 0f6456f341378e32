"""Where a provider sends its credentials. A pull request can change ``endpoint:`` and ``oauth.tokenUrl``, so
credentials go only to the vendor's documented hosts over https, or to loopback (a served sandbox); any other URL
needs the provider's ``allowUnlistedEndpoint: true``, and every plan shows where each provider connects, loudly
when it is not a documented host. A saved plan records it, and apply refuses to send write credentials anywhere
the reviewed plan did not show.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import urlsplit

from reconciler.config_model import ProviderConfig

# The hosts the vendors document (shared API notes: msads 1.1 Hosts and the OAuth token endpoints; aliyun's
# endpoint map). Nothing else receives credentials unless a provider says allowUnlistedEndpoint: true.
DOCUMENTED_HOSTS: dict[str, frozenset[str]] = {
    "msads": frozenset(
        {
            "clientcenter.api.bingads.microsoft.com",
            "clientcenter.api.sandbox.bingads.microsoft.com",
            "login.microsoftonline.com",
            "login.windows-ppe.net",
        }
    ),
    "aliyun": frozenset({"resellertrade.aliyuncs.com"}),
}
MSADS_BASE = {
    "production": "https://clientcenter.api.bingads.microsoft.com",
    "sandbox": "https://clientcenter.api.sandbox.bingads.microsoft.com",
}
ALIYUN_BASE = {"production": "https://resellertrade.aliyuncs.com"}
LOGIN_HOST = "https://login.microsoftonline.com"
IN_PROCESS = "in-process sandbox"
ALLOW_KEY = "allowUnlistedEndpoint"
ALLOWED_HOSTS_ENV = "COUPONCTL_ALLOWED_HOSTS"


@dataclass(frozen=True, slots=True)
class Connection:
    """One URL a provider sends credentials to: its API or its token endpoint (``role``), and ``option``, the
    config key that set it (None for the environment's default)."""

    provider: str
    role: str
    url: str
    option: str | None

    @property
    def listed(self) -> bool:
        """A documented vendor host over https, loopback, or the in-process sandbox."""
        return self.url == IN_PROCESS or is_loopback(self.url) or _documented(self.url, self.vendor)

    @property
    def vendor(self) -> str:
        return self.role.split(":", 1)[0]


def is_loopback(url: str) -> bool:
    host = urlsplit(url).hostname or ""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _documented(url: str, vendor: str) -> bool:
    parts = urlsplit(url)
    return parts.scheme == "https" and (parts.hostname or "") in DOCUMENTED_HOSTS.get(vendor, frozenset())


def connections(config: ProviderConfig) -> tuple[Connection, ...]:
    """Where the provider of ``config`` connects: its API, and for msads its OAuth token endpoint."""
    name, endpoint = config.name, config.endpoint
    if config.type == "msads":
        base = endpoint or MSADS_BASE.get(config.environment)
        if base is None:  # environment local, no endpoint: the embedded sandbox, no network at all
            return (Connection(name, "msads:api", IN_PROCESS, None),)
        given = config.option("oauth.tokenUrl")
        tenant = config.option("oauth.tenant") or "common"
        if isinstance(given, str):
            token = given
        elif endpoint is None:
            token = f"{LOGIN_HOST}/{tenant}/oauth2/v2.0/token"
        else:
            token = f"{base.rstrip('/')}/oauth2/v2.0/token"
        return (
            Connection(name, "msads:api", base.rstrip("/"), "endpoint" if endpoint else None),
            Connection(name, "msads:token", token, "oauth.tokenUrl" if isinstance(given, str) else None),
        )
    base = endpoint or ALIYUN_BASE.get(config.environment)
    if base is None:
        return (Connection(name, f"{config.type}:api", IN_PROCESS, None),)
    return (Connection(name, f"{config.type}:api", base.rstrip("/"), "endpoint" if endpoint else None),)


def allows_unlisted(config: ProviderConfig) -> bool:
    return config.option(ALLOW_KEY) is True


def allowed_hosts(environ: Mapping[str, str]) -> frozenset[str]:
    """The hosts the operator allows beyond the documented ones: COUPONCTL_ALLOWED_HOSTS, comma or space separated.
    It lives in the jobs' environment, which a pull request's edit of couponctl.yaml cannot change."""
    return frozenset(
        h.strip().lower().rstrip(".") for h in re.split(r"[,\s]+", environ.get(ALLOWED_HOSTS_ENV, "")) if h
    )


def unlisted(config: ProviderConfig, environ: Mapping[str, str]) -> list[Connection]:
    """The connections of ``config`` that go to neither a documented host nor loopback and are not allowed: an
    unlisted host needs both the provider's allowUnlistedEndpoint: true (the reviewer sees it in the diff, every
    plan flags it) and the host in COUPONCTL_ALLOWED_HOSTS (the operator's say, beyond a pull request's reach)."""
    hosts = allowed_hosts(environ) if allows_unlisted(config) else frozenset()
    return [c for c in connections(config) if not c.listed and _host(c.url) not in hosts]


def _host(url: str) -> str:
    return (urlsplit(url).hostname or "").lower().rstrip(".")
