"""Duplicate targets found in bounded memory (``couponctl validate``): an external merge sort.

Each declared target becomes one line of text, ``scope:kind:value`` then where it was declared (numbers: the
scope, the manifest and file, the field are each numbered once). Lines are
gathered RUN_RECORDS at a time, sorted by that key (stably: declared order stays within a key) and written to a
temporary file; the sorted runs are then merged (FAN_IN at a time, in passes when there are more), and equal
neighbours are duplicates. Memory holds one run and a read buffer per merged file, whatever the number of
targets; the temporary files take about the size of the lists read. The last run is merged from memory, never
written: targets that fit in one run touch no disk (and the directory is asked for only when a run is written).
"""

from __future__ import annotations

import heapq
from collections.abc import Callable, Iterable, Iterator
from contextlib import ExitStack
from pathlib import Path

from reconciler.errors import CouponctlError, Problem
from reconciler.manifest.problems import CappedProblems
from reconciler.manifest.validate import duplicate_target
from reconciler.state.declared import Source
from reconciler.state.desired import DesiredItem, Position, Scope, Target

RUN_RECORDS = 200_000
"""Targets held in memory before they are sorted and written out."""
FAN_IN = 64
"""Sorted files merged at once."""


def _key(record: str) -> str:
    return record[: record.index("\t")]


class SpilledTargets:
    """A :class:`reconciler.manifest.build.TargetSink` that keeps no target: duplicates are found by
    :meth:`finish`, from sorted runs written under ``directory`` (or the one ``directory()`` makes, called when
    the first run is written)."""

    def __init__(
        self, directory: Path | Callable[[], Path], *, run_records: int = RUN_RECORDS, fan_in: int = FAN_IN
    ) -> None:
        self._make_directory = directory
        self.directory: Path | None = directory if isinstance(directory, Path) else None
        self.run_records = run_records
        self.fan_in = fan_in
        self.distinct = 0
        self._scopes: dict[Scope, int] = {}
        self._sources: dict[Source, int] = {}
        self._fields: dict[str, int] = {}
        self._caps: list[CappedProblems] = []  # per emails file read, its problems (duplicates join them)
        self._buffer: list[str] = []
        self._runs: list[Path] = []
        self._written = 0

    def declare(
        self,
        scope: Scope,
        source: Source,
        value: str,
        line: int,
        column: int,
        field: str,
        cap: CappedProblems | None = None,
    ) -> None:
        scope_no = self._scopes.setdefault(scope, len(self._scopes))
        source_no = self._sources.setdefault(source, len(self._sources))
        field_no = self._fields.setdefault(field, len(self._fields))
        cap_no = len(self._caps) - 1 if cap is not None and self._caps and self._caps[-1] is cap else -1
        if cap is not None and cap_no < 0:
            cap_no = self._cap_number(cap)
        self._buffer.append(
            f"{scope_no}:{source.kind.value}:{value}\t{source_no}\t{line}\t{column}\t{field_no}\t{cap_no}\n"
        )
        if len(self._buffer) >= self.run_records:
            self._spill()

    def file_read(self, problems: CappedProblems) -> list[Problem]:
        """Listed by :meth:`finish`, with the file's duplicates at their place in line order, as a plan lists them."""
        self._cap_number(problems)
        return []

    def _cap_number(self, cap: CappedProblems) -> int:
        if not self._caps or self._caps[-1] is not cap:  # a file's targets are declared one after another
            self._caps.append(cap)
        return len(self._caps) - 1

    def finish(self) -> list[Problem]:
        """Every emails file's problems and duplicates, capped together as a plan caps them (the first by line,
        then one counting the rest); duplicates of targets declared in manifests, all of them."""
        self._buffer.sort(key=_key)
        last: list[str] = self._buffer  # merged from memory, after every written run (declared later)
        self._buffer = []
        while len(self._runs) >= self.fan_in:
            groups = [self._runs[i : i + self.fan_in] for i in range(0, len(self._runs), self.fan_in)]
            self._runs = [self._merged_into_run(group) for group in groups]
        found = _Duplicates(self._caps)
        scopes, sources, fields = list(self._scopes), list(self._sources), list(self._fields)
        with ExitStack() as stack:
            streams: list[Iterator[str]] = [stack.enter_context(run.open(encoding="utf-8")) for run in self._runs]
            streams.append(iter(last))
            previous: str | None = None
            first: str = ""
            for record in heapq.merge(*streams, key=_key):
                key = _key(record)
                if key != previous:
                    previous, first = key, record
                    self.distinct += 1
                    continue
                found.add(_cap_of(record), _problem(scopes, sources, fields, first, record))
        for run in self._runs:
            run.unlink()
        return found.listed()

    def _spill(self) -> None:
        self._buffer.sort(key=_key)
        self._runs.append(self._write(self._buffer))
        self._buffer = []

    def _merged_into_run(self, group: list[Path]) -> Path:
        with ExitStack() as stack:
            streams = [stack.enter_context(run.open(encoding="utf-8")) for run in group]
            merged = self._write(heapq.merge(*streams, key=_key))
        for run in group:
            run.unlink()
        return merged

    def _write(self, records: Iterable[str]) -> Path:
        try:
            if self.directory is None:
                self.directory = self._make_directory() if callable(self._make_directory) else self._make_directory
            path = self.directory / f"run-{self._written:06d}.txt"
            self._written += 1
            with path.open("w", encoding="utf-8", newline="\n") as out:
                out.writelines(records)
        except OSError as exc:
            where = exc.filename or self.directory or "the temporary directory"
            raise CouponctlError(
                f"validate cannot write its temporary files ({exc.strerror or exc}: {where}); "
                "set TMPDIR to a writable directory with space (docs/manifests.md)"
            ) from None
        return path


