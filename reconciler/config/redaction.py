"""Secrets are scrubbed from every byte couponctl writes, as CI systems mask registered secrets.

Every value resolved from ``${env:NAME}`` and every credential (a :class:`reconciler.config.secrets.Secret`, tokens an
OAuth endpoint hands out, a password in a journal URL) is registered here when it comes into the process; the
command line's output streams, the files couponctl writes (plans, reports, the ledger, exported manifests) and the
journal's messages pass through :func:`scrub`, which replaces each registered value by ``***``. Values shorter than
MIN_SECRET_LENGTH are not registered: masking every ``1`` would make the output unreadable, and such a value is no
secret.
"""

from __future__ import annotations

import re
import threading
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

MIN_SECRET_LENGTH = 4
MASK = "***"

_lock = threading.Lock()
_values: set[str] = set()
_pattern: re.Pattern[str] | None = None


def register(value: str | None) -> None:
    """Scrub ``value`` from everything written from now on (and its URL-encoded form)."""
    global _pattern
    if not value or len(value) < MIN_SECRET_LENGTH:
        return
    forms = {value, value.strip(), unquote(value)}
    with _lock:
        new = {f for f in forms if len(f) >= MIN_SECRET_LENGTH} - _values
        if new:
            _values.update(new)
            ordered = sorted(_values, key=len, reverse=True)  # the longest first: no half-masked value
            _pattern = re.compile("|".join(re.escape(v) for v in ordered))


PASSWORD_QUERY_KEYS = ("password", "passwd", "pwd", "sslpassword")
"""Query parameters of a connection URL that hold a password (libpq's and their common spellings)."""


def query_passwords(url: str) -> list[str]:
    """The password values a URL's query carries (``?password=...``)."""
    query = urlsplit(url).query
    return [value for key, value in parse_qsl(query) if key.lower() in PASSWORD_QUERY_KEYS]


def register_url(url: str) -> None:
    """The password of a URL, wherever it sits: in the userinfo or in the query (``?password=``)."""
    try:
        register(urlsplit(url).password)
        for value in query_passwords(url):
            register(value)
    except ValueError:
        return


def scrub(text: str) -> str:
    """``text`` with every registered secret replaced by ``***``."""
    pattern = _pattern
    return text if pattern is None or not text else pattern.sub(MASK, text)


def registered() -> int:
    """How many values are registered (for tests and diagnostics; never the values)."""
    return len(_values)


class ScrubbingWriter:
    """A text file object whose every ``write`` is scrubbed first (for plans, reports and ledgers)."""

    def __init__(self, target: Any) -> None:
        self._target = target

    def write(self, text: str) -> int:
        self._target.write(scrub(text))
        return len(text)

    def flush(self) -> None:
        self._target.flush()
