"""JSON written piece by piece: the same text as ``json.dumps`` but never the whole document in memory.

A plan over a million targets is hundreds of megabytes of JSON; building it as one dict and one string costs
several times that. Lists may be given as :class:`Lazy` (a factory of an iterable), so that their items exist one
at a time while they are written or hashed.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Lazy:
    """A JSON array whose items are produced when it is written, each time it is written."""

    items: Callable[[], Iterable[Any]]


def iter_json(value: Any, *, indent: int | None = None, sort_keys: bool = False) -> Iterator[str]:
    """The chunks of ``json.dumps(value, indent=indent, sort_keys=sort_keys, ensure_ascii=False)`` (compact
    separators when ``indent`` is None), with :class:`Lazy` arrays written as lists."""
    item_sep, key_sep = (",", ": ") if indent is not None else (",", ":")
    return _chunks(value, 0, indent, sort_keys, item_sep, key_sep)


def _chunks(value: Any, level: int, indent: int | None, sort_keys: bool, item_sep: str, key_sep: str) -> Iterator[str]:
    if isinstance(value, Mapping):
        keys = sorted(value) if sort_keys else list(value)
        if not keys:
            yield "{}"
            return
        inner, outer = _breaks(level, indent)
        yield "{"
        for n, key in enumerate(keys):
            yield (item_sep if n else "") + inner + json.dumps(key, ensure_ascii=False) + key_sep
            yield from _chunks(value[key], level + 1, indent, sort_keys, item_sep, key_sep)
        yield outer + "}"
    elif isinstance(value, list | tuple | Lazy):
        items = iter(value.items() if isinstance(value, Lazy) else value)
        first = next(items, _END)
        if first is _END:
            yield "[]"
            return
        inner, outer = _breaks(level, indent)
        yield "[" + inner
        yield from _chunks(first, level + 1, indent, sort_keys, item_sep, key_sep)
        for item in items:
            yield item_sep + inner
            yield from _chunks(item, level + 1, indent, sort_keys, item_sep, key_sep)
        yield outer + "]"
    else:
        yield json.dumps(value, ensure_ascii=False)


_END = object()


def _breaks(level: int, indent: int | None) -> tuple[str, str]:
    """The text before each member and before the closing bracket."""
    if indent is None:
        return "", ""
    return "\n" + " " * (indent * (level + 1)), "\n" + " " * (indent * level)
