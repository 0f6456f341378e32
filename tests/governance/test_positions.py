"""A place inside a YAML string value, found in the file's text, for every scalar style: the loader gives where the
scalar begins, the walk finds the character."""

from __future__ import annotations

import pytest

from reconciler.governance.positions import source_position, value_offset
from reconciler.manifest.loader import parse_yaml


def located(text: str, needle: str) -> tuple[int, int]:
    """Where ``needle`` (found in the parsed value of key ``when``) is in ``text``, by the walk."""
    document = parse_yaml(text, "x.yaml").documents[0]
    assert isinstance(document.data, dict)
    value = document.data["when"]
    return source_position(text, document.at(("when",)), value, value.index(needle))


def spot(text: str, marker: str) -> tuple[int, int]:
    """Where ``marker`` is in ``text``, 1-based (what the walk must find)."""
    index = text.index(marker)
    return text.count("\n", 0, index) + 1, index - (text.rfind("\n", 0, index) + 1) + 1


@pytest.mark.parametrize(
    ("text", "needle", "marker"),
    [
        ("when: amount > 1 && NEEDLE\n", "NEEDLE", "NEEDLE"),  # plain
        ("when: amount > 1\n  && x\n  && NEEDLE\n", "NEEDLE", "NEEDLE"),  # plain over several lines
        ("when: 'a == ''q'' && NEEDLE'\n", "NEEDLE", "NEEDLE"),  # single-quoted, doubled quotes before
        ('when: "a == \\"é\\" && \\t NEEDLE"\n', "NEEDLE", "NEEDLE"),  # double-quoted, escapes before
        ('when: "a == \\u00e9 &&\n  NEEDLE"\n', "NEEDLE", "NEEDLE"),  # double-quoted, folded and \u escape
        ('when: "a &&\\\n  NEEDLE"\n', "NEEDLE", "NEEDLE"),  # double-quoted, escaped line break
        ("when: |\n  amount > 1 &&\n    (x || NEEDLE)\n", "NEEDLE", "NEEDLE"),  # literal block
        ("when: >-\n  amount > 1 &&\n  x &&\n\n    NEEDLE\n", "NEEDLE", "NEEDLE"),  # folded block
        ("when: |2-  # a comment\n   amount\n   && NEEDLE\n", "NEEDLE", "NEEDLE"),  # header with indicators
        ("when: 'x'\r\nother: 1\r\n", "x", "x"),  # CRLF
    ],
)
def test_each_style_finds_the_character(text: str, needle: str, marker: str) -> None:
    assert located(text, needle) == spot(text, marker)


def test_an_escape_is_found_where_it_is_written() -> None:
    text = 'when: "ab\\"c"\n'
    assert located(text, '"') == spot(text, '\\"')


def test_past_the_end_is_right_after_the_last_character() -> None:
    text = "when: 'abc'  # comment\n"
    document = parse_yaml(text, "x.yaml").documents[0]
    assert source_position(text, document.at(("when",)), "abc", 3) == spot(text, "'  #")


def test_a_line_and_column_of_the_value_is_an_offset() -> None:
    assert value_offset("ab\ncd\nef", 3, 2) == 7
    assert value_offset("ab", 1, 9) == 2  # clamped
