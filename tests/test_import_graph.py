"""No import circles in ``src/retention_mcp``: the package's modules form a directed acyclic graph.

The graph is built from the source with ``ast`` (nothing is imported). An edge A → B is any import of B (or of a
name from B) written in A:

- at module level, including inside a module-level ``try`` or ``if``;
- inside a function or method too: an import deferred to keep start-up cheap still ties the two modules together
  (A needs B to work), and a circle through one is the same design knot, only found later;
- **not** under ``if TYPE_CHECKING:``: those imports never run; they name types for annotations only.

``from package import name`` counts as an edge to ``package.name`` when that is a module, else to ``package``.
An edge to a package (``retention_mcp.runtime``) is an edge to its ``__init__``. A circle is reported as the
modules on it, in order.
"""

from __future__ import annotations

import ast
import threading
from pathlib import Path

PACKAGE = "retention_mcp"
SRC = Path(__file__).resolve().parent.parent / "src" / PACKAGE


def module_name(path: Path) -> str:
    parts = [PACKAGE, *path.relative_to(SRC).with_suffix("").parts]
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")


def imports_of(tree: ast.Module, module: str, is_package: bool, modules: set[str]) -> set[str]:
    """The package modules ``module`` imports (see the module docstring for what counts)."""
    found: set[str] = set()
    package = module if is_package else module.rpartition(".")[0]

    def visit(node: ast.AST) -> None:
        if isinstance(node, ast.If) and _is_type_checking(node.test):
            for child in node.orelse:
                visit(child)
            return
        if isinstance(node, ast.Import):
            for alias in node.names:
                found.add(alias.name)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - (node.level - 1)]
                base = ".".join([*anchor, *([base] if base else [])])
            for alias in node.names:
                candidate = f"{base}.{alias.name}"
                found.add(candidate if candidate in modules else base)
        for child in ast.iter_child_nodes(node):
            visit(child)

    visit(tree)
    return {name for name in found if name in modules and name != module}


def import_graph() -> dict[str, set[str]]:
    # Earlier tests' servers may still be warming up in background threads; CPython 3.11's AST converter keeps one
    # recursion depth per interpreter, so parsing beside them could fail for no fault of the code (see
    # test_reliability). Wait for them first.
    for thread in threading.enumerate():
        if thread.name == "retention-mcp-warm-up":
            thread.join(timeout=120)
    paths = sorted(SRC.rglob("*.py"))
    modules = {module_name(path) for path in paths}
    graph = {}
    for path in paths:
        name = module_name(path)
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        graph[name] = imports_of(tree, name, path.name == "__init__.py", modules)
    return graph


def circles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Every strongly connected component of more than one module (Tarjan), each as a list of its modules."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    counter = 0

    def connect(node: str) -> None:
        nonlocal counter
        index[node] = low[node] = counter
        counter += 1
        stack.append(node)
        on_stack.add(node)
        for target in sorted(graph.get(node, ())):
            if target not in index:
                connect(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            connect(node)
    return found


def test_the_checker_finds_a_circle_and_reads_the_rules_it_states() -> None:
    modules = {"retention_mcp.a", "retention_mcp.b", "retention_mcp.c", "retention_mcp.pkg", "retention_mcp.pkg.d"}
    a = ast.parse("from retention_mcp import b\n")
    b = ast.parse("def f():\n    from retention_mcp.c import x\n")
    c = ast.parse("from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    import retention_mcp.a\n"
                  "from .pkg import d\n")
    graph = {"retention_mcp.a": imports_of(a, "retention_mcp.a", False, modules),
             "retention_mcp.b": imports_of(b, "retention_mcp.b", False, modules),
             "retention_mcp.c": imports_of(c, "retention_mcp.c", False, modules),
             "retention_mcp.pkg.d": set()}
    assert graph["retention_mcp.b"] == {"retention_mcp.c"}  # an import inside a function counts
    assert graph["retention_mcp.c"] == {"retention_mcp.pkg.d"}  # TYPE_CHECKING does not; relative imports resolve
    assert circles(graph) == []
    graph["retention_mcp.c"].add("retention_mcp.a")
    assert circles(graph) == [["retention_mcp.a", "retention_mcp.b", "retention_mcp.c"]]


def test_no_import_circles_in_the_package() -> None:
    graph = import_graph()
    assert len(graph) > 50, "the package's modules were not found"
    found = circles(graph)
    assert found == [], "import circles (modules on each): " + "; ".join(" ↔ ".join(c) for c in found)
