"""The suite's own layout: test modules share code only through tests.support, and conftests only declare fixtures.

A test module that imports a conftest or another test module couples tests that should stand alone (and under
pytest-xdist may import one twice under two names); shared helpers live in tests/support/, importable and typed.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

TESTS = Path(__file__).resolve().parent
SUPPORT = "tests.support"


def modules() -> list[Path]:
    return sorted(TESTS.rglob("*.py"))


def imported(path: Path) -> Iterator[tuple[int, str]]:
    """Each module ``path`` imports from within tests/, as an absolute dotted name, with its line."""
    package = ".".join(path.relative_to(TESTS.parent).with_suffix("").parts[:-1])
    yield from imported_by(path.read_text(encoding="utf-8"), package)


def imported_by(source: str, package: str) -> Iterator[tuple[int, str]]:
    """Each module within tests/ that ``source``, a module of ``package``, imports (relative imports resolved)."""
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name == "tests" or alias.name.startswith("tests."):
                    yield node.lineno, alias.name
        elif isinstance(node, ast.ImportFrom):
            parts = package.split(".")
            base = parts[: len(parts) - node.level + 1] if node.level else []
            name = ".".join([*base, *([node.module] if node.module else [])])
            if name == "tests" or name.startswith("tests."):
                for alias in node.names:  # `from tests.support import aliyun_fakes` names the module it imports
                    yield node.lineno, f"{name}.{alias.name}" if name in ("tests", SUPPORT) else name


def test_test_modules_import_nothing_under_tests_but_tests_support() -> None:
    wrong = [
        f"{path.relative_to(TESTS.parent)}:{line}: imports {name}"
        for path in modules()
        for line, name in imported(path)
        if not name.startswith(f"{SUPPORT}.")
    ]
    assert wrong == [], "share helpers through tests/support/, not conftests or test modules:\n" + "\n".join(wrong)


def test_the_layout_check_sees_conftest_test_module_and_relative_imports() -> None:
    source = (
        "from tests.sandbox.conftest import SEED\n"
        "from ..cli.test_end_to_end import run\n"
        "from .fakes import FakeProvider\n"
        "from . import fakes\n"
        "import tests.reliability.conftest\n"
        "from tests import expected\n"
        "from tests.support.projects import make_project\n"
        "from tests.support import msads_fakes\n"
        "import reconciler.cli.main\n"
    )
    assert [name for _, name in imported_by(source, "tests.apply")] == [
        "tests.sandbox.conftest",
        "tests.cli.test_end_to_end",
        "tests.apply.fakes",
        "tests.apply",
        "tests.reliability.conftest",
        "tests.expected",
        "tests.support.projects",
        "tests.support.msads_fakes",
    ]


@pytest.mark.parametrize("conftest", sorted(TESTS.rglob("conftest.py")), ids=lambda p: str(p.relative_to(TESTS)))
def test_conftests_only_declare_fixtures(conftest: Path) -> None:
    """Imports, fixtures and pytest hooks: whatever else a conftest held would be shared by importing it."""
    tree = ast.parse(conftest.read_text(encoding="utf-8"))
    wrong: list[str] = []
    for index, node in enumerate(tree.body):
        if index == 0 and isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant):
            continue  # the docstring
        if isinstance(node, ast.Import | ast.ImportFrom):
            continue
        if isinstance(node, ast.FunctionDef) and (node.name.startswith("pytest_") or is_fixture(node)):
            continue
        wrong.append(f"line {node.lineno}: {ast.unparse(node).splitlines()[0]}")
    assert wrong == [], f"{conftest.relative_to(TESTS.parent)} declares more than fixtures (move it to tests/support/)"


def is_fixture(node: ast.FunctionDef) -> bool:
    for decorator in node.decorator_list:
        target = decorator.func if isinstance(decorator, ast.Call) else decorator
        if ast.unparse(target) in ("pytest.fixture", "fixture"):
            return True
    return False
