"""A project whose one manifest (``spring``, msads scope m/1/C, local sandbox) dispatches to addresses read from
emailsFrom lists: the lists and the manifest's emailsFrom written by the test."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

CONFIG = "providers:\n  m: {type: msads, environment: local}\n"


def emails_from_manifest(emails_from: str, emails: str | None = None) -> str:
    """The manifest, its ``emailsFrom`` (a YAML path or list of paths) and, given, its inline ``emails`` (the
    inside of a YAML list) as written."""
    inline = "" if emails is None else f"    emails: [{emails}]\n"
    return (
        "apiVersion: couponctl/v1\n"
        "kind: CouponAssignment\n"
        "metadata: {name: spring}\n"
        "spec:\n"
        "  provider: m\n"
        '  customerId: "1"\n'
        "  couponClass: C\n"
        "  dispatch:\n"
        f"{inline}"
        f"    emailsFrom: {emails_from}\n"
    )


def emails_from_project(
    directory: Path, lists: Mapping[str, str | bytes], emails_from: str, emails: str | None = None
) -> Path:
    """``directory`` (made if missing) holding couponctl.yaml, manifests/m.yaml (:func:`emails_from_manifest`) and
    each of ``lists`` as lists/NAME, its content written as given (no newline translation)."""
    directory.mkdir(exist_ok=True)
    (directory / "couponctl.yaml").write_text(CONFIG)
    (directory / "manifests").mkdir()
    (directory / "manifests" / "m.yaml").write_text(emails_from_manifest(emails_from, emails))
    (directory / "lists").mkdir()
    for name, content in lists.items():
        data = content.encode() if isinstance(content, str) else content
        (directory / "lists" / name).write_bytes(data)
    return directory
