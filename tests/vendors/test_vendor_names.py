"""Core modules never name a vendor: every string constant of reconciler/ (docstrings aside) that says msads or
aliyun lies in that vendor's package, the simulator, or the registry table that lists the built-in vendors."""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[2] / "reconciler"
VENDOR_NAMES = ("msads", "aliyun")
#: The places allowed to name a vendor, relative to reconciler/: the vendors' own packages, the simulator (it
#: simulates both), and the one table of built-in vendors.
ALLOWED = ("providers/msads/", "providers/aliyun/", "sandbox/", "providers/registry.py")


def docstrings(tree: ast.Module) -> set[int]:
    """The ids of the docstring constants of a module, its classes and functions."""
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef):
            body = node.body
            if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant):
                found.add(id(body[0].value))
    return found


def vendor_strings(path: Path) -> Iterator[tuple[int, str]]:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    skip = docstrings(tree)
    for node in ast.walk(tree):
        if not isinstance(node, ast.Constant) or not isinstance(node.value, str) or id(node) in skip:
            continue
        if any(name in node.value.lower() for name in VENDOR_NAMES):
            yield node.lineno, node.value


def core_modules() -> list[Path]:
    return [
        path for path in sorted(PACKAGE.rglob("*.py")) if not path.relative_to(PACKAGE).as_posix().startswith(ALLOWED)
    ]


def test_the_core_modules_are_found() -> None:
    names = {path.relative_to(PACKAGE).as_posix() for path in core_modules()}
    assert {"config/load.py", "manifest/parse.py", "plan/drift.py", "providers/endpoints.py"} <= names
    assert not any(name.startswith(ALLOWED) for name in names)


def test_no_core_module_names_a_vendor() -> None:
    found = [
        f"reconciler/{path.relative_to(PACKAGE).as_posix()}:{line}: {text!r}"
        for path in core_modules()
        for line, text in vendor_strings(path)
    ]
    assert found == [], "vendor knowledge belongs in the vendor's descriptor:\n" + "\n".join(found)


def test_the_check_sees_a_vendor_name(tmp_path: Path) -> None:
    module = tmp_path / "m.py"
    module.write_text('"""About msads."""\n\nKIND = "msads"\nTEXT = f"aliyun: {KIND}"\n', encoding="utf-8")
    assert list(vendor_strings(module)) == [(3, "msads"), (4, "aliyun: ")]
