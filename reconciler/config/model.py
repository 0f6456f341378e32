"""couponctl.yaml as frozen values (loading and validation live in reconciler.config.load)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from enum import StrEnum
from pathlib import Path

from reconciler.config.secrets import SecretRef
from reconciler.governance.model import GovernanceConfig
from reconciler.notify.model import Destination

CONFIG_FILE = "couponctl.yaml"  # the project's configuration, at the project's root


@dataclass(frozen=True)
class ProviderConfig:
    """One provider block.

    ``environment`` is ``local`` (the embedded sandbox), ``sandbox`` or ``production`` (vendor hosts).
    ``endpoint`` overrides the base URL (e.g. a ``couponctl sandbox serve``).
    ``credentials`` maps a credential name (those its type's descriptor lists, flat: ``oauth.clientId``) to its
    ``${env:NAME}`` reference: the read credentials. ``write_credentials`` (the ``write:`` block, same keys)
    replace them for apply only. ``options`` holds the remaining tuning keys (batch sizes, concurrency,
    timeouts) as given.
    """

    name: str
    type: str
    environment: str
    endpoint: str | None
    credentials: Mapping[str, SecretRef]
    options: Mapping[str, object] = field(default_factory=dict)
    write_credentials: Mapping[str, SecretRef] = field(default_factory=dict)

    def option(self, key: str) -> object:
        """The option ``key`` as given, written flat (``oauth.tokenUrl``) or nested (``oauth: {tokenUrl: ...}``)."""
        if key in self.options:
            return self.options[key]
        head, _, rest = key.partition(".")
        nested = self.options.get(head)
        return nested.get(rest) if rest and isinstance(nested, Mapping) else None


@dataclass(frozen=True)
class SandboxConfig:
    """The embedded sandbox used by providers in environment ``local``."""

    seed: Path | None
    database: Path
    faults: tuple[str, ...] = ()
    fault_seed: int = 0


@dataclass(frozen=True)
class Policy:
    """Limits per apply: at most ``max_items`` coupons, ``max_amount[currency]`` money, and at most
    ``max_inventory_share`` (0..1) of a class's remaining coupons."""

    max_items: int | None = None
    max_amount: Mapping[str, Decimal] = field(default_factory=dict)
    max_inventory_share: Decimal | None = None


class Verify(StrEnum):
    """``verify``: what apply reads back after issuing (docs/safety.md, After apply)."""

    NEEDED = "needed"  # only the scopes whose in-doubt items need a read; answered items stay ISSUED_UNCONFIRMED
    FULL = "full"  # every scope issued in, read again: each item CONFIRMED or ISSUED_NOT_YET_VISIBLE


@dataclass(frozen=True)
class Config:
    """The whole of couponctl.yaml, paths resolved against the directory that holds it."""

    path: Path
    root: Path
    manifests: tuple[str, ...]
    providers: Mapping[str, ProviderConfig]
    state_dir: Path
    journal: str
    sandbox: SandboxConfig
    policy: Policy = field(default_factory=Policy)
    governance: GovernanceConfig = field(default_factory=GovernanceConfig)
    plan_ttl_seconds: int = 24 * 3600
    in_doubt_window_seconds: float = 60.0
    canary_size: int = 0
    verify: Verify = Verify.NEEDED
    lock_lease_seconds: float = 60.0
    issue_concurrency: int = 4
    mask_key: SecretRef | None = None
    journal_in_checkout: bool = False
    """``journalInCheckout``: a journal file inside the checkout is known to outlive CI runs."""
    """``maskKey``: the secret that keys the digests beside masked emails in Markdown (reconciler.plan.masking)."""
    notify: tuple[Destination, ...] = ()
    """``notify``: where apply and drift send notifications (reconciler.notify)."""
