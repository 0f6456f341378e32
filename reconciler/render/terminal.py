"""Text that came from a manifest or a vendor is shown on a terminal, never interpreted by it.

Two layers. :func:`visible` is the renderers' one escaping layer for the terminal: every C0 and C1 control
character (newlines included: a vendor string must not forge a plan line), DEL, and the Unicode characters that
reorder or hide text, become visible escapes (``\\x1b``, ``\\n``, ``\\u202e``). :func:`defang` is the output
stream's safety net for everything else couponctl prints (error messages quoting a vendor, journal listings): it
lets through only newlines, tabs, carriage returns, the progress bar's line erase (CSI K) and, while couponctl
writes a plan it coloured itself, colour (CSI ... m); every other escape sequence (OSC 52 clipboard writes, OSC 8
hyperlinks, cursor movement, title changes, colour in data) and control character is made visible.
"""

from __future__ import annotations

import re

_HIDDEN = "\u200b\u200c\u200d\u2028\u2029\u202a\u202b\u202c\u202d\u202e\u2060\u2066\u2067\u2068\u2069\ufeff"
_CONTROL = re.compile(f"[\x00-\x1f\x7f-\x9f{_HIDDEN}\ud800-\udfff]")  # lone surrogates too: never encodable
_OURS = re.compile(r"\x1b\[[0-9;]*[mK]")
_ERASE = re.compile(r"\x1b\[K")
# The stream lets the zero-width space through: the Markdown renderers put it after @ and # and inside :// on
# purpose (no mention, no link); data's own zero-width spaces were already made visible by visible().
_UNSAFE = re.compile(f"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f{_HIDDEN.replace(chr(0x200B), '')}\ud800-\udfff]")


def _escape(char: str) -> str:
    code = ord(char)
    return {"\n": "\\n", "\r": "\\r", "\t": "\\t"}.get(char) or (f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}")


def visible(text: str) -> str:
    """``text`` with every control and hiding character escaped: safe to put on one terminal line."""
    return _CONTROL.sub(lambda m: _escape(m.group()), text)


def defang(text: str, *, colour: bool = False) -> str:
    """``text`` for a terminal: the line erase of the progress bar kept, and with ``colour`` (output couponctl
    styled itself: a plan rendered in colour) its colour sequences; every other control escaped."""
    if not _UNSAFE.search(text):
        return text
    parts = []
    last = 0
    for match in (_OURS if colour else _ERASE).finditer(text):
        parts.append(_UNSAFE.sub(lambda m: _escape(m.group()), text[last : match.start()]))
        parts.append(match.group())
        last = match.end()
    parts.append(_UNSAFE.sub(lambda m: _escape(m.group()), text[last:]))
    return "".join(parts)
