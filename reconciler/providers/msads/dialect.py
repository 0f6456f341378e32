"""How msads manifests are written: ``customerId`` and ``couponClass`` name the scope, ``distribute`` declares
accounts (with the scope's featureId and sendNotification), ``dispatch`` declares emails, inline or from files;
and what ``couponctl export`` writes for it."""

from __future__ import annotations

from collections.abc import Iterator

from reconciler.manifest.dialect import INT32_MAX, SPEC, Declared, Setting, Spec, digits, get, items
from reconciler.manifest.export_words import ExportedTargets, quote
from reconciler.manifest.loader import NodePath
from reconciler.state.desired import TargetKind

_ACCOUNTS: NodePath = ("distribute", "accounts")
_EMAILS: NodePath = ("dispatch", "emails")
_EMAIL_FILES: NodePath = ("dispatch", "emailsFrom")


def scope(spec: Spec) -> tuple[str, str] | None:
    owner, klass = digits(spec.get("customerId")), spec.get("couponClass")
    if owner is None or not isinstance(klass, str) or not klass:
        return None
    return owner, klass


PREDICATE_MIN_LENGTH = 4
SHORT_CLASS_NAME = "short-class-name"


def advisories(spec: Spec) -> Iterator[tuple[NodePath, str, str]]:
    """A ``couponClass`` shorter than four characters: predicate.md says a Predicate's Value "must be four or
    greater" in length, and SearchCoupons finds the class through a CouponClassName predicate. The page does not
    say whether coupon fields are held to it: a warning, not an error."""
    klass = spec.get("couponClass")
    if isinstance(klass, str) and 0 < len(klass) < PREDICATE_MIN_LENGTH:
        yield (
            (*SPEC, "couponClass"),
            SHORT_CLASS_NAME,
            f"is shorter than {PREDICATE_MIN_LENGTH} characters: predicate.md says a Predicate's Value "
            "must be four or greater in length, and SearchCoupons reads the class through a CouponClassName "
            "predicate; the vendor may refuse it (Predicate invalid)",
        )


def targets(spec: Spec) -> Iterator[Declared]:
    """The well-formed account ids of ``distribute.accounts``, then the strings of ``dispatch.emails`` (syntax
    unchecked)."""
    for index, value in items(spec, _ACCOUNTS):
        if isinstance(value, int) and not isinstance(value, bool) and 1 <= value <= INT32_MAX:
            yield Declared((*SPEC, *_ACCOUNTS, index), TargetKind.ACCOUNT, str(value))
    for index, value in items(spec, _EMAILS):
        if isinstance(value, str):
            yield Declared((*SPEC, *_EMAILS, index), TargetKind.EMAIL, value)


def email_files(spec: Spec) -> Iterator[tuple[NodePath, str]]:
    """The file names of ``dispatch.emailsFrom`` (a string or a list of strings)."""
    path: NodePath = (*SPEC, *_EMAIL_FILES)
    value = get(spec, *_EMAIL_FILES)
    if isinstance(value, str) and value:
        yield path, value
    elif isinstance(value, list):
        yield from (((*path, i), v) for i, v in enumerate(value) if isinstance(v, str) and v)


def settings(spec: Spec) -> dict[str, Setting]:
    """``distribute.featureId`` and ``distribute.sendNotification``, the scope's DistributeCoupons settings."""
    found: dict[str, Setting] = {}
    feature = get(spec, "distribute", "featureId")
    if isinstance(feature, int) and not isinstance(feature, bool) and 0 <= feature <= INT32_MAX:
        found["feature_id"] = Setting(feature, (*SPEC, "distribute", "featureId"))
    notify = get(spec, "distribute", "sendNotification")
    if isinstance(notify, bool):
        found["send_notification"] = Setting(notify, (*SPEC, "distribute", "sendNotification"))
    return found


def export_targets(targets: ExportedTargets) -> list[str]:
    """Accounts under ``distribute.accounts``, emails under ``dispatch`` (inline, or the CSV file beside)."""
    lines = []
    if targets.accounts:
        lines += ["  distribute:", "    accounts:", *(f"      - {a}" for a in targets.accounts)]
    if targets.emails:
        lines.append("  dispatch:")
        if targets.emails_file:
            lines.append(f"    emailsFrom: {quote(targets.emails_file)}")
        else:
            lines += ["    emails:", *(f"      - {quote(e)}" for e in targets.emails)]
    return lines


def export_notes(targets: ExportedTargets) -> list[str]:
    if not targets.accounts:
        return []
    return [
        "# distribute.featureId and sendNotification are not visible in SearchCoupons: set them before adding accounts."
    ]
