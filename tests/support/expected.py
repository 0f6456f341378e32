"""Expected problem lines in fixtures: exact, except where the wording is the YAML parser's own.

A line of expected.txt that ends with ``YAML syntax error: …`` (a literal ellipsis) matches any line with the same
location and that prefix: couponctl promises the refusal and where it is, not the parser's words, which change
between releases of the parser.
"""

from __future__ import annotations

from collections.abc import Sequence

ANY_WORDING = "YAML syntax error: …"


def line_matches(actual: str, expected: str) -> bool:
    if expected.endswith(ANY_WORDING):
        prefix = expected[: -len("…")]
        return actual.startswith(prefix) and len(actual) > len(prefix)
    return actual == expected


def lines_match(actual: Sequence[str], expected: Sequence[str]) -> bool:
    return len(actual) == len(expected) and all(line_matches(a, e) for a, e in zip(actual, expected, strict=True))
