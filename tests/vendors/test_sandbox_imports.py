"""The simulator and the production wiring stay apart: the sandbox imports nothing of couponctl but the errors and
the neutral signing code; outside the simulator and its command line, only the places that wire environment
``local`` load it, and only when they do (an import inside the function that wires it)."""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[2] / "reconciler"
SANDBOX = "reconciler.sandbox"
#: What the sandbox may import from couponctl besides itself.
SANDBOX_MAY_IMPORT = ("reconciler.errors", "reconciler.signing.acs", "reconciler.signing")
#: Where environment local is wired: these import the simulator inside the function that needs it.
WIRES_LOCAL = ("providers/local.py", "providers/msads/build.py", "providers/aliyun/build.py")
#: The simulator's own command line (couponctl sandbox serve|seed|reset).
SANDBOX_CLI = "cli/sandbox.py"


def imports(path: Path) -> Iterator[tuple[str, bool]]:
    """Every module ``path`` imports from reconciler, and whether the import is at module level."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    top = {id(node) for node in tree.body}
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [node.module] + [f"{node.module}.{alias.name}" for alias in node.names]
            names = [node.module] if node.module != "reconciler" else names[1:]
        else:
            continue
        for name in names:
            if name.startswith("reconciler"):
                yield name, id(node) in top


def modules(under: str = "") -> list[Path]:
    return sorted((PACKAGE / under).rglob("*.py"))


def relative(path: Path) -> str:
    return path.relative_to(PACKAGE).as_posix()


def test_the_sandbox_imports_only_itself_the_errors_and_the_signing_code() -> None:
    found = [
        f"reconciler/{relative(path)}: {name}"
        for path in modules("sandbox")
        for name, _ in imports(path)
        if not name.startswith(f"{SANDBOX}.") and name != SANDBOX and name not in SANDBOX_MAY_IMPORT
    ]
    assert found == []


def test_the_signing_code_imports_neither_the_providers_nor_the_sandbox() -> None:
    found = [
        name
        for path in modules("signing")
        for name, _ in imports(path)
        if name.startswith(("reconciler.providers", SANDBOX))
    ]
    assert found == []


def test_only_the_local_wiring_loads_the_simulator_and_only_when_it_wires_it() -> None:
    found = []
    for path in modules():
        name = relative(path)
        if name.startswith("sandbox/") or name == SANDBOX_CLI:
            continue
        for imported, at_top in imports(path):
            if imported.startswith(SANDBOX) and (at_top or name not in WIRES_LOCAL):
                found.append(f"reconciler/{name}: {imported}{' (module level)' if at_top else ''}")
    assert found == []


def test_the_check_sees_imports(tmp_path: Path) -> None:
    module = tmp_path / "m.py"
    module.write_text(
        "from reconciler import errors\nimport reconciler.sandbox.store\n\n\ndef f():\n"
        "    from reconciler.sandbox.embedded import embedded_transport\n",
        encoding="utf-8",
    )
    assert sorted(imports(module)) == [
        ("reconciler.errors", True),
        ("reconciler.sandbox.embedded", False),
        ("reconciler.sandbox.store", True),
    ]
