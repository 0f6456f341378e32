"""Where a place inside a YAML string value is in its file: a problem CEL finds at line:column of a rule's ``when``
is reported at the file's line:column of that character, whatever the scalar's style (plain, single- or
double-quoted, literal ``|`` or folded ``>`` block).

The loader gives the position of the scalar's first character (its opening quote or block indicator). From there
the raw text is walked beside the parsed value: what the scalar's style turns into something else (an escape, a
doubled quote, indentation, a folded line break) is matched to the value's character it became."""

from __future__ import annotations

_HEX_ESCAPES = {"x": 2, "u": 4, "U": 8}
_SKIPPED = " \t\r\n"


def value_offset(value: str, line: int, column: int) -> int:
    """The offset in ``value`` of its 1-based ``line`` and ``column`` (in code points), clamped to the value."""
    offset = 0
    for _ in range(line - 1):
        newline = value.find("\n", offset)
        if newline < 0:
            break
        offset = newline + 1
    return max(0, min(len(value), offset + column - 1))


def source_position(source: str, start: tuple[int, int], value: str, offset: int) -> tuple[int, int]:
    """The 1-based line and column in ``source`` of ``value[offset]``, where ``value`` is the scalar that begins
    at ``start`` (1-based line and column). Past the value's end: the position after its last character."""
    begin = _index(source, start)
    if begin >= len(source):
        return start
    style = source[begin]
    if style in "|>":
        walk = _block_start(source, begin)
    elif style in "'\"":
        walk = begin + 1
    else:
        walk = begin
    at = _align(source, walk, value, offset, style)
    return _line_column(source, at)


def _align(source: str, at: int, value: str, offset: int, style: str) -> int:
    """The index in ``source`` of ``value[offset]``, walking both from ``at``."""
    for index, char in enumerate(value):
        at = _next(source, at, char, style)
        if index == offset or at >= len(source):
            return min(at, len(source))
        at += _width(source, at, style)
    return min(at, len(source))


def _next(source: str, at: int, char: str, style: str) -> int:
    """The index where ``char`` of the value is written at or after ``at``: the raw text skipped on the way is
    what the style dropped (indentation, a folded or escaped line break)."""
    while at < len(source):
        raw = source[at]
        if raw == char and not (style == '"' and raw == "\\"):
            return at
        if style == '"' and raw == "\\":
            if source[at + 1 : at + 2] == "\n":  # an escaped line break: nothing in the value
                at += 2
                continue
            return at  # an escape stands for this character
        if style == "'" and raw == "'" and char == "'":
            return at
        if raw == "\n" and char == " " and style != "|":  # a folded line break became a space
            return at
        if raw in _SKIPPED:
            at += 1
            continue
        return at  # nothing to skip: the value and the text disagree here; stay
    return at


def _width(source: str, at: int, style: str) -> int:
    """How many raw characters the value's character at ``at`` took."""
    raw = source[at]
    if style == '"' and raw == "\\":
        letter = source[at + 1 : at + 2]
        return 2 + _HEX_ESCAPES.get(letter, 0)
    if style == "'" and source[at : at + 2] == "''":
        return 2
    return 1


def _block_start(source: str, indicator: int) -> int:
    """The first character after a block scalar's header line (``|``, ``>-``, ``|2`` and a comment)."""
    newline = source.find("\n", indicator)
    return len(source) if newline < 0 else newline + 1


def _index(source: str, position: tuple[int, int]) -> int:
    line, column = position
    index = 0
    for _ in range(line - 1):
        newline = source.find("\n", index)
        if newline < 0:
            return len(source)
        index = newline + 1
    return index + column - 1


def _line_column(source: str, index: int) -> tuple[int, int]:
    line_start = source.rfind("\n", 0, index) + 1
    return source.count("\n", 0, index) + 1, index - line_start + 1
