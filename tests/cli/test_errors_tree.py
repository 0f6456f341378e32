"""The error tree: one root, each class defined once and documented in reconciler/errors.py, none dead; exit code
numbers written only in ExitCode; a bug's traceback goes to a debug log file, scrubbed, never to the terminal."""

from __future__ import annotations

import ast
import importlib
import pkgutil
import re
import secrets
import stat
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

import reconciler
from reconciler import errors
from reconciler.cli.debug_log import PREFIX
from reconciler.cli.main import main
from reconciler.cli.support import Settings, report_bug
from reconciler.config import redaction
from reconciler.errors import CouponctlError, ExitCode

PACKAGE = Path(reconciler.__file__).parent
ERRORS = PACKAGE / "errors.py"


def _modules() -> Iterator[tuple[Path, ast.Module]]:
    for path in sorted(PACKAGE.rglob("*.py")):
        yield path, ast.parse(path.read_text(encoding="utf-8"), str(path))


def _subclasses(root: type[Exception]) -> set[type[Exception]]:
    found: set[type[Exception]] = set()
    pending: list[type[Exception]] = [root]
    while pending:
        for sub in pending.pop().__subclasses__():
            if sub not in found:
                found.add(sub)
                pending.append(sub)
    return found


def _tree() -> set[type[Exception]]:
    """CouponctlError and every subclass of it, once every module of the package is imported."""
    for module in pkgutil.walk_packages(reconciler.__path__, "reconciler."):
        if module.name != "reconciler.__main__":
            importlib.import_module(module.name)
    return {CouponctlError, *(c for c in _subclasses(CouponctlError) if c.__module__.startswith("reconciler."))}


TREE_LINE = re.compile(r"^( +)([A-Z]\w+)\s", re.MULTILINE)  # an indented class name in the docstring


def test_the_docstring_of_errors_documents_the_whole_tree_each_class_under_its_parent() -> None:
    lines = TREE_LINE.findall(errors.__doc__ or "")
    classes = {c.__name__: c for c in _tree()}
    assert sorted(name for _, name in lines) == sorted(classes)  # every class, each once
    stack: list[tuple[int, str]] = []
    for spaces, name in lines:
        while stack and stack[-1][0] >= len(spaces):
            stack.pop()
        parent = classes[stack[-1][1]] if stack else None
        assert (parent in classes[name].__bases__) if parent else classes[name] is CouponctlError, name
        stack.append((len(spaces), name))


@pytest.mark.parametrize("name", ["JournalError", "NotSentError", "MalformedResponse"])
def test_errors_shared_by_several_modules_are_defined_once_in_errors(name: str) -> None:
    defined = [path for path, tree in _modules() for node in ast.walk(tree) if _defines(node, name)]
    assert defined == [ERRORS]
    assert issubclass(getattr(errors, name), CouponctlError)


def _defines(node: ast.AST, name: str) -> bool:
    return isinstance(node, ast.ClassDef) and node.name == name


def test_every_error_class_is_raised_or_caught_somewhere() -> None:
    used: set[str] = set()
    for _, tree in _modules():
        for node in ast.walk(tree):
            if isinstance(node, ast.Raise) and node.exc is not None:
                used |= _names(node.exc)
            elif isinstance(node, ast.ExceptHandler) and node.type is not None:
                used |= _names(node.type)
            elif isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "isinstance":
                used |= _names(node.args[1])
            elif isinstance(node, ast.Call):  # an error built here and raised or returned by its caller
                used |= _names(node.func)
    dead = sorted(c.__name__ for c in _tree() if c.__name__ not in used)
    assert dead == []


def _names(node: ast.AST) -> set[str]:
    return {n.id for n in ast.walk(node) if isinstance(n, ast.Name)} | {
        n.attr for n in ast.walk(node) if isinstance(n, ast.Attribute)
    }


EXITS = {"exit", "SystemExit", "Exit"}  # sys.exit, ctx.exit, raise SystemExit, click.exceptions.Exit


def _int_literals(node: ast.AST) -> list[int]:
    return [
        n.value
        for n in ast.walk(node)
        if isinstance(n, ast.Constant) and isinstance(n.value, int) and not isinstance(n.value, bool)
    ]


def _called(node: ast.expr) -> str:
    """The last name of ``node``: ``exit`` for ``sys.exit`` and ``ctx.exit``, ``code`` for ``self.code``."""
    return node.id if isinstance(node, ast.Name) else node.attr if isinstance(node, ast.Attribute) else ""


def _exit_numbers(tree: ast.Module) -> Iterator[tuple[int, str]]:
    """Where a number is given as an exit code: to sys.exit, ctx.exit, SystemExit or click's Exit, assigned to an
    ``exit_code`` or ``code``, or returned by an ``exit_code`` property."""
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and _called(node.func) in EXITS:
            if any(_int_literals(a) for a in (*node.args, *(k.value for k in node.keywords))):
                yield node.lineno, ast.unparse(node)
        elif isinstance(node, ast.Assign | ast.AnnAssign) and node.value is not None:
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            if any(_called(t) in ("exit_code", "code") for t in targets) and _int_literals(node.value):
                yield node.lineno, ast.unparse(node)
        elif isinstance(node, ast.FunctionDef) and node.name == "exit_code":
            for inner in ast.walk(node):
                if isinstance(inner, ast.Return) and inner.value is not None and _int_literals(inner.value):
                    yield inner.lineno, ast.unparse(inner)


def test_no_exit_code_number_is_written_outside_exit_code() -> None:
    found = [
        f"{path.relative_to(PACKAGE.parent)}:{line}: {text}"
        for path, tree in _modules()
        if path != ERRORS
        for line, text in _exit_numbers(tree)
    ]
    assert found == []


def test_the_exit_check_finds_a_number() -> None:
    tree = ast.parse("import sys\nsys.exit(3)\nraise SystemExit(1 if x else 0)\nctx.exit(code=2)\nexit_code = 4\n")
    assert sorted(line for line, _ in _exit_numbers(tree)) == [2, 3, 4, 5]


# --- a bug's traceback ---------------------------------------------------------------------------------------


def test_an_unexpected_exception_goes_to_a_scrubbed_debug_log_never_to_the_terminal(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    secret = f"s3cret-{secrets.token_hex(8)}"
    redaction.register(secret)
    logs = tmp_path / "tmp"
    logs.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(logs))

    def broken(_settings: Settings) -> None:
        raise RuntimeError(f"a bug, near {secret}")

    monkeypatch.setattr(Settings, "announce_root", broken)
    result = CliRunner().invoke(main, ["-C", str(tmp_path), "validate"])

    assert result.exit_code == ExitCode.ERROR
    assert "Traceback" not in result.output and "Traceback" not in result.stderr
    assert secret not in result.stderr
    assert "internal error: RuntimeError: a bug, near ***" in result.stderr
    (where,) = re.findall(r"^debug log: (.+)$", result.stderr, flags=re.MULTILINE)
    log = Path(where)
    assert log.parent == logs and log.name.startswith(PREFIX) and log.is_file()
    assert stat.S_IMODE(log.stat().st_mode) == 0o600
    text = log.read_text(encoding="utf-8")
    assert "Traceback (most recent call last)" in text and "in broken" in text
    assert "RuntimeError: a bug, near ***" in text
    assert secret not in text


def test_a_debug_log_that_cannot_be_written_is_said_so(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path / "missing"))
    report_bug(ValueError("odd"))
    err = capsys.readouterr().err
    assert "internal error: ValueError: odd" in err and "debug log: not written (" in err
    assert "Traceback" not in err
