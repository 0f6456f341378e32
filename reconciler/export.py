"""``couponctl export``: manifests from live state, so a team can adopt a program that already runs.

Export, review, commit: ``couponctl plan`` then shows nothing to issue for the exported targets. One manifest per
class (msads) or template (aliyun) of one owner, targets sorted, a header comment saying when and from where.
Accounts go to ``distribute.accounts``, emails to ``dispatch.emails`` (or, past :data:`EMAILS_INLINE_MAX`, to an
``emailsFrom`` CSV beside the manifest), uids with their amounts to ``send``.

:func:`export_manifests` is pure (live state in, file texts out); :func:`read_export` does the reading and never
calls an issuing endpoint.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from pathlib import Path

from reconciler import __version__, aio
from reconciler.config_model import Config
from reconciler.errors import CouponctlError
from reconciler.live import ScopeLive
from reconciler.manifest.model import Scope, ScopeSpec, Target, TargetKind
from reconciler.manifest.validate import email_error
from reconciler.plan.serialize import decimal_text, format_timestamp
from reconciler.providers.base import Exporter, Provider
from reconciler.providers.registry import build_provider
from reconciler.redaction import scrub

#: More emails than this go to an ``emailsFrom`` CSV file instead of the manifest (when writing files).
EMAILS_INLINE_MAX = 200
MAX_ACCOUNT_ID = 2_147_483_647
_NOT_LABEL = re.compile(r"[^a-z0-9]+")
_CURRENCY = re.compile(r"[A-Z]{3}")


@dataclass(frozen=True, slots=True)
class ExportSource:
    """Where the live state came from: a provider of couponctl.yaml and the owner (customer or seller id)."""

    provider: str
    provider_type: str
    environment: str
    owner: str


@dataclass(frozen=True, slots=True)
class ExportedFile:
    """A file to write, named relative to the output directory."""

    name: str
    text: str


@dataclass(frozen=True)
class Export:
    """The files, the classes exported, and what was left out (with why)."""

    files: tuple[ExportedFile, ...]
    classes: tuple[str, ...]
    target_count: int
    skipped: tuple[str, ...] = ()


def export_manifests(
    source: ExportSource,
    lives: Sequence[ScopeLive],
    *,
    generated_at: datetime,
    emails_inline_max: int | None = EMAILS_INLINE_MAX,
    keep_empty: bool = False,
) -> Export:
    """One manifest per scope that holds issued coupons (every scope given when ``keep_empty``).

    ``emails_inline_max`` None keeps every email inline (one stream on stdout, no side files). Targets that
    couponctl's manifests cannot declare (an address its email check refuses, an account id beyond int32, a
    uid without a known amount) are left out and named in ``skipped``.
    """
    files: list[ExportedFile] = []
    classes: list[str] = []
    skipped: list[str] = []
    names: set[str] = set()
    targets = 0
    for live in sorted(lives, key=lambda s: s.scope):
        declared = _declared_targets(live)
        if not declared and not keep_empty:
            skipped.append(f"{live.scope}: no coupon issued, nothing to declare")
            continue
        name = _unique(_manifest_name(source.provider_type, live.scope), names)
        manifest = _Manifest(source, live, name, generated_at)
        for target in declared:
            problem = manifest.add(target)
            if problem:
                skipped.append(f"{live.scope}: {target}: {problem}")
        files += manifest.files(emails_inline_max)
        classes.append(live.scope.coupon_class)
        targets += manifest.count
    return Export(tuple(files), tuple(classes), targets, tuple(skipped))


def export_stream(export: Export) -> str:
    """Every manifest of the export as one YAML stream (documents separated by ``---``)."""
    return "---\n".join(f.text for f in export.files if f.name.endswith(".yaml"))


def write_export(export: Export, directory: Path) -> list[Path]:
    """Write the files into ``directory`` (created). Nothing is written if any of them exists already."""
    paths = [directory / f.name for f in export.files]
    existing = [str(p) for p in paths if p.exists()]
    if existing:
        raise CouponctlError(f"refusing to overwrite {', '.join(existing)}: remove them or choose another --out")
    try:
        directory.mkdir(parents=True, exist_ok=True)
        for path, file in zip(paths, export.files, strict=True):
            path.write_text(scrub(file.text), encoding="utf-8")
    except OSError as exc:
        raise CouponctlError(f"cannot write the export to {directory}: {exc}") from exc
    return paths


# --- one manifest --------------------------------------------------------------------------------------------


class _Manifest:
    """The targets of one scope, sorted, rendered as a manifest (and an emails CSV when there are many)."""

    def __init__(self, source: ExportSource, live: ScopeLive, name: str, generated_at: datetime) -> None:
        self.source = source
        self.live = live
        self.name = name
        self.generated_at = generated_at
        self.accounts: list[int] = []
        self.emails: list[str] = []
        self.sends: list[tuple[int, Decimal]] = []

    @property
    def count(self) -> int:
        return len(self.accounts) + len(self.emails) + len(self.sends)

    def add(self, target: Target) -> str | None:
        """Declare ``target``; why not, when it cannot be declared."""
        if target.kind is TargetKind.EMAIL:
            error = email_error(target.value)
            if error:
                return error
            self.emails.append(target.value)
        elif target.kind is TargetKind.ACCOUNT:
            account = int(target.value)
            if not 1 <= account <= MAX_ACCOUNT_ID:
                return f"account id {account} is outside 1..{MAX_ACCOUNT_ID}"
            self.accounts.append(account)
        else:
            amount = _uid_amount(self.live, target)
            if amount is None:
                return "the amount it holds is unknown"
            self.sends.append((int(target.value), amount))
        return None

    def files(self, emails_inline_max: int | None) -> list[ExportedFile]:
        self.accounts.sort()
        self.emails.sort()
        self.sends.sort()
        csv_name = f"{self.name}-emails.csv"
        to_csv = emails_inline_max is not None and len(self.emails) > emails_inline_max
        lines = [*self._header(), *self._body(csv_name if to_csv else None)]
        manifest = ExportedFile(f"{self.name}.yaml", "\n".join(lines) + "\n")
        if not to_csv:
            return [manifest]
        return [manifest, ExportedFile(csv_name, "email\n" + "".join(f"{e}\n" for e in self.emails))]

    def _header(self) -> list[str]:
        s, scope = self.source, self.live.scope
        owner = "seller" if s.provider_type == "aliyun" else "customer"
        what = "template" if s.provider_type == "aliyun" else "class"
        holders = len({c.code for held in self.live.issued.values() for c in held if c.code})
        lines = [
            f"# Exported by `couponctl export` (couponctl {__version__}) at {format_timestamp(self.generated_at)}",
            f"# from provider {s.provider} (type {s.provider_type}, environment {s.environment}),",
            f"# {owner} {scope.owner}, {what} {scope.coupon_class}: {holders:,} coupon(s) issued, {self.count:,} "
            "target(s) declared below.",
            "# Every target below already holds a coupon: `couponctl plan` shows nothing to issue for them.",
            "# Review before committing: declaring a target is a promise that it should hold this coupon.",
        ]
        if s.provider_type == "msads" and self.accounts:
            lines.append(
                "# distribute.featureId and sendNotification are not visible in SearchCoupons: set them before"
                " adding accounts."
            )
        return lines

    def _body(self, csv_name: str | None) -> list[str]:
        s, scope = self.source, self.live.scope
        lines = [
            "apiVersion: couponctl/v1",
            "kind: CouponAssignment",
            "metadata:",
            f"  name: {_quote(self.name)}",
            "spec:",
            f"  provider: {_quote(s.provider)}",
        ]
        if s.provider_type == "aliyun":
            lines += [f"  sellerId: {_quote(scope.owner)}", f"  templateId: {_quote(scope.coupon_class)}"]
        else:
            lines += [f"  customerId: {_quote(scope.owner)}", f"  couponClass: {_quote(scope.coupon_class)}"]
        lines += _expect(self.live)
        if self.accounts:
            lines += ["  distribute:", "    accounts:", *(f"      - {a}" for a in self.accounts)]
        if self.emails:
            lines.append("  dispatch:")
            if csv_name:
                lines.append(f"    emailsFrom: {_quote(csv_name)}")
            else:
                lines += ["    emails:", *(f"      - {_quote(e)}" for e in self.emails)]
        if self.sends:
            lines += ["  send:", *(f"    - {{uid: {u}, amount: {decimal_text(a)}}}" for u, a in self.sends)]
        return lines


def _declared_targets(live: ScopeLive) -> list[Target]:
    """The targets a manifest should name: per coupon, the email it was dispatched to when there is one (the
    accounts that later claimed or redeemed it are then accounted for by it), else every account or uid."""
    by_code: dict[str, list[Target]] = {}
    chosen: set[Target] = set()
    for target, coupons in live.issued.items():
        for coupon in coupons:
            if coupon.code:
                by_code.setdefault(coupon.code, []).append(target)
            else:
                chosen.add(target)
    for holders in by_code.values():
        emails = [t for t in holders if t.kind is TargetKind.EMAIL]
        chosen.update(emails or holders)
    return sorted(chosen)


def _uid_amount(live: ScopeLive, target: Target) -> Decimal | None:
    amounts = sorted(c.amount for c in live.issued.get(target, ()) if c.amount is not None and c.amount > 0)
    if amounts:
        return amounts[0]
    face = live.face_value
    return face.amount if face is not None and face.amount > 0 else None


def _expect(live: ScopeLive) -> list[str]:
    face = live.face_value
    if face is None:
        return []
    parts = []
    if face.amount > 0:
        parts.append(f"amount: {decimal_text(face.amount)}")
    if _CURRENCY.fullmatch(face.currency):
        parts.append(f"currency: {face.currency}")
    return [f"  expect: {{{', '.join(parts)}}}"] if parts else []


def _manifest_name(provider_type: str, scope: Scope) -> str:
    """A DNS label from the class name (msads) or ``template-ID`` (aliyun)."""
    base = f"template-{scope.coupon_class}" if provider_type == "aliyun" else scope.coupon_class
    label = _NOT_LABEL.sub("-", base.lower()).strip("-")[:63].strip("-")
    return label or "coupon-class"


def _unique(name: str, taken: set[str]) -> str:
    candidate, n = name, 1
    while candidate in taken:
        n += 1
        suffix = f"-{n}"
        candidate = name[: 63 - len(suffix)].rstrip("-") + suffix
    taken.add(candidate)
    return candidate


def _quote(text: str) -> str:
    """A YAML double-quoted scalar (JSON's escaping is valid YAML): never read as a number, a bool or null."""
    return json.dumps(text, ensure_ascii=True)


# --- reading (I/O): the use case behind `couponctl export` ------------------------------------------------


def normalize_owner(owner: str) -> str:
    """Owner ids are compared as numbers written in digits: ``"0251186883"`` is ``251186883``."""
    text = owner.strip()
    if not text.isascii() or not text.isdigit():
        raise CouponctlError(f"--owner must be digits (a customer or seller id), not {owner!r}")
    return str(int(text))


def read_export(
    config: Config,
    provider_name: str,
    owner: str,
    classes: Sequence[str] = (),
    *,
    environ: Mapping[str, str] | None = None,
) -> tuple[ExportSource, list[ScopeLive]]:
    """Read what the vendor shows for ``owner``: the ``classes`` named (any provider), or every class of the owner
    (providers that can list them: :class:`~reconciler.providers.base.Exporter`). Never issues."""
    provider_config = config.providers.get(provider_name)
    if provider_config is None:
        known = ", ".join(sorted(config.providers)) or "none"
        raise CouponctlError(f"unknown provider {provider_name!r} (couponctl.yaml names: {known})")
    owner = normalize_owner(owner)
    source = ExportSource(provider_name, provider_config.type, provider_config.environment, owner)
    env = os.environ if environ is None else environ

    async def run() -> list[ScopeLive]:
        provider = build_provider(provider_config, config.sandbox, env)
        try:
            return await _read(provider, owner, classes)
        finally:
            await provider.aclose()

    return source, aio.run(run())


async def _read(provider: Provider, owner: str, classes: Sequence[str]) -> list[ScopeLive]:
    if classes:
        specs = [ScopeSpec(Scope(provider.name, owner, c), provider.type, ()) for c in dict.fromkeys(classes)]
        lives = list(await asyncio.gather(*(provider.read_scope(spec) for spec in specs)))
        missing = [live.scope.coupon_class for live in lives if not live.exists]
    elif isinstance(provider, Exporter):
        lives = await provider.read_owner(owner)
        missing = []
        if not lives:
            raise CouponctlError(f"{provider.name}: the vendor shows no coupon owned by {owner}")
    else:
        raise CouponctlError(
            f"provider {provider.name} (type {provider.type}) cannot list an owner's classes yet:"
            " name them with --class"
        )
    if missing:
        raise CouponctlError(
            f"{provider.name}: the vendor shows no coupon of {', '.join(repr(c) for c in missing)} owned by {owner}:"
            " check --class and --owner"
        )
    return lives
