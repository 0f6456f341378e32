"""The hardened YAML loader: data, positions, and a clear problem (never a traceback) for bad input."""

from __future__ import annotations

import re
from decimal import Decimal
from pathlib import Path

import pytest

from reconciler.manifest import loader
from reconciler.manifest.loader import field_name, load_yaml, parse_yaml


def one(text: str) -> loader.Document:
    result = parse_yaml(text, "f.yaml")
    assert result.problems == []
    assert len(result.documents) == 1
    return result.documents[0]


def problems(text: str) -> list[str]:
    return [str(p) for p in parse_yaml(text, "f.yaml").problems]


def test_scalars_are_str_int_decimal_bool_none() -> None:
    doc = one("a: [x, 12, -3, 1.50, true, off, ~, '7', 2024-01-01]\n")
    assert doc.data == {"a": ["x", 12, -3, Decimal("1.50"), True, False, None, "7", "2024-01-01"]}
    assert isinstance(doc.data, dict)
    assert isinstance(doc.data["a"][3], Decimal)


@pytest.mark.parametrize("text", ["0755", "0x1F", "1_000", "1:30", "0b101", ".inf", ".nan"])
def test_yaml11_number_forms_stay_strings(text: str) -> None:
    # ids keep their digits; no octal, hex, sexagesimal or non-finite number sneaks in
    assert one(f"a: {text}\n").data == {"a": text}


def test_positions_of_values_and_keys_are_one_based() -> None:
    doc = one("spec:\n  accounts:\n    - 1\n    - 2\n")
    assert doc.at(("spec", "accounts", 1)) == (4, 7)
    assert doc.key_at(("spec", "accounts")) == (2, 3)
    assert doc.at(("spec", "missing", 3)) == doc.at(("spec",))  # nearest ancestor


def test_field_name_is_dotted_with_indexes() -> None:
    assert field_name(("spec", "distribute", "accounts", 3)) == "spec.distribute.accounts[3]"
    assert field_name(()) == ""


def test_multiple_documents_and_empty_ones_are_skipped() -> None:
    result = parse_yaml("a: 1\n---\n---\nb: 2\n", "f.yaml")
    assert [d.data for d in result.documents] == [{"a": 1}, {"b": 2}]
    assert result.documents[1].start == (3, 1)  # its "---"


def test_duplicate_key_names_the_second_and_the_first_line() -> None:
    assert problems("a: 1\nb: 2\na: 3\n") == ["f.yaml:3:1: a: duplicate key (first at line 1)"]


def test_aliases_within_budget_are_expanded() -> None:
    assert one("a: &x [1, 2]\nb: *x\n").data == {"a": [1, 2], "b": [1, 2]}


def test_alias_bomb_is_refused_and_other_documents_survive() -> None:
    levels = ["a: &a [x, x, x, x, x, x, x, x, x, x]"]
    for name, prev in zip("bcde", "abcd", strict=True):
        levels.append(f"{name}: &{name} [" + ", ".join([f"*{prev}"] * 10) + "]")
    result = parse_yaml("\n".join(levels) + "\n---\nok: 1\n", "f.yaml")
    assert [str(p) for p in result.problems] == [
        f"f.yaml:4:36: d[7]: aliases expand this document by more than {loader.MAX_ALIAS_EXPANSION} nodes"
        " (an alias bomb?): refused"
    ]
    assert [d.data for d in result.documents] == [{"ok": 1}]


def test_recursive_alias_is_refused() -> None:
    assert problems("a: &a [*a]\n") == [
        "f.yaml:1:8: a[0]: alias *a has no complete anchor before it (recursive aliases are refused)"
    ]


def test_merge_keys_are_refused() -> None:
    assert problems("base: &b {x: 1}\nc:\n  <<: *b\n") == ["f.yaml:3:3: c.<<: merge keys (<<) are not supported"]


