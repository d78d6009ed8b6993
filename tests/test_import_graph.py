"""No import circles in ``auditview``: the module import graph, read with ``ast``, has no cycle.

Every ``import`` and ``from ... import`` statement counts, at the top of a module, inside a function or under
``if TYPE_CHECKING:`` alike: an import deferred into a function still ties the two modules together, and a
circle is a sign that a shared piece lives in the wrong module.
"""

from __future__ import annotations

import ast
from collections import deque
from collections.abc import Iterator
from pathlib import Path

import auditview

PACKAGE_DIR = Path(auditview.__file__).parent


def _module_files() -> dict[str, Path]:
    """Every module of the package by dotted name (a package by the name of its ``__init__``)."""
    modules: dict[str, Path] = {}
    for path in sorted(PACKAGE_DIR.rglob("*.py")):
        parts = list(path.relative_to(PACKAGE_DIR.parent).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        modules[".".join(parts)] = path
    return modules


def _imported(module: str, path: Path, modules: dict[str, Path]) -> Iterator[tuple[str, int]]:
    """The package modules that ``module`` imports, each with the line of the statement."""

    def known(name: str) -> str | None:
        while name and name not in modules:
            name = name.rpartition(".")[0]
        return name or None

    is_package = path.name == "__init__.py"
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), filename=str(path))):
        if isinstance(node, ast.Import):
            targets = [known(alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = module if is_package else module.rpartition(".")[0]
                for _ in range(node.level - 1):
                    anchor = anchor.rpartition(".")[0]
                base = f"{anchor}.{base}" if base else anchor
            # ``from package import submodule`` imports the submodule; ``from module import name`` the module.
            targets = [
                f"{base}.{alias.name}" if f"{base}.{alias.name}" in modules else known(base)
                for alias in node.names
            ]
        else:
            continue
        for target in targets:
            if target is not None and target != module:
                yield target, node.lineno


def _import_graph() -> dict[str, dict[str, int]]:
    """Module -> imported module -> line of the first statement that imports it."""
    modules = _module_files()
    graph: dict[str, dict[str, int]] = {}
    for module, path in modules.items():
        edges: dict[str, int] = {}
        for target, line in _imported(module, path, modules):
            edges.setdefault(target, line)
        graph[module] = edges
    return graph


def _strongly_connected(graph: dict[str, dict[str, int]]) -> list[frozenset[str]]:
    """The groups of two or more modules that import each other, directly or around a circle (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    groups: list[frozenset[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for target in graph[node]:
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            group: set[str] = set()
            while True:
                member = stack.pop()
                on_stack.discard(member)
                group.add(member)
                if member == node:
                    break
            if len(group) > 1:
                groups.append(frozenset(group))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return groups


def _describe(group: frozenset[str], graph: dict[str, dict[str, int]]) -> str:
    """One circle through ``group`` as ``a:LINE -> b:LINE -> a`` (shortest, from the first module by name)."""
    start = min(group)
    came_from: dict[str, str] = {}
    queue = deque([start])
    while queue:
        node = queue.popleft()
        for target in sorted(graph[node]):
            if target == start:
                path = [node]
                while path[-1] != start:
                    path.append(came_from[path[-1]])
                path.reverse()
                hops = [f"{a}:{graph[a][b]}" for a, b in zip(path, [*path[1:], start], strict=True)]
                return " -> ".join([*hops, start])
            if target in group and target not in came_from and target != start:
                came_from[target] = node
                queue.append(target)
    raise AssertionError(f"no circle found through {sorted(group)}")  # pragma: no cover - Tarjan found one


def test_the_package_has_no_import_circles() -> None:
    """No module of ``auditview`` imports itself around a circle; a failure names each circle found."""
    graph = _import_graph()
    circles = _strongly_connected(graph)
    assert not circles, "import circles:\n" + "\n".join(_describe(group, graph) for group in circles)


def test_the_graph_sees_imports_inside_functions() -> None:
    """An import inside a function body is an edge of the graph, like one at the top of the module."""
    graph = _import_graph()
    # auditview.writer.auditor imports the audit-log command only when it runs (to keep the writer light).
    assert "auditview.writer.auditlog" in graph["auditview.writer.auditor"]


def test_a_circle_is_found_and_named_with_its_lines() -> None:
    """The check finds a circle of three modules and names it with the line of each import."""
    graph = {"a": {"b": 3}, "b": {"c": 5, "d": 9}, "c": {"a": 7}, "d": {}}
    circles = _strongly_connected(graph)
    assert circles == [frozenset({"a", "b", "c"})]
    assert _describe(circles[0], graph) == "a:3 -> b:5 -> c:7 -> a"
