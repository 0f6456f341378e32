"""A third vendor, defined outside couponctl's package: a toy gift shop kept in memory.

Its descriptor owns everything couponctl needs of it: the ``toy`` type, an ``apiKey`` credential, a manifest
dialect (``shop`` and ``campaign`` name the scope, ``giftTo`` lists the emails), a void status (``revoked``), the
words export writes, and a factory that builds :class:`ToyProvider` over a :class:`ToyStore`. Registered through
the public registry API, it runs through validate, plan, apply, drift and export without a change to couponctl.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import httpx

from reconciler.config.model import ProviderConfig, SandboxConfig
from reconciler.manifest.dialect import SPEC, Declared, ManifestDialect, Spec, digits, items
from reconciler.manifest.export_words import ExportedTargets, ExportWords, quote
from reconciler.plan.model import PlanItem
from reconciler.providers.base import NO_FENCE, Batch, BatchResult, Fence, ItemResult, Outcome, chunks
from reconciler.providers.descriptor import Credentials, VendorDescriptor, required
from reconciler.state.desired import Scope, ScopeSpec, Target, TargetKind
from reconciler.state.live import FaceValue, IssuedCoupon, ScopeLive

TYPE = "toy"
GIFT = "Gift"
BATCH_SIZE = 2
FACE = FaceValue(Decimal(5), "EUR", "gift card")


@dataclass
class ToyStore:
    """The vendor's state: per (shop, campaign), the coupons each email holds; every issuing call counted."""

    campaigns: set[tuple[str, str]] = field(default_factory=set)
    coupons: dict[tuple[str, str], dict[str, list[IssuedCoupon]]] = field(default_factory=dict)
    calls: list[tuple[str, str, tuple[str, ...]]] = field(default_factory=list)
    _codes: Iterator[int] = field(default_factory=lambda: itertools.count(1))

    def open(self, shop: str, campaign: str) -> None:
        self.campaigns.add((shop, campaign))
        self.coupons.setdefault((shop, campaign), {})

    def gift(self, shop: str, campaign: str, email: str, status: str = "active") -> IssuedCoupon:
        coupon = IssuedCoupon(f"TOY-{next(self._codes):08d}", status, FACE.amount, FACE.currency)
        self.coupons[(shop, campaign)].setdefault(email, []).append(coupon)
        return coupon

    def void(self, shop: str, campaign: str, email: str) -> None:
        held = self.coupons[(shop, campaign)][email]
        held[:] = [IssuedCoupon(c.code, "revoked", c.amount, c.currency) for c in held]

    def issued_count(self) -> int:
        return sum(len(held) for holders in self.coupons.values() for held in holders.values())


class ToyProvider:
    """The Provider protocol (and the Exporter capability) over a :class:`ToyStore`."""

    type = TYPE

    def __init__(self, name: str, store: ToyStore) -> None:
        self.name = name
        self.store = store

    async def read_scope(self, spec: ScopeSpec) -> ScopeLive:
        return self._live(spec.scope)

    def batches(self, spec: ScopeSpec, items: Sequence[PlanItem]) -> list[Batch]:
        return chunks(spec.scope, GIFT, items, BATCH_SIZE)

    async def issue(self, spec: ScopeSpec, batch: Batch, fence: Fence = NO_FENCE) -> BatchResult:
        await fence()
        scope = batch.scope
        emails = tuple(item.target.value for item in batch.items)
        self.store.calls.append((scope.owner, scope.coupon_class, emails))
        results = tuple(
            ItemResult(item, Outcome.ISSUED, self.store.gift(scope.owner, scope.coupon_class, item.target.value).code)
            for item in batch.items
        )
        return BatchResult(batch, results, tracking_id=f"toy-call-{len(self.store.calls)}")

    async def read_owner(self, owner: str) -> list[ScopeLive]:
        campaigns = sorted(c for shop, c in self.store.campaigns if shop == owner)
        return [self._live(Scope(self.name, owner, campaign)) for campaign in campaigns]

    async def aclose(self) -> None:
        return None

    def _live(self, scope: Scope) -> ScopeLive:
        key = (scope.owner, scope.coupon_class)
        if key not in self.store.campaigns:
            return ScopeLive(scope, False, None, None, {})
        holders = self.store.coupons[key]
        issued = {Target.email(email): tuple(held) for email, held in holders.items() if held}
        return ScopeLive(scope, True, FACE, 1000, issued, coupons_read=sum(map(len, issued.values())), api_calls=1)


