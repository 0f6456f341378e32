"""Desired state: what the manifests declare, as frozen values."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from enum import StrEnum
from typing import NamedTuple

from reconciler.errors import Problem
from reconciler.state.schedule import Window


class TargetKind(StrEnum):
    """What receives a coupon."""

    ACCOUNT = "account"
    EMAIL = "email"
    UID = "uid"


@dataclass(frozen=True, slots=True, order=True)
class Scope:
    """One provider + owner + class: live state is read per scope.

    ``owner`` is the msads owner customer id or the aliyun seller id (digits);
    ``coupon_class`` is the msads coupon class name or the aliyun template id.
    """

    provider: str
    owner: str
    coupon_class: str

    def __str__(self) -> str:
        return f"{self.provider}/{self.owner}/{self.coupon_class}"


class Target(NamedTuple):
    """An account id (digits), an email (lower-cased) or a uid (digits).

    A named tuple, not a dataclass: hashing, equality and ordering run in C, which matters when a plan holds
    a million of them.
    """

    kind: TargetKind
    value: str

    def __str__(self) -> str:
        return f"{self.kind.value}:{self.value}"

    @staticmethod
    def email(address: str) -> Target:
        return Target(TargetKind.EMAIL, address.strip().lower())

    @staticmethod
    def account(account_id: int | str) -> Target:
        return Target(TargetKind.ACCOUNT, str(int(account_id)))

    @staticmethod
    def uid(uid: int | str) -> Target:
        return Target(TargetKind.UID, str(int(uid)))


class Position(NamedTuple):
    """Where something was declared: file, 1-based line and column. A named tuple: one is built for every
    declared target a plan walks (:mod:`reconciler.state.declared` keeps lines, not positions)."""

    file: str
    line: int
    column: int

    def __str__(self) -> str:
        return f"{self.file}:{self.line}:{self.column}"


@dataclass(frozen=True, slots=True)
class Expect:
    """The face value a manifest expects the live class to have."""

    amount: Decimal | None
    currency: str | None


@dataclass(frozen=True, slots=True)
class ScopeSpec:
    """Per-scope settings gathered from the manifests that declare the scope."""

    scope: Scope
    provider_type: str
    manifests: tuple[str, ...]
    feature_id: int | None = None
    send_notification: bool = False
    expect: Expect | None = None


class DesiredItem(NamedTuple):
    """One (scope, target) pair a manifest declares. ``amount`` is set for aliyun targets only. Built when asked
    for (:class:`reconciler.state.declared.DeclaredTargets`), a named tuple: cheap to build."""

    target: Target
    manifest: str
    position: Position
    amount: Decimal | None = None


@dataclass(frozen=True, slots=True)
class Advisory:
    """A warning a manifest earns offline, where it is: a vendor's documented rule its value may break, when the
    docs do not say the rule applies (never an error). ``code`` names the kind, as plan problems do."""

    code: str
    problem: Problem


@dataclass(frozen=True)
class DesiredState:
    """Every scope declared, per scope every target with where it was declared, and each manifest's labels
    (``metadata.labels``, by manifest name), and each scheduled manifest's issue window (``spec.schedule``, by
    manifest name: a scope declared by several manifests has a window per item, its manifest's)."""

    scopes: Mapping[Scope, ScopeSpec]
    items: Mapping[Scope, Mapping[Target, DesiredItem]]
    labels: Mapping[str, Mapping[str, str]] = field(default_factory=dict)
    schedules: Mapping[str, Window] = field(default_factory=dict)
    advisories: Mapping[Scope, tuple[Advisory, ...]] = field(default_factory=dict)

    def target_count(self) -> int:
        return sum(len(targets) for targets in self.items.values())
