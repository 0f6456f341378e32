"""CEL (Common Expression Language) through cel-expr-python, the CEL team's binding of the C++ implementation: the
one module that imports it. Compile an expression against declared variables (a program, or a problem located in
the expression), evaluate a program over values, and turn what the library raises or returns into couponctl's own
errors. Why this binding: README.md, Dependencies."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from functools import cache

import cel_expr_python.cel as cel

from reconciler.errors import CouponctlError


class Kind(StrEnum):
    """The CEL type a variable is declared with. Numbers are ``dyn``, so that ``amount > 500`` and
    ``amount > 500.0`` both hold for a double (CEL compares numbers of different types at run time, but its
    checker refuses ``double > int``); strings and string maps are typed, so misuse is caught when the config
    loads."""

    STRING = "string"
    DYN = "dyn"
    STRING_MAP = "map(string, string)"
    MAP = "map(string, dyn)"
    LIST = "list(map(string, dyn))"


Declarations = Mapping[str, Kind]


@dataclass(frozen=True, slots=True)
class CompileProblem:
    """Why an expression does not compile, at ``line``:``column`` (1-based, in code points) of the expression."""

    line: int
    column: int
    message: str


class EvaluationError(CouponctlError):
    """A program that could not be evaluated over the values given (a missing key, a type error, a division by
    zero), or whose result is not a bool; the message says why, in the library's words."""


class Program:
    """A compiled expression, and the declared variables it reads (those without which it does not compile):
    evaluate it over values for exactly those."""

    __slots__ = ("_expression", "variables")

    def __init__(self, expression: cel.Expression, variables: frozenset[str]) -> None:
        self._expression = expression
        self.variables = variables

    def holds(self, values: Mapping[str, object]) -> bool:
        """The condition's value over ``values`` (str, int, float, bool, None, and lists and str-keyed dicts of
        them); raise EvaluationError when it cannot be evaluated or is not a bool."""
        try:
            result = self._expression.eval(data=values)
            kind = result.type()
            value = result.value()
        except (RuntimeError, TypeError, ValueError) as exc:  # a value the binding cannot convert
            raise EvaluationError(_status_text(str(exc))) from None
        if kind == cel.Type.BOOL and isinstance(value, bool):
            return value
        if kind == cel.Type.ERROR:
            raise EvaluationError(_status_text(str(value)))
        raise EvaluationError(f"the condition is {kind.name().lower()}, not a bool (true or false)")


_ERROR = re.compile(r"ERROR: <input>:(\d+):(\d+): ([^\n]*)")
_STATUS = re.compile(r"^[A-Z_]+: ")


def compile_condition(expression: str, declarations: Declarations) -> Program | CompileProblem:
    """``expression`` compiled and type-checked against ``declarations``: a Program whose result may be a bool,
    or the first problem (a syntax error, an undeclared variable or function, a type error, a result that can
    never be a bool)."""
    return _compile(expression, tuple(sorted(declarations.items())))


@cache
def _compile(expression: str, declared: tuple[tuple[str, Kind], ...]) -> Program | CompileProblem:
    try:
        compiled = _environment(declared).compile(expression)
    except RuntimeError as exc:
        return _problem(str(exc))
    result = compiled.return_type()
    if result != cel.Type.BOOL and result != cel.Type.DYN:
        return CompileProblem(1, 1, f"the condition is {result.name().lower()}, not a bool (true or false)")
    return Program(compiled, _read(expression, declared))


def _read(expression: str, declared: tuple[tuple[str, Kind], ...]) -> frozenset[str]:
    """The declared variables ``expression`` reads: those without which it no longer compiles (a comprehension
    variable that shadows one is not a read of it)."""
    read = set()
    for name, _ in declared:
        without = tuple(entry for entry in declared if entry[0] != name)
        try:
            _environment(without).compile(expression)
        except RuntimeError:
            read.add(name)
    return frozenset(read)


@cache
def _environment(declared: tuple[tuple[str, Kind], ...]) -> cel.Env:
    return cel.NewEnv(variables={name: _TYPES[kind]() for name, kind in declared})


_TYPES = {
    Kind.STRING: lambda: cel.Type.STRING,
    Kind.DYN: lambda: cel.Type.DYN,
    Kind.STRING_MAP: lambda: cel.Type.Map(cel.Type.STRING, cel.Type.STRING),
    Kind.MAP: lambda: cel.Type.Map(cel.Type.STRING, cel.Type.DYN),
    Kind.LIST: lambda: cel.Type.List(cel.Type.Map(cel.Type.STRING, cel.Type.DYN)),
}


def _problem(text: str) -> CompileProblem:
    """The first error of the library's report (``ERROR: <input>:LINE:COL: message``, then the line quoted)."""
    found = _ERROR.search(text)
    if found is None:
        return CompileProblem(1, 1, _status_text(text.splitlines()[0] if text else "does not compile"))
    return CompileProblem(int(found.group(1)), int(found.group(2)), found.group(3).strip())


def _status_text(text: str) -> str:
    """A status message without its code (``NOT_FOUND: Key not found in map`` -> ``Key not found in map``)."""
    return _STATUS.sub("", text.strip()).removesuffix("[INVALID_ARGUMENT]").strip()
