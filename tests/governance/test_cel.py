"""The CEL layer: a condition compiles against declared variables or is a located problem; it reads exactly the
variables it names; evaluating it gives a bool, or an EvaluationError (never the library's own exception)."""

from __future__ import annotations

import pytest

from reconciler.errors import CouponctlError
from reconciler.governance.cel import CompileProblem, EvaluationError, Kind, Program, compile_condition

DECLARED = {
    "amount": Kind.DYN,
    "currency": Kind.STRING,
    "target": Kind.STRING_MAP,
    "manifest": Kind.MAP,
    "declared": Kind.LIST,
}


def program(expression: str) -> Program:
    compiled = compile_condition(expression, DECLARED)
    assert isinstance(compiled, Program), compiled
    return compiled


def problem(expression: str) -> CompileProblem:
    compiled = compile_condition(expression, DECLARED)
    assert isinstance(compiled, CompileProblem), compiled
    return compiled


def test_a_condition_holds_or_not_over_its_values() -> None:
    rule = program('amount > 500 && target.kind == "email"')
    assert rule.holds({"amount": 600.0, "target": {"kind": "email", "value": "a@b.c"}})
    assert not rule.holds({"amount": 100.0, "target": {"kind": "email", "value": "a@b.c"}})


def test_numbers_compare_across_int_and_double() -> None:
    assert program("amount > 500").holds({"amount": 500.5})
    assert program("amount == 100").holds({"amount": 100.0})


@pytest.mark.parametrize(
    ("expression", "line", "column"),
    [
        ("amount > ", 1, 10),  # a syntax error at the end
        ("amount >\n  && true", 2, 3),  # on the second line of the expression
        ("nothing > 1", 1, 1),  # an undeclared variable
        ('currency + 1 == "x"', 1, 10),  # a type error: no + for string and int
        ("target.value.endsWith(1)", 1, 22),  # a wrong argument type
    ],
)
def test_a_problem_is_located_in_the_expression(expression: str, line: int, column: int) -> None:
    found = problem(expression)
    assert (found.line, found.column) == (line, column)
    assert found.message


def test_a_condition_that_can_never_be_a_bool_does_not_compile() -> None:
    assert "bool" in problem("currency").message
    assert "bool" in problem("amount + 1.0 > 0.0 ? currency : currency").message


def test_the_variables_a_condition_reads_are_exactly_those_it_names() -> None:
    assert program('amount > 1 && currency == "USD"').variables == {"amount", "currency"}
    # A comprehension variable that shadows a declared one is not a read of it.
    assert program("declared.exists(amount, amount.manifest == 'x')").variables == {"declared"}
    assert program("true").variables == frozenset()


@pytest.mark.parametrize(
    ("expression", "values"),
    [
        ("manifest.labels.campaign == 'x'", {"manifest": {"name": "m", "labels": {}}}),  # a missing key
        ("amount > 1", {"amount": None}),  # null compared with a number
        ("amount / 0 > 1", {"amount": 1}),  # division by zero
        ("manifest.labels.team", {"manifest": {"labels": {"team": "growth"}}}),  # not a bool
        ("amount > 1", {}),  # a variable not given a value
        ("amount > 1", {"amount": object()}),  # a value CEL cannot take
    ],
)
def test_what_cannot_be_evaluated_raises_a_couponctl_error(expression: str, values: dict[str, object]) -> None:
    with pytest.raises(EvaluationError) as raised:
        program(expression).holds(values)
    assert isinstance(raised.value, CouponctlError)
    assert str(raised.value)
