"""How aliyun manifests are written: ``sellerId`` and ``templateId`` name the scope, ``send`` declares uids each
with its amount; ``expect.amount`` is the amount every uid of the template is sent (an offline check); and what
``couponctl export`` writes for it."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from decimal import Decimal

from reconciler.errors import Problem
from reconciler.manifest.dialect import SPEC, Declared, Spec, digits, get, items, positive
from reconciler.manifest.export_words import ExportedTargets
from reconciler.manifest.loader import NodePath
from reconciler.manifest.parse import Manifest
from reconciler.manifest.validate import where
from reconciler.plan.serialize import decimal_text
from reconciler.providers.aliyun.provider import PROVIDER_TYPE
from reconciler.state.desired import Scope, TargetKind

_SEND: NodePath = ("send",)


def scope(spec: Spec) -> tuple[str, str] | None:
    owner, template = digits(spec.get("sellerId")), digits(spec.get("templateId"))
    if owner is None or template is None:
        return None
    return owner, template


def targets(spec: Spec) -> Iterator[Declared]:
    """The well-formed (uid, amount) entries of ``send``, uids as digit strings."""
    for index, entry in items(spec, _SEND):
        uid = digits(get(entry, "uid"))
        amount = positive(get(entry, "amount"))
        if uid is not None and amount is not None:
            yield Declared((*SPEC, *_SEND, index, "uid"), TargetKind.UID, uid, amount)


def send_amounts(manifest: Manifest) -> Iterator[tuple[NodePath, Decimal]]:
    """The well-formed amounts of ``send``, each with the path of its ``amount``."""
    for index, entry in items(manifest.spec, _SEND):
        amount = positive(get(entry, "amount"))
        if amount is not None:
            yield (*SPEC, *_SEND, index, "amount"), amount


def check_expect(manifests: Sequence[Manifest]) -> list[Problem]:
    """For an aliyun template, ``expect.amount`` is the amount every uid of it is sent: each ``send`` amount
    declared in the scope, by any of its manifests, must equal it (the one the scope's first manifest gives).

    ResellerTrade has no call that reads a template, so its face value cannot be read and is never guessed from
    the coupons issued: this offline check is all ``expect.amount`` means for aliyun.
    """
    expected: dict[Scope, Manifest] = {}
    for manifest in manifests:
        if (
            manifest.provider_type == PROVIDER_TYPE
            and manifest.scope is not None
            and "expect.amount" in manifest.settings
        ):
            expected.setdefault(manifest.scope, manifest)
    problems = []
    for manifest in manifests:
        source = expected.get(manifest.scope) if manifest.scope is not None else None
        if source is None or manifest.provider_type != PROVIDER_TYPE:
            continue
        setting = source.settings["expect.amount"]
        for path, amount in send_amounts(manifest):
            if amount != setting.value:
                message = (
                    f"amount {amount} differs from expect.amount {setting.value} at {where(source, setting.path)}: "
                    "for aliyun, expect.amount is the amount every uid of the template is sent"
                )
                problems.append(manifest.document.problem(path, message))
    return problems


def export_targets(targets: ExportedTargets) -> list[str]:
    """Uids with their amounts under ``send``."""
    if not targets.sends:
        return []
    return ["  send:", *(f"    - {{uid: {u}, amount: {decimal_text(a)}}}" for u, a in targets.sends)]