# --- its manifest dialect and export words ------------------------------------------------------------------


def scope(spec: Spec) -> tuple[str, str] | None:
    shop, campaign = digits(spec.get("shop")), spec.get("campaign")
    return (shop, campaign) if shop is not None and isinstance(campaign, str) and campaign else None


def targets(spec: Spec) -> Iterator[Declared]:
    for index, value in items(spec, ("giftTo",)):
        if isinstance(value, str):
            yield Declared((*SPEC, "giftTo", index), TargetKind.EMAIL, value)


def export_targets(targets: ExportedTargets) -> list[str]:
    return ["  giftTo:", *(f"    - {quote(e)}" for e in targets.emails)] if targets.emails else []


MANIFEST_SCHEMA: Mapping[str, Any] = {
    "toySpec": {
        "type": "object",
        "required": ["provider", "shop", "campaign"],
        "additionalProperties": False,
        "properties": {
            "provider": {"description": "A provider of type toy.", "$ref": "#/$defs/providerName"},
            "shop": {"description": "The shop's id (digits).", "$ref": "#/$defs/digits"},
            "campaign": {"description": "The gift campaign.", "type": "string", "minLength": 1},
            "expect": {"description": "Optional: the gift card's value.", "$ref": "#/$defs/expect"},
            "giftTo": {
                "description": "Email addresses that should hold a gift card of the campaign.",
                "type": "array",
                "items": {"type": "string"},
            },
        },
    }
}
CONFIG_SCHEMA: Mapping[str, Any] = {
    "toyProvider": {
        "type": "object",
        "additionalProperties": False,
        "properties": {
            "type": {"description": "toy: an in-memory gift shop.", "$ref": "#/$defs/type"},
            "environment": {"description": "Where its API is.", "$ref": "#/$defs/environment"},
            "endpoint": {"description": "Optional base URL override.", "$ref": "#/$defs/endpoint"},
            "apiKey": {"description": "The API key, as ${env:NAME}.", "$ref": "#/$defs/envRef"},
            "write": {
                "description": "The key that may issue.",
                "type": "object",
                "additionalProperties": False,
                "properties": {"apiKey": {"description": "As ${env:NAME}.", "$ref": "#/$defs/envRef"}},
            },
        },
    }
}


def descriptor(store: ToyStore) -> VendorDescriptor:
    """The toy vendor, its providers all over ``store``."""

    def build(
        config: ProviderConfig,
        sandbox: SandboxConfig,
        environ: Mapping[str, str],
        transport: httpx.AsyncBaseTransport | None,
    ) -> ToyProvider:
        return ToyProvider(config.name, store)

    return VendorDescriptor(
        type=TYPE,
        title="a toy gift shop in memory",
        build=build,
        credentials=Credentials(keys=("apiKey",), check=required("apiKey"), write_hint="apiKey"),
        manifest=ManifestDialect(
            schema=MANIFEST_SCHEMA,
            target_kinds=(TargetKind.EMAIL,),
            scope=scope,
            targets=targets,
            markers=("shop", "campaign", "giftTo"),
        ),
        export=ExportWords(
            owner="shop",
            klass="campaign",
            owner_key="shop",
            class_key="campaign",
            targets=export_targets,
            name_prefix="gifts-",
        ),
        config_schema=CONFIG_SCHEMA,
        environments={"production": "https://api.toy.example"},
        documented_hosts=frozenset({"api.toy.example"}),
        void_statuses=frozenset({"revoked"}),
    )
