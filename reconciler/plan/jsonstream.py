"""JSON written piece by piece: the same text as ``json.dumps`` but never the whole document in memory.

A plan over a million targets is hundreds of megabytes of JSON; building it as one dict and one string costs
several times that. Lists may be given as :class:`Lazy` (a factory of an iterable), so that their items exist
a batch at a time while they are written or hashed. Only the skeleton around Lazy arrays is walked here;
everything else is encoded by ``json.dumps``.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

#: Items of a Lazy array encoded by one json.dumps call (its C encoder when compact).
BATCH = 1000


@dataclass(frozen=True)
class Lazy:
    """A JSON array of plain data whose items are produced when it is written, each time it is written."""

    items: Callable[[], Iterable[Any]]


@dataclass(frozen=True)
class _Style:
    indent: int | None
    sort_keys: bool

    @property
    def item_sep(self) -> str:
        return ","

    @property
    def key_sep(self) -> str:
        return ": " if self.indent is not None else ":"

    def pad(self, level: int) -> str:
        return " " * (self.indent * level) if self.indent else ""

    def breaks(self, level: int) -> tuple[str, str]:
        """The text before each member and before the closing bracket, at ``level``."""
        if self.indent is None:
            return "", ""
        return "\n" + self.pad(level + 1), "\n" + self.pad(level)

    def dumps(self, value: Any, level: int) -> str:
        """json.dumps of plain data, indented as if it stood at ``level``."""
        text = json.dumps(
            value,
            indent=self.indent,
            sort_keys=self.sort_keys,
            ensure_ascii=False,
            separators=(self.item_sep, self.key_sep),
        )
        return text.replace("\n", "\n" + self.pad(level)) if self.indent and level else text


def iter_json(value: Any, *, indent: int | None = None, sort_keys: bool = False) -> Iterator[str]:
    """The chunks of ``json.dumps(value, indent=indent, sort_keys=sort_keys, ensure_ascii=False)`` (compact
    separators when ``indent`` is None), with :class:`Lazy` arrays written as lists."""
    return _chunks(value, 0, _Style(indent, sort_keys))


def _chunks(value: Any, level: int, style: _Style) -> Iterator[str]:
    if isinstance(value, Lazy):
        yield from _lazy_array(value, level, style)
    elif isinstance(value, Mapping) and _has_lazy(value):
        inner, outer = style.breaks(level)
        yield "{"
        for n, key in enumerate(sorted(value) if style.sort_keys else value):
            yield (style.item_sep if n else "") + inner + json.dumps(key, ensure_ascii=False) + style.key_sep
            yield from _chunks(value[key], level + 1, style)
        yield outer + "}"
    elif isinstance(value, list | tuple) and _has_lazy(value):
        inner, outer = style.breaks(level)
        yield "["
        for n, item in enumerate(value):
            yield (style.item_sep if n else "") + inner
            yield from _chunks(item, level + 1, style)
        yield outer + "]"
    else:
        yield style.dumps(value, level)


def _lazy_array(value: Lazy, level: int, style: _Style) -> Iterator[str]:
    """The items a batch at a time: one json.dumps per batch, its brackets cut and its lines re-indented."""
    opened = False
    for batch in _batched(value.items()):
        text = style.dumps(batch, level)
        if style.indent:
            body = text[2 : len(text) - len(style.pad(level)) - 2]  # "[\n" and "\n" + pad + "]" cut
            yield ("[\n" if not opened else style.item_sep + "\n") + body
        else:
            yield ("[" if not opened else style.item_sep) + text[1:-1]
        opened = True
    if not opened:
        yield "[]"
    else:
        yield style.breaks(level)[1] + "]"


def _batched(items: Iterable[Any]) -> Iterator[list[Any]]:
    batch: list[Any] = []
    for item in items:
        batch.append(item)
        if len(batch) == BATCH:
            yield batch
            batch = []
    if batch:
        yield batch


def _has_lazy(value: Any) -> bool:
    """Whether a Lazy array is inside ``value`` (the skeleton only: a Lazy array's items are never searched)."""
    if isinstance(value, Lazy):
        return True
    if isinstance(value, Mapping):
        return any(_has_lazy(v) for v in value.values())
    if isinstance(value, list | tuple):
        return any(_has_lazy(v) for v in value)
    return False