@pytest.mark.parametrize(
    ("text", "tag"),
    [("a: !!python/object:os.system x\n", "!!python/object:os.system"), ("a: !!binary aGk=\n", "!!binary")],
)
def test_unsupported_tags_are_refused(text: str, tag: str) -> None:
    assert problems(text) == [f"f.yaml:1:4: a: unsupported YAML tag {tag}"]


def test_nesting_one_level_too_deep_is_refused_at_the_level() -> None:
    depth = loader.MAX_DEPTH + 1  # well inside what any YAML parser accepts: couponctl's own rule refuses it
    assert problems("a: " + "[" * depth + "]" * depth) == [
        f"f.yaml:1:{loader.MAX_DEPTH + 3}: nested deeper than {loader.MAX_DEPTH} levels"
    ]
    block = "a:\n" + "".join("  " * i + "b:\n" for i in range(depth)) + "  " * depth + "x\n"
    assert problems(block) == [f"f.yaml:{depth + 1}:{2 * depth - 1}: nested deeper than {loader.MAX_DEPTH} levels"]


@pytest.mark.parametrize("opening", ["[", "{a: "])
def test_absurd_nesting_is_refused_without_crashing(opening: str) -> None:
    # A million levels: whichever refuses first (couponctl's own depth rule, or the parser's guard), the file is
    # refused with one located problem and nothing is built; the process does not crash or recurse.
    depth = 1_000_000
    found = problems("a: " + opening * depth)
    assert len(found) == 1
    assert re.fullmatch(r"f\.yaml:1:\d+: .+", found[0]), found


def test_complex_keys_are_refused() -> None:
    assert problems("? [a]\n: 1\n") == ["f.yaml:1:3: keys must be plain scalars"]


def test_forbidden_character_names_its_position() -> None:
    assert problems("a: b\nc: d\x01\n") == ["f.yaml:2:5: character U+0001 is not allowed in YAML"]


def test_syntax_error_has_line_and_column_and_no_snippet() -> None:
    got = problems("a: 1\nb: [secret-value\nc: 3\n")
    assert len(got) == 1 and got[0].startswith("f.yaml:3:2: YAML syntax error: ")
    assert "secret-value" not in got[0]


def test_invalid_utf8_names_file_line_and_byte(tmp_path: Path) -> None:
    path = tmp_path / "m.yaml"
    path.write_bytes(b"a: 1\nb: caf\xe9\n")
    assert [str(p) for p in load_yaml(path, "m.yaml").problems] == ["m.yaml:2:7: not valid UTF-8 (byte 0xe9)"]


def test_bom_is_ignored(tmp_path: Path) -> None:
    path = tmp_path / "m.yaml"
    path.write_bytes(b"\xef\xbb\xbfa: 1\n")
    assert load_yaml(path, "m.yaml").documents[0].data == {"a": 1}


def test_over_large_file_is_refused_by_size(tmp_path: Path) -> None:
    path = tmp_path / "big.yaml"
    path.write_bytes(b"# " + b"x" * loader.MAX_MANIFEST_BYTES + b"\n")
    assert [str(p) for p in load_yaml(path, "big.yaml").problems] == [
        "big.yaml: file is too large: the limit for manifests is 10 MiB"
    ]


def test_unreadable_file_is_a_problem(tmp_path: Path) -> None:
    assert [str(p) for p in load_yaml(tmp_path, "dir.yaml").problems] == ["dir.yaml: cannot read: Is a directory"]


@pytest.mark.parametrize(
    "data",
    [
        b"\x00\x01\x02",
        b"{{{{",
        b"- - - -\n  ] ]",
        b"a: |\n b\n  c\n d",
        b"&a *a",
        b"!<!x> y",
        b"%YAML 9.9\n---\na",
        b"\xff\xfe",
    ],
)
def test_garbage_gives_problems_not_tracebacks(tmp_path: Path, data: bytes) -> None:
    path = tmp_path / "g.yaml"
    path.write_bytes(data)
    result = load_yaml(path, "g.yaml")
    assert all(p.file == "g.yaml" for p in result.problems)
