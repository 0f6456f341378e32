"""Streamed JSON is exactly json.dumps's text, with lazy arrays produced only while written."""

from __future__ import annotations

import json
from typing import Any

import pytest

from reconciler.plan.jsonstream import Lazy, iter_json

VALUES: list[Any] = [
    {},
    [],
    {"a": [], "b": {}, "c": [1, {"d": None, "e": 'é"\\n'}], "z": True, "y": 1.5, "x": "x"},
    [[], [[]], {"k": [{"m": [1, 2]}]}],
    "plain",
    None,
]


@pytest.mark.parametrize("value", VALUES)
@pytest.mark.parametrize("indent", [None, 2])
@pytest.mark.parametrize("sort_keys", [False, True])
def test_the_text_is_json_dumps_s(value: Any, indent: int | None, sort_keys: bool) -> None:
    separators = None if indent is not None else (",", ":")
    expected = json.dumps(value, indent=indent, sort_keys=sort_keys, ensure_ascii=False, separators=separators)
    assert "".join(iter_json(value, indent=indent, sort_keys=sort_keys)) == expected


def test_lazy_arrays_are_written_like_lists_and_produced_each_time() -> None:
    made: list[int] = []

    def items() -> Any:
        for n in range(3):
            made.append(n)
            yield {"n": n}

    value = {"items": Lazy(items), "empty": Lazy(lambda: iter(()))}
    expected = json.dumps({"items": [{"n": 0}, {"n": 1}, {"n": 2}], "empty": []}, indent=2)
    assert "".join(iter_json(value, indent=2)) == expected
    assert "".join(iter_json(value, indent=2)) == expected
    assert made == [0, 1, 2, 0, 1, 2]


@pytest.mark.parametrize("count", [0, 1, 999, 1000, 1001, 2500])
@pytest.mark.parametrize("indent", [None, 2])
def test_lazy_arrays_of_any_length_nested_at_any_depth_match_json_dumps(count: int, indent: int | None) -> None:
    rows = [{"target": {"kind": "email", "value": f"u{n}@example.com"}, "n": n} for n in range(count)]
    value = {"scopes": [{"name": "a", "items": Lazy(lambda: iter(rows)), "tail": [1, 2]}]}
    separators = None if indent is not None else (",", ":")
    expected = json.dumps(
        {"scopes": [{"name": "a", "items": rows, "tail": [1, 2]}]}, indent=indent, separators=separators
    )
    assert "".join(iter_json(value, indent=indent)) == expected
