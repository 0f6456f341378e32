"""Hardened YAML loading: plain data plus the position of every node, and no traceback for any input.

The YAML parser (libyaml when available) only produces events; this module builds the data from them
itself, so that it can record positions, refuse duplicate keys, unsupported tags, merge keys, deep nesting
and alias bombs, and never construct anything but str, int, Decimal, bool, None, list and dict.

Scalars follow YAML 1.1 (PyYAML's resolver) with three deliberate changes: integers are plain decimal
digits only (``0755``, ``0x1F``, ``1_000`` and ``1:30`` stay strings, so ids keep their digits), floats
become exact ``Decimal`` values (money is never a binary float), and timestamps stay strings.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import cast

import yaml

from reconciler.errors import InputError, Problem

try:
    from yaml import CSafeLoader as _ParserBase
except ImportError:  # pragma: no cover - PyYAML built without libyaml
    from yaml import SafeLoader as _ParserBase  # type: ignore[assignment]

MiB = 1024 * 1024
MAX_MANIFEST_BYTES = 10 * MiB
"""The largest manifest or config file read; larger lists belong in ``emailsFrom`` files."""
MAX_DEPTH = 64
"""The deepest nesting of mappings and sequences accepted."""
MAX_ALIAS_EXPANSION = 10_000
"""How many nodes aliases may add to a document in total (a guard against "billion laughs")."""

Key = str | int
NodePath = tuple[Key, ...]
Pos = tuple[int, int]

_TAG = "tag:yaml.org,2002:"
_BOMB = f"aliases expand this document by more than {MAX_ALIAS_EXPANSION} nodes (an alias bomb?): refused"
_DECIMAL_INT = re.compile(r"[-+]?(?:0|[1-9][0-9]*)")
_FLOAT = re.compile(r"[-+]?(?:[0-9][0-9_]*)?\.[0-9_]*(?:[eE][-+]?[0-9]+)?")
# Characters YAML forbids in a stream (C0/C1 controls except tab, LF, CR, NEL; surrogates; U+FFFE/U+FFFF).
_FORBIDDEN = re.compile("[^\x09\x0a\x0d\x20-\x7e\x85\xa0-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def field_name(path: NodePath) -> str:
    """A node path as a dotted field name: ``spec.distribute.accounts[3]``."""
    out = ""
    for key in path:
        out += f"[{key}]" if isinstance(key, int) else (f".{key}" if out else key)
    return out


@dataclass(frozen=True)
class Document:
    """One YAML document: plain data, and 1-based (line, column) positions by node path."""

    file: str
    start: Pos
    data: object
    positions: Mapping[NodePath, Pos]
    key_positions: Mapping[NodePath, Pos]

    def at(self, path: NodePath) -> Pos:
        """The position of the node at ``path``, or of its nearest ancestor that has one."""
        while path not in self.positions and path:
            path = path[:-1]
        return self.positions.get(path, self.start)

    def key_at(self, path: NodePath) -> Pos:
        """The position of the key that holds ``path``, else of the node itself."""
        return self.key_positions.get(path) or self.at(path)

    def problem(self, path: NodePath, message: str, *, at_key: bool = False) -> Problem:
        line, column = self.key_at(path) if at_key else self.at(path)
        return Problem(self.file, line, column, field_name(path), message)


@dataclass
class LoadedFile:
    """The documents of one file, and the problems found while loading them."""

    documents: list[Document] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)


def read_bytes(path: Path, display: str, *, max_bytes: int, what: str) -> bytes:
    """The file's bytes, refusing files over ``max_bytes``; raise InputError naming the file."""
    try:
        with path.open("rb") as stream:
            data = stream.read(max_bytes + 1)
    except OSError as exc:
        raise InputError([Problem(display, 0, 0, "", f"cannot read: {exc.strerror or exc}")]) from None
    if len(data) > max_bytes:
        raise InputError([too_large(display, max_bytes, what)])
    return data


def too_large(display: str, max_bytes: int, what: str) -> Problem:
    """The problem of a file over its size limit."""
    limit = f"{max_bytes / MiB:g} MiB" if max_bytes >= MiB else f"{max_bytes} bytes"
    return Problem(display, 0, 0, "", f"file is too large: the limit for {what} is {limit}")


