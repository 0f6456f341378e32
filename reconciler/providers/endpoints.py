"""Where a provider sends its credentials. A pull request can change ``endpoint:`` and ``oauth.tokenUrl``, so
credentials go only to the vendor's documented hosts over https, or to loopback (a served sandbox); any other URL
needs the provider's ``allowUnlistedEndpoint: true``, and every plan shows where each provider connects, loudly
when it is not a documented host. A saved plan records it, and apply refuses to send write credentials anywhere
the reviewed plan did not show. Each vendor's hosts and connections are its descriptor's
(reconciler.providers.descriptor).
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from reconciler.config.model import ProviderConfig

IN_PROCESS = "in-process sandbox"
ALLOW_KEY = "allowUnlistedEndpoint"
ALLOWED_HOSTS_ENV = "COUPONCTL_ALLOWED_HOSTS"


@dataclass(frozen=True, slots=True)
class Connection:
    """One URL a provider sends credentials to: its API or its token endpoint (``role``), and ``option``, the
    config key that set it (None for the environment's default). ``documented``: the hosts its vendor documents
    (its descriptor's), the only ones it may reach over https without being flagged."""

    provider: str
    role: str
    url: str
    option: str | None
    documented: frozenset[str] = field(default=frozenset(), repr=False, compare=False)

    @property
    def listed(self) -> bool:
        """A documented vendor host over https, loopback, or the in-process sandbox."""
        return self.url == IN_PROCESS or is_loopback(self.url) or _documented(self.url, self.documented)


def is_loopback(url: str) -> bool:
    host = urlsplit(url).hostname or ""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _documented(url: str, hosts: frozenset[str]) -> bool:
    parts = urlsplit(url)
    return parts.scheme == "https" and (parts.hostname or "") in hosts


def api_connections(
    config: ProviderConfig, base_urls: Mapping[str, str], documented: frozenset[str]
) -> tuple[Connection, ...]:
    """Where a provider with one API and no token endpoint connects: ``endpoint``, else its environment's base
    URL (``base_urls``), else (environment local) the in-process sandbox."""
    name, endpoint = config.name, config.endpoint
    base = endpoint or base_urls.get(config.environment)
    if base is None:
        return (Connection(name, f"{config.type}:api", IN_PROCESS, None, documented),)
    option = "endpoint" if endpoint else None
    return (Connection(name, f"{config.type}:api", base.rstrip("/"), option, documented),)


def allows_unlisted(config: ProviderConfig) -> bool:
    return config.option(ALLOW_KEY) is True


def allowed_hosts(environ: Mapping[str, str]) -> frozenset[str]:
    """The hosts the operator allows beyond the documented ones: COUPONCTL_ALLOWED_HOSTS, comma or space separated.
    It lives in the jobs' environment, which a pull request's edit of couponctl.yaml cannot change."""
    return frozenset(
        h.strip().lower().rstrip(".") for h in re.split(r"[,\s]+", environ.get(ALLOWED_HOSTS_ENV, "")) if h
    )


def unlisted(connections: Iterable[Connection], config: ProviderConfig, environ: Mapping[str, str]) -> list[Connection]:
    """The ``connections`` of ``config`` that go to neither a documented host nor loopback and are not allowed: an
    unlisted host needs both the provider's allowUnlistedEndpoint: true (the reviewer sees it in the diff, every
    plan flags it) and the host in COUPONCTL_ALLOWED_HOSTS (the operator's say, beyond a pull request's reach)."""
    hosts = allowed_hosts(environ) if allows_unlisted(config) else frozenset()
    return [c for c in connections if not c.listed and _host(c.url) not in hosts]


def _host(url: str) -> str:
    return (urlsplit(url).hostname or "").lower().rstrip(".")
