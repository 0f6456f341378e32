"""couponctl.yaml's ``notify:`` block -> destinations, with the problems a schema cannot see (located)."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from reconciler.config.secrets import SecretRef
from reconciler.errors import Problem
from reconciler.manifest.loader import Document
from reconciler.notify.model import DEFAULT_ATTEMPTS, Destination, DestinationType, EventKind

_ENV_REF = re.compile(r"\$\{env:([A-Za-z_][A-Za-z0-9_]*)\}")


def notify_config(document: Document) -> tuple[tuple[Destination, ...], list[Problem]]:
    """The destinations ``document`` (couponctl.yaml, schema-valid) declares, and its problems: a name given twice,
    a webhook without its HMAC secret (an unsigned webhook could be forged by anyone who learns its URL), a secret
    on a Slack or Teams destination (they are not signed: it would be sent nowhere, and look as if it protected)."""
    data: Mapping[str, Any] = document.data if isinstance(document.data, dict) else {}
    blocks = data.get("notify") or ()
    destinations: list[Destination] = []
    problems: list[Problem] = []
    seen: set[str] = set()
    for index, block in enumerate(blocks):
        kind = DestinationType(block["type"])
        if block["name"] in seen:
            problems.append(document.problem(("notify", index, "name"), f"destination {block['name']!r} twice"))
        seen.add(block["name"])
        if kind is DestinationType.WEBHOOK and "secret" not in block:
            message = "a webhook destination needs secret: ${env:NAME}, the key its payloads are signed with"
            problems.append(document.problem(("notify", index), message))
        if kind is not DestinationType.WEBHOOK and "secret" in block:
            message = f"a {kind.value} destination is not signed: secret belongs to type webhook only"
            problems.append(document.problem(("notify", index, "secret"), message))
        destinations.append(
            Destination(
                name=block["name"],
                type=kind,
                url=_ref(block["url"]),
                events=frozenset(EventKind(e) for e in block["events"]) if "events" in block else frozenset(EventKind),
                secret=_ref(block["secret"]) if "secret" in block else None,
                attempts=block.get("attempts", DEFAULT_ATTEMPTS),
            )
        )
    return tuple(destinations), problems


def _ref(text: str) -> SecretRef:
    match = _ENV_REF.fullmatch(text.strip())
    assert match is not None, "the schema admits only ${env:NAME} references"
    return SecretRef(match.group(1))
