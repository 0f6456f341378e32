"""Manifests written from live state, for ``couponctl export``: pure (live state in, file texts out).

One manifest per class of one owner, targets sorted, a header comment saying when and from where, in the words of
the provider type's descriptor (:class:`~reconciler.manifest.export_words.ExportWords`). Past
:data:`EMAILS_INLINE_MAX`, emails go to an ``emailsFrom`` CSV beside the manifest. The reading and the writing of
files are reconciler.app.export.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from reconciler import __version__
from reconciler.manifest.export_words import ExportedTargets, ExportWords, quote
from reconciler.manifest.validate import email_error
from reconciler.plan.serialize import decimal_text, format_timestamp
from reconciler.state.desired import Scope, Target, TargetKind
from reconciler.state.live import ScopeLive

#: More emails than this go to an ``emailsFrom`` CSV file instead of the manifest (when writing files).
EMAILS_INLINE_MAX = 200
MAX_ACCOUNT_ID = 2_147_483_647
_NOT_LABEL = re.compile(r"[^a-z0-9]+")
_CURRENCY = re.compile(r"[A-Z]{3}")


@dataclass(frozen=True, slots=True)
class ExportSource:
    """Where the live state came from: a provider of couponctl.yaml and the owner (customer or seller id), and the
    words its vendor's manifests are written in (its descriptor's)."""

    provider: str
    provider_type: str
    environment: str
    owner: str
    words: ExportWords


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
    words = source.words
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
        name = _unique(_manifest_name(words, live.scope), names)
        manifest = _Manifest(source, words, live, name, generated_at)
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


# --- one manifest --------------------------------------------------------------------------------------------


class _Manifest:
    """The targets of one scope, sorted, rendered as a manifest (and an emails CSV when there are many)."""

    def __init__(
        self, source: ExportSource, words: ExportWords, live: ScopeLive, name: str, generated_at: datetime
    ) -> None:
        self.source = source
        self.words = words
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
        targets = ExportedTargets(self.accounts, self.emails, csv_name if to_csv else None, self.sends)
        lines = [*self._header(targets), *self._body(targets)]
        manifest = ExportedFile(f"{self.name}.yaml", "\n".join(lines) + "\n")
        if not to_csv:
            return [manifest]
        return [manifest, ExportedFile(csv_name, "email\n" + "".join(f"{e}\n" for e in self.emails))]

    def _header(self, targets: ExportedTargets) -> list[str]:
        s, scope, words = self.source, self.live.scope, self.words
        holders = len({c.code for held in self.live.issued.values() for c in held if c.code})
        return [
            f"# Exported by `couponctl export` (couponctl {__version__}) at {format_timestamp(self.generated_at)}",
            f"# from provider {s.provider} (type {s.provider_type}, environment {s.environment}),",
            f"# {words.owner} {scope.owner}, {words.klass} {scope.coupon_class}: {holders:,} coupon(s) issued, "
            f"{self.count:,} target(s) declared below.",
            "# Every target below already holds a coupon: `couponctl plan` shows nothing to issue for them.",
            "# Review before committing: declaring a target is a promise that it should hold this coupon.",
            *words.notes(targets),
        ]

    def _body(self, targets: ExportedTargets) -> list[str]:
        s, scope, words = self.source, self.live.scope, self.words
        return [
            "apiVersion: couponctl/v1",
            "kind: CouponAssignment",
            "metadata:",
            f"  name: {quote(self.name)}",
            "spec:",
            f"  provider: {quote(s.provider)}",
            f"  {words.owner_key}: {quote(scope.owner)}",
            f"  {words.class_key}: {quote(scope.coupon_class)}",
            *_expect(self.live),
            *words.targets(targets),
        ]


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


def _manifest_name(words: ExportWords, scope: Scope) -> str:
    """A DNS label from the vendor's name prefix and the class."""
    base = f"{words.name_prefix}{scope.coupon_class}"
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
