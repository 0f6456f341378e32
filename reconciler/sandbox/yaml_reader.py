"""Reading composed YAML nodes with their positions, collecting every problem instead of stopping at the first."""

from __future__ import annotations

import contextlib
import re
from collections.abc import Callable
from datetime import date, datetime
from typing import TypeVar

import yaml

from reconciler.errors import Problem

T = TypeVar("T")


class NodeReader:
    """Reads composed YAML nodes, recording a Problem (file, line, column, field) for every value of the wrong
    shape, so that a whole file is checked at once."""

    def __init__(self, file: str) -> None:
        self.file = file
        self.problems: list[Problem] = []
        self._constructor = yaml.SafeLoader("")

    def problem(self, node: yaml.Node | None, field: str, message: str) -> None:
        mark = node.start_mark if node is not None else None
        line, column = (mark.line + 1, mark.column + 1) if mark is not None else (0, 0)
        self.problems.append(Problem(self.file, line, column, field, message))

    def value(self, node: yaml.Node) -> object:
        return self._constructor.construct_object(node, deep=True)

    def mapping(
        self, node: yaml.Node, field: str, *, required: tuple[str, ...], known: tuple[str, ...]
    ) -> dict[str, yaml.Node] | None:
        if not isinstance(node, yaml.MappingNode):
            self.problem(node, field, "expected a mapping")
            return None
        result: dict[str, yaml.Node] = {}
        for key_node, value_node in node.value:
            key = str(key_node.value)
            where = f"{field}.{key}" if field else key
            if key not in known:
                self.problem(key_node, where, f"unknown field (expected one of: {', '.join(known)})")
            elif key in result:
                self.problem(key_node, where, "given twice")
            else:
                result[key] = value_node
        for key in required:
            if key not in result:
                self.problem(node, f"{field}.{key}" if field else key, "required field is missing")
        return result

    def items(
        self, node: yaml.Node | None, field: str, read: Callable[[NodeReader, yaml.Node, str], T | None]
    ) -> list[T]:
        if node is None or (isinstance(node, yaml.ScalarNode) and self.value(node) is None):
            return []
        if not isinstance(node, yaml.SequenceNode):
            self.problem(node, field, "expected a list")
            return []
        out = (read(self, child, f"{field}[{index}]") for index, child in enumerate(node.value))
        return [item for item in out if item is not None]

    def opt(
        self, m: dict[str, yaml.Node], key: str, field: str, check: Callable[[yaml.Node, str], T | None]
    ) -> T | None:
        node = m.get(key)
        if node is None or (isinstance(node, yaml.ScalarNode) and self.value(node) is None):
            return None
        return check(node, field)

    def _scalar(self, node: yaml.Node, field: str, what: str) -> object:
        if not isinstance(node, yaml.ScalarNode):
            self.problem(node, field, f"expected {what}")
            return None
        return self.value(node)

    def string(self, node: yaml.Node, field: str) -> str | None:
        value = self._scalar(node, field, "a string")
        if isinstance(value, bool) or not isinstance(value, str | int | float) or str(value).strip() == "":
            if value is not None:
                self.problem(node, field, "expected a non-empty string")
            return None
        return str(value)

    def secret(self, node: yaml.Node, field: str) -> str | None:
        value = self.string(node, field)
        if value is not None and any(c.isspace() for c in value):
            self.problem(node, field, "must not contain spaces")
            return None
        return value

    def boolean(self, node: yaml.Node, field: str) -> bool | None:
        value = self._scalar(node, field, "true or false")
        if not isinstance(value, bool):
            self.problem(node, field, "expected true or false")
            return None
        return value

    def integer_in(self, low: int, high: int) -> Callable[[yaml.Node, str], int | None]:
        def check(node: yaml.Node, field: str) -> int | None:
            value = self._scalar(node, field, "an integer")
            if isinstance(value, str) and value.isascii() and value.isdigit():  # not "²", which int() cannot read
                value = int(value)  # ids may be quoted, as 64-bit ids are on the wire
            if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
                self.problem(node, field, f"expected an integer from {low} to {high}")
                return None
            return value

        return check

    def number_at_least(self, low: float) -> Callable[[yaml.Node, str], float | None]:
        def check(node: yaml.Node, field: str) -> float | None:
            value = self._scalar(node, field, "a number")
            if isinstance(value, bool) or not isinstance(value, int | float) or value < low or value != value:
                self.problem(node, field, f"expected a number of at least {low:g}")
                return None
            return float(value)

        return check

    def choice(self, options: tuple[str, ...]) -> Callable[[yaml.Node, str], str | None]:
        def check(node: yaml.Node, field: str) -> str | None:
            value = self._scalar(node, field, "a string")
            if value not in options:
                self.problem(node, field, f"expected one of: {', '.join(options)}")
                return None
            return str(value)

        return check

    def pattern(self, regex: str, what: str) -> Callable[[yaml.Node, str], str | None]:
        compiled = re.compile(regex)

        def check(node: yaml.Node, field: str) -> str | None:
            value = self._scalar(node, field, what)
            if not isinstance(value, str) or not compiled.fullmatch(value):
                self.problem(node, field, f"expected {what}")
                return None
            return value

        return check

    def date(self, node: yaml.Node, field: str) -> date | None:
        value = self._scalar(node, field, "a date (YYYY-MM-DD)")
        if isinstance(value, str):
            with contextlib.suppress(ValueError):
                value = date.fromisoformat(value)
        if isinstance(value, datetime):
            return value.date()
        if not isinstance(value, date):
            self.problem(node, field, "expected a date (YYYY-MM-DD)")
            return None
        return value