def decode_utf8(data: bytes, display: str) -> str:
    """Decode UTF-8 (a leading BOM is dropped); raise InputError at the first bad byte."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        column = exc.start - (data.rfind(b"\n", 0, exc.start) + 1) + 1
        message = f"not valid UTF-8 (byte 0x{data[exc.start]:02x})"
        raise InputError([Problem(display, line, column, "", message)]) from None
    return text.removeprefix("\ufeff")


def load_yaml(path: Path, display: str, *, max_bytes: int | None = None, what: str = "manifests") -> LoadedFile:
    """Read and parse every document of a YAML file (at most ``max_bytes``, default MAX_MANIFEST_BYTES).
    Empty documents are skipped."""
    max_bytes = MAX_MANIFEST_BYTES if max_bytes is None else max_bytes
    try:
        text = decode_utf8(read_bytes(path, display, max_bytes=max_bytes, what=what), display)
    except InputError as exc:
        return LoadedFile(problems=list(exc.problems))
    return parse_yaml(text, display)


def parse_yaml(text: str, display: str) -> LoadedFile:
    """Parse every document of ``text``; ``display`` names the file in positions and problems."""
    bad = _FORBIDDEN.search(text)
    if bad:
        line, column = _offset_position(text, bad.start())
        message = f"character U+{ord(bad.group()):04X} is not allowed in YAML"
        return LoadedFile(problems=[Problem(display, line, column, "", message)])
    result = LoadedFile()
    try:
        for builder in _Builder.documents(text, display):
            result.problems.extend(builder.problems)
            if builder.document is not None and builder.document.data is not None:
                result.documents.append(builder.document)
    except yaml.MarkedYAMLError as exc:
        result = LoadedFile(problems=[_syntax_problem(exc, display)])
    except yaml.YAMLError as exc:  # ReaderError and the like, without a mark
        result = LoadedFile(problems=[Problem(display, 0, 0, "", f"invalid YAML: {type(exc).__name__}")])
    except _Abort as exc:
        result = LoadedFile(problems=[exc.problem])
    return result


def _position(event: yaml.Event | None) -> Pos:
    mark = event.start_mark if event is not None else None
    return (mark.line + 1, mark.column + 1) if mark is not None else (0, 0)


def _offset_position(text: str, offset: int) -> Pos:
    return text.count("\n", 0, offset) + 1, offset - (text.rfind("\n", 0, offset) + 1) + 1


def _syntax_problem(exc: yaml.MarkedYAMLError, display: str) -> Problem:
    # Never str(exc): it quotes the offending line, which may hold a secret.
    mark = exc.problem_mark or exc.context_mark
    line, column = (mark.line + 1, mark.column + 1) if mark else (0, 0)
    message = exc.problem or "invalid YAML"
    if exc.context:
        message = f"{message} ({exc.context})"
    return Problem(display, line, column, "", f"YAML syntax error: {message}")


class _EventParser(_ParserBase):
    """A safe loader used only for its parser and its tag resolver: no object is ever constructed by it."""


class _Abort(Exception):
    """A problem that stops reading the whole file (nesting too deep)."""

    def __init__(self, problem: Problem) -> None:
        super().__init__(str(problem))
        self.problem = problem


@dataclass
class _Frame:
    """An open mapping or sequence while its events arrive."""

    value: dict[str, object] | list[object]
    path: NodePath
    anchor: str | None
    size: int = 1
    key: str | None = None
    skip_value: bool = False


class _Builder:
    """Builds one document from parser events; collects its problems."""

    def __init__(self, parser: _EventParser, display: str, start: Pos) -> None:
        self.parser = parser
        self.display = display
        self.start = start
        self.positions: dict[NodePath, Pos] = {}
        self.key_positions: dict[NodePath, Pos] = {}
        self.anchors: dict[str, tuple[object, int]] = {}
        self.expansion = 0
        self.problems: list[Problem] = []
        self.document: Document | None = None
        self.bombed = False
        self.root: object = None

    @classmethod
    def documents(cls, text: str, display: str) -> Iterator[_Builder]:
        parser = _EventParser(text)
        try:
            parser.get_event()  # StreamStart
            while not parser.check_event(yaml.StreamEndEvent):
                builder = cls(parser, display, _position(parser.get_event()))  # at DocumentStart
                builder.build()
                yield builder
        finally:
            parser.dispose()

    def build(self) -> None:
        stack: list[_Frame] = []
        while not isinstance(event := self.parser.get_event(), yaml.DocumentEndEvent):
            if self.bombed or event is None:
                continue  # read the rest of the document, build nothing
            if isinstance(event, yaml.MappingEndEvent | yaml.SequenceEndEvent):
                frame = stack.pop()
                self._register(frame.anchor, frame.value, frame.size)
                self._attach(stack, frame.value, frame.size)
            elif stack and isinstance(stack[-1].value, dict) and stack[-1].key is None:
                self._take_key(stack[-1], event, _position(event))
            else:
                self._node(stack, event, self._child_path(stack), _position(event))
        if not self.bombed:
            self.document = Document(self.display, self.start, self.root, self.positions, self.key_positions)

    def _node(self, stack: list[_Frame], event: yaml.Event, path: NodePath, pos: Pos) -> None:
        """Start a collection, or attach a scalar or alias."""
        if isinstance(event, yaml.AliasEvent):
            value, size = self._alias(event.anchor or "", path, pos)
            if self.expansion > MAX_ALIAS_EXPANSION:
                self._add(path, pos, _BOMB)
                self.bombed = True
        elif isinstance(event, yaml.ScalarEvent):
            value, size = self._scalar(event, path, pos), 1
            self._register(event.anchor, value, size)
        else:
            self._open(stack, event, path, pos)
            return
        self.positions[path] = pos
        self._attach(stack, value, size)

    def _child_path(self, stack: list[_Frame]) -> NodePath:
        if not stack:
            return ()
        top = stack[-1]
        if isinstance(top.value, dict):
            return (*top.path, top.key or "")
        return (*top.path, len(top.value))

    def _open(self, stack: list[_Frame], event: yaml.Event, path: NodePath, pos: Pos) -> None:
        if len(stack) >= MAX_DEPTH:
            raise _Abort(Problem(self.display, pos[0], pos[1], "", f"nested deeper than {MAX_DEPTH} levels"))
        is_map = isinstance(event, yaml.MappingStartEvent)
        tag = getattr(event, "tag", None)
        if tag not in (None, "!", _TAG + ("map" if is_map else "seq")):
            self._add(path, pos, f"unsupported YAML tag {_short(tag)}")
        self.positions[path] = pos
        container: dict[str, object] | list[object] = {} if is_map else []
        if not stack:
            self.root = container
        stack.append(_Frame(container, path, getattr(event, "anchor", None)))

    def _take_key(self, frame: _Frame, event: yaml.Event, pos: Pos) -> None:
        if not isinstance(event, yaml.ScalarEvent):
            raise _Abort(Problem(self.display, pos[0], pos[1], field_name(frame.path), "keys must be plain scalars"))
        key = event.value
        path = (*frame.path, key)
        frame.key, frame.skip_value = key, False
        if event.tag is None and event.implicit[0] and self._resolve(event) == _TAG + "merge":
            self._add(path, pos, "merge keys (<<) are not supported")
            frame.skip_value = True
        elif isinstance(frame.value, dict) and key in frame.value:
            first = self.key_positions.get(path, (0, 0))
            self._add(path, pos, f"duplicate key (first at line {first[0]})")
        else:
            self.key_positions[path] = pos

    def _attach(self, stack: list[_Frame], value: object, size: int) -> None:
        """Add ``value`` to the innermost open collection, or make it the document's root."""
        if not stack:
            self.root = value
            return
        parent = stack[-1]
        parent.size += size
        if isinstance(parent.value, list):
            parent.value.append(value)
        else:
            key = parent.key or ""
            if not parent.skip_value:
                parent.value[key] = value
            parent.key = None

    def _alias(self, anchor: str, path: NodePath, pos: Pos) -> tuple[object, int]:
        if anchor not in self.anchors:
            self._add(path, pos, f"alias *{anchor} has no complete anchor before it (recursive aliases are refused)")
            return None, 1
        value, size = self.anchors[anchor]
        self.expansion += size
        return value, size

    def _register(self, anchor: str | None, value: object, size: int) -> None:
        if anchor is not None:
            self.anchors[anchor] = (value, size)

    def _resolve(self, event: yaml.ScalarEvent) -> str:
        resolve = cast(Callable[[type[yaml.Node], str, tuple[bool, bool]], str], self.parser.resolve)
        return resolve(yaml.ScalarNode, event.value, event.implicit)

    def _scalar(self, event: yaml.ScalarEvent, path: NodePath, pos: Pos) -> object:
        tag = event.tag
        if tag is None or tag == "!":
            tag = self._resolve(event) if tag is None else _TAG + "str"
        text = event.value
        kind = tag.removeprefix(_TAG) if tag.startswith(_TAG) else None
        if kind == "int":
            return int(text) if _DECIMAL_INT.fullmatch(text) else text
        if kind == "float":
            return _decimal(text)
        if kind == "bool":
            return text.lower() in ("yes", "true", "on")
        if kind == "null":
            return None
        if kind not in ("str", "timestamp", "merge", "value"):
            self._add(path, pos, f"unsupported YAML tag {_short(tag)}")
            return None
        return text

    def _add(self, path: NodePath, pos: Pos, message: str) -> None:
        self.problems.append(Problem(self.display, pos[0], pos[1], field_name(path), message))


def _short(tag: str) -> str:
    return "!!" + tag.removeprefix(_TAG) if tag.startswith(_TAG) else tag


def _decimal(text: str) -> object:
    if not _FLOAT.fullmatch(text):
        return text  # .inf, .nan, sexagesimal: not a number couponctl accepts
    try:
        return Decimal(text.replace("_", ""))
    except InvalidOperation:
        return text