def _item(scopes: list[Scope], sources: list[Source], fields: list[str], record: str) -> tuple[Scope, DesiredItem, str]:
    key, source_no, line, column, field_no, _ = record.rstrip("\n").split("\t")
    scope_no, _, rest = key.partition(":")
    value = rest.partition(":")[2]
    source = sources[int(source_no)]
    position = Position(source.file, int(line), int(column))
    item = DesiredItem(Target(source.kind, value), source.manifest, position)
    return scopes[int(scope_no)], item, fields[int(field_no)]


def _problem(scopes: list[Scope], sources: list[Source], fields: list[str], first: str, record: str) -> Problem:
    _, first_item, _ = _item(scopes, sources, fields, first)
    scope, item, field = _item(scopes, sources, fields, record)
    return duplicate_target(scope, first_item, item, field)


def _cap_of(record: str) -> int:
    return int(record[record.rindex("\t") + 1 :])


class _Duplicates:
    """Per emails file read, the ``limit + 1`` duplicates of the lowest positions (a bounded heap each) and a count
    of all; duplicates of targets declared in manifests (whose YAML is bounded in size), all of them."""

    def __init__(self, caps: list[CappedProblems]) -> None:
        self._caps = caps
        self._kept: list[list[tuple[int, int, int, Problem]]] = [[] for _ in caps]
        self._counts = [0] * len(caps)
        self._uncapped: list[Problem] = []
        self._order = 0

    def add(self, cap_no: int, problem: Problem) -> None:
        if cap_no < 0:
            self._uncapped.append(problem)
            return
        heap = self._kept[cap_no]
        self._counts[cap_no] += 1
        self._order += 1
        entry = (-problem.line, -problem.column, -self._order, problem)
        if len(heap) <= self._caps[cap_no].limit:
            heapq.heappush(heap, entry)
        else:
            heapq.heappushpop(heap, entry)

    def listed(self) -> list[Problem]:
        out = list(self._uncapped)
        for cap, heap, count in zip(self._caps, self._kept, self._counts, strict=True):
            out.extend(cap.listed_with([entry[3] for entry in sorted(heap, reverse=True)], count))
        return out
