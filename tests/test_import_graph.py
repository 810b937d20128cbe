"""The shape of the code, checked: ml/ never imports the app, and neither ml/ nor app/ has an import cycle,
counting every import a module makes (at the top, inside functions and under TYPE_CHECKING), so a cycle
cannot hide behind an import placed in a function. ml/'s packages are layered: no cycle among them either."""
from __future__ import annotations

import ast
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def module_name(path: Path) -> str:
    parts = list(path.relative_to(REPO).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def project_modules() -> dict[str, Path]:
    return {module_name(path): path for root in ("ml", "app") for path in (REPO / root).rglob("*.py")}


def imported_names(path: Path, name: str) -> set[str]:
    """Every project module this file imports, wherever the import statement stands."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join(anchor + ([base] if base else []))
            found.add(base)
            found.update(f"{base}.{alias.name}" for alias in node.names)  # `from pkg import module`
    return found


def import_graph() -> dict[str, set[str]]:
    """Module -> the project modules it imports, with the packages Python initialises on the way (a
    package's __init__ runs before its module), except the importer's own packages, already running."""
    modules = project_modules()
    graph: dict[str, set[str]] = {}
    for name, path in modules.items():
        own_packages = {".".join(name.split(".")[:i]) for i in range(1, name.count(".") + 1)}
        targets = set()
        for target in imported_names(path, name):
            if target not in modules:
                continue
            parts = target.split(".")
            targets.update(".".join(parts[:i]) for i in range(2, len(parts) + 1))
        graph[name] = {t for t in targets if t in modules and t != name and t not in own_packages}
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one node (Tarjan), each a cycle or a knot of them."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        for successor in graph.get(node, ()):
            if successor not in index:
                visit(successor)
                low[node] = min(low[node], low[successor])
            elif successor in stack:
                low[node] = min(low[node], index[successor])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def package_of(module: str) -> str:
    """ml.encoders.litert -> ml.encoders; ml.__main__ -> ml.__main__ (the CLI stands above every package)."""
    return ".".join(module.split(".")[:2])


def test_ml_never_imports_the_app():
    wrong = {name: sorted(t for t in targets if t.split(".")[0] == "app")
             for name, targets in import_graph().items() if name.split(".")[0] == "ml"}
    assert not {name: targets for name, targets in wrong.items() if targets}


def test_no_module_import_cycles():
    assert cycles(import_graph()) == []


def test_ml_packages_are_layered():
    packages: dict[str, set[str]] = {}
    for name, targets in import_graph().items():
        if name.startswith("ml.") and name.count(".") >= 1:
            packages.setdefault(package_of(name), set()).update(
                package_of(t) for t in targets if t.startswith("ml.") and package_of(t) != package_of(name))
    assert cycles(packages) == []


def test_a_cycle_is_found_when_there_is_one():
    """The checker itself: a lazy import inside a function still closes a cycle."""
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert cycles({"a": {"b"}, "b": set()}) == []
