"""The targets one scope declares, held compactly: a million targets must not be a million objects each.

Targets are kept in *runs*: consecutive declarations that share their manifest, file, kind and amount (an
``emailsFrom`` file is one run, or a few). A run holds its values as a list of strings and their lines and
columns as ``array('I')``; the manifest, file, kind and amount are one :class:`Source` shared by the run. A
:class:`~reconciler.state.desired.Target` and its :class:`~reconciler.state.desired.DesiredItem` (with its
:class:`~reconciler.state.desired.Position`) are built when asked for, not stored.

Looking a target up (``in``, ``[]``, ``get``) needs an index by value; it is built while the targets are
declared (it finds duplicates), dropped by :meth:`DeclaredTargets.seal` and rebuilt on the first lookup after.
Iterating needs none: a plan that only walks its targets never pays for it.
"""

from __future__ import annotations

from array import array
from bisect import bisect_right
from collections.abc import ItemsView, Iterator, Mapping, ValuesView
from dataclasses import dataclass
from decimal import Decimal

from reconciler.state.desired import DesiredItem, Position, Target, TargetKind


@dataclass(frozen=True, slots=True)
class Source:
    """What every target of a run shares: its manifest, its file, its kind and its amount (aliyun)."""

    manifest: str
    file: str
    kind: TargetKind
    amount: Decimal | None = None


@dataclass(slots=True)
class _Run:
    source: Source
    values: list[str]
    lines: array[int]
    columns: array[int]


class DeclaredTargets(Mapping[Target, DesiredItem]):
    """A read-only mapping of target to where it was declared, in declared order, filled by :meth:`declare`."""

    __slots__ = ("_index", "_runs", "_starts")

    def __init__(self) -> None:
        self._runs: list[_Run] = []
        self._starts: list[int] = []  # the row of each run's first target
        self._index: dict[TargetKind, dict[str, int]] | None = {}

    def declare(self, source: Source, value: str, line: int, column: int) -> DesiredItem | None:
        """Add ``value`` (of ``source.kind``) declared at ``line``:``column``; when the scope already declares
        it, add nothing and return the first declaration."""
        index = self._lookup().setdefault(source.kind, {})
        first = index.get(value)
        if first is not None:
            return self._item(first)
        run = self._runs[-1] if self._runs else None
        if run is None or (run.source is not source and not _same(run.source, source)):
            self._starts.append(len(self))
            run = _Run(source, [], array("I"), array("I"))
            self._runs.append(run)
        index[value] = len(self)
        run.values.append(value)
        run.lines.append(line)
        run.columns.append(column)
        return None

    def seal(self) -> None:
        """Declaring is over: drop the index (rebuilt on the first lookup)."""
        self._index = None

    def __len__(self) -> int:
        return self._starts[-1] + len(self._runs[-1].values) if self._runs else 0

    def __iter__(self) -> Iterator[Target]:
        for run in self._runs:
            kind = run.source.kind
            for value in run.values:
                yield Target(kind, value)

    def __contains__(self, key: object) -> bool:
        if not isinstance(key, tuple) or len(key) != 2:
            return False
        return key[1] in self._lookup().get(key[0], ())

    def __getitem__(self, key: Target) -> DesiredItem:
        row = self._lookup().get(key[0], {}).get(key[1]) if isinstance(key, tuple) and len(key) == 2 else None
        if row is None:
            raise KeyError(key)
        return self._item(row)

    def items(self) -> ItemsView[Target, DesiredItem]:
        return _Items(self)

    def values(self) -> ValuesView[DesiredItem]:
        return _Values(self)

    def pairs(self) -> Iterator[tuple[Target, DesiredItem]]:
        """(target, item) in declared order, without the index. The hot loop of a plan: the named tuples are
        built by ``tuple.__new__`` as their ``_make`` does, without a Python call each."""
        new = tuple.__new__
        for run in self._runs:
            source = run.source
            kind, manifest, file, amount = source.kind, source.manifest, source.file, source.amount
            for value, line, column in zip(run.values, run.lines, run.columns, strict=True):
                target = new(Target, (kind, value))
                yield target, new(DesiredItem, (target, manifest, new(Position, (file, line, column)), amount))

    def _item(self, row: int) -> DesiredItem:
        at = bisect_right(self._starts, row) - 1
        run, offset = self._runs[at], row - self._starts[at]
        source = run.source
        target = Target(source.kind, run.values[offset])
        position = Position(source.file, run.lines[offset], run.columns[offset])
        return DesiredItem(target, source.manifest, position, source.amount)

    def _lookup(self) -> dict[TargetKind, dict[str, int]]:
        if self._index is None:
            index: dict[TargetKind, dict[str, int]] = {}
            row = 0
            for run in self._runs:
                values = index.setdefault(run.source.kind, {})
                for value in run.values:
                    values.setdefault(value, row)
                    row += 1
            self._index = index
        return self._index


def _same(a: Source, b: Source) -> bool:
    """One run's source serves both: equal, and the amount written alike (100 and 100.00 are equal Decimals, but
    a plan shows, checksums and sends the amount as it was written)."""
    if a != b:
        return False
    return a.amount is None or b.amount is None or a.amount.as_tuple() == b.amount.as_tuple()


class _Items(ItemsView[Target, DesiredItem]):
    _mapping: DeclaredTargets

    def __iter__(self) -> Iterator[tuple[Target, DesiredItem]]:
        return self._mapping.pairs()


class _Values(ValuesView[DesiredItem]):
    _mapping: DeclaredTargets

    def __iter__(self) -> Iterator[DesiredItem]:
        return (item for _, item in self._mapping.pairs())
