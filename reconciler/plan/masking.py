"""Masked email addresses that reviewers can tell apart: ``c***@acme.example (id 3fa2)``.

The Markdown plan and drift report (pull-request comments, issues, job summaries) show an address as its first
character and domain, which alone would render carol@ and cmo@acme.example identically. Beside the mask goes a
short prefix of a keyed digest of the address (HMAC-SHA256 under the project's mask key, hex):

- the same address always shows a prefix of the same digest, in every plan and report of the project;
- two different addresses never render identically in one document: the prefix is the shortest, from
  :data:`MIN_DIGEST_CHARS` hex characters up, that sets apart every pair of addresses sharing a mask in that
  document (usually 4; one collision anywhere makes the whole document use 5). Should two addresses share even
  the whole digest (not seen in practice with SHA-256; possible only in a tiny digest space), they get ``-1``,
  ``-2`` suffixes in address order.

The key (:func:`mask_key`): the secret named by ``maskKey`` in couponctl.yaml when it is set, so that nobody
without it can confirm a guessed address from its digest; otherwise one derived from the names and types of the
project's providers. That default is public (anyone who reads couponctl.yaml can compute it), so it only tells
addresses apart: whoever guesses an address can confirm the guess, as the mask's first letter and domain already
half do. It changes when a provider is added, renamed or removed; ``maskKey`` never does.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import re
from collections.abc import Callable, Iterable, Mapping

from reconciler.config.model import Config
from reconciler.errors import ConfigError, Problem

MIN_DIGEST_CHARS = 4
#: An email address inside free text (messages, notes, policy violations).
EMAIL = re.compile(r"[^\s@<>()\[\]`'\",;:]+@[^\s@<>()\[\]`'\",;:]+\.[A-Za-z]{2,}")
UNKEYED = hashlib.sha256(b"couponctl/mask-key/v1").digest()
"""The key outside a project (``couponctl show`` of a plan file with no couponctl.yaml around it)."""

Digest = Callable[[bytes, str], str]


def mask_email(address: str) -> str:
    """``owner@example.com`` -> ``o***@example.com``."""
    local, _, domain = address.rpartition("@")
    return f"{local[:1]}***@{domain}"


def keyed_digest(key: bytes, address: str) -> str:
    """HMAC-SHA256 of the address under ``key``, lower-case hex."""
    return hmac.digest(key, address.encode("utf-8"), "sha256").hex()


def mask_key(config: Config | None, environ: Mapping[str, str] | None = None) -> bytes:
    """The project's key for the digests: ``maskKey``'s secret, else derived from the providers (public)."""
    if config is None:
        return UNKEYED
    if config.mask_key is not None:
        secret = config.mask_key.resolve(os.environ if environ is None else environ)
        if secret is None:
            message = f"names {config.mask_key}, which is not set (or empty): set it, or remove maskKey"
            raise ConfigError([Problem(str(config.path.name), 0, 0, "maskKey", message)])
        return secret.reveal().encode("utf-8")
    providers = "\n".join(f"{name}\t{provider.type}" for name, provider in sorted(config.providers.items()))
    return hashlib.sha256(b"couponctl/mask-key/v1/providers\n" + providers.encode("utf-8")).digest()


class EmailMasker:
    """Masks the addresses of one document. Give every address the document shows, up front: the prefix length
    is chosen over them all. An address given later is shown with the same length, unchecked."""

    def __init__(self, key: bytes, addresses: Iterable[str], *, digest: Digest = keyed_digest) -> None:
        self._key = key
        self._digest = digest
        self._digests: dict[str, str] = {}
        groups: dict[str, list[str]] = {}
        for address in addresses:
            normal = address.lower()
            if normal not in self._digests:
                self._digests[normal] = digest(key, normal)
                groups.setdefault(mask_email(normal), []).append(normal)
        crowded = [group for group in groups.values() if len(group) > 1]
        self._length, distinct = _prefix_length([[self._digests[a] for a in group] for group in crowded])
        self._suffixes = {} if distinct else _suffixes(crowded, self._digests, self._length)
        self._shown: dict[str, str] = {}

    def __call__(self, address: str) -> str:
        normal = address.lower()
        shown = self._shown.get(normal)
        if shown is None:
            hashed = self._digests.get(normal) or self._digest(self._key, normal)
            shown = f"{mask_email(normal)} (id {hashed[: self._length]}{self._suffixes.get(normal, '')})"
            self._shown[normal] = shown
        return shown

    def text(self, text: str) -> str:
        """``text`` with every address in it masked."""
        return EMAIL.sub(lambda m: self(m.group(0)), text)

    @property
    def length(self) -> int:
        """How many hex characters of the digest this document shows."""
        return self._length


def addresses_in(texts: Iterable[str]) -> Iterable[str]:
    """The addresses :meth:`EmailMasker.text` would mask in ``texts``."""
    for text in texts:
        yield from EMAIL.findall(text)


def _prefix_length(crowded: list[list[str]]) -> tuple[int, bool]:
    """The shortest prefix, at least MIN_DIGEST_CHARS, that sets apart the digests within every group of
    addresses sharing a mask, and whether it does (it may not, even at full length, in a tiny digest space)."""
    full = max((len(d) for digests in crowded for d in digests), default=MIN_DIGEST_CHARS)
    length = MIN_DIGEST_CHARS
    while True:
        distinct = all(len({d[:length] for d in digests}) == len(digests) for digests in crowded)
        if distinct or length >= full:
            return length, distinct
        length += 1


def _suffixes(crowded: list[list[str]], digests: Mapping[str, str], length: int) -> dict[str, str]:
    """``-1``, ``-2``... for addresses of one mask whose digests share even the ``length`` shown, in address
    order; empty unless the digest space is tiny."""
    suffixes: dict[str, str] = {}
    for addresses in crowded:
        by_prefix: dict[str, list[str]] = {}
        for address in addresses:
            by_prefix.setdefault(digests[address][:length], []).append(address)
        for sharing in by_prefix.values():
            if len(sharing) > 1:
                suffixes.update({a: f"-{n}" for n, a in enumerate(sorted(sharing), start=1)})
    return suffixes
