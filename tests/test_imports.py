"""The project's own import graph (`leakage/`, `ui/`) has no cycles, and nothing below the attack
registry reaches back up to it.

The graph is read from the source with `ast`, not by importing, and it counts every import that
can run: module-level ones, those inside functions (lazy imports are still arrows: a cycle
through them fails at the moment the function first runs, in whatever order the modules happened
to load), and `"module:function"` references (`Attack.run`, the catalog's loaders), which the
registry and the catalog import with `importlib` when they need them. Imports under
`if TYPE_CHECKING:` are left out: they never run, they only name types for annotations.
A package's `__init__` running before its submodules is Python's doing, not an arrow.
"""

from __future__ import annotations

import ast
from pathlib import Path

import networkx as nx

REPO = Path(__file__).resolve().parent.parent
PACKAGES = ("leakage", "ui")

BELOW_THE_REGISTRY = (
    "leakage.catalog_entries", "leakage.comparison", "leakage.context", "leakage.figures", "leakage.metric_specs",
    "leakage.results", "leakage.store", "leakage.wording",
)
"""Modules the attacks (or the store and reports beneath every caller) build on: they get the
`Attack` from their caller instead of looking it up by name."""


def project_modules() -> dict[str, Path]:
    modules = {}
    for package in PACKAGES:
        for path in (REPO / package).rglob("*.py"):
            parts = list(path.relative_to(REPO).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts.pop()
            modules[".".join(parts)] = path
    return modules


def _is_type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")


def _nodes(tree: ast.AST):
    """Every node that runs at some point: all of them, less the bodies of `if TYPE_CHECKING:`."""
    stack = [tree]
    while stack:
        node = stack.pop()
        yield node
        if isinstance(node, ast.If) and _is_type_checking(node):
            stack.extend(node.orelse)
            continue
        stack.extend(ast.iter_child_nodes(node))


def imported(name: str, path: Path, modules: dict[str, Path]) -> set[str]:
    """The project modules `name` imports, lazily or not."""
    package = name.split(".") if path.name == "__init__.py" else name.split(".")[:-1]
    found: set[str] = set()
    for node in _nodes(ast.parse(path.read_text(), str(path))):
        targets: list[str] = []
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                base = ".".join(package[: len(package) - node.level + 1] + ([node.module] if node.module else []))
            targets = [f"{base}.{alias.name}" if f"{base}.{alias.name}" in modules else base for alias in node.names]
        elif isinstance(node, ast.Constant) and isinstance(node.value, str):
            reference = node.value.split(":")[0] if node.value.count(":") == 1 else node.value
            # An attack declaring its page parts (`Attack.view`, "ui.module:function") names them for the UI,
            # which alone resolves them: an arrow from the page to the part, not from the engine to the UI.
            if reference in modules and not (name.startswith("leakage") and reference.startswith("ui.")):
                targets = [reference]
        for target in targets:
            while target and target not in modules:
                target = target.rpartition(".")[0]
            if target and target != name:
                found.add(target)
    return found


def import_graph() -> nx.DiGraph:
    modules = project_modules()
    graph = nx.DiGraph()
    graph.add_nodes_from(modules)
    for name, path in modules.items():
        graph.add_edges_from((name, target) for target in imported(name, path, modules))
    return graph


def test_the_graph_sees_lazy_imports_and_registry_references() -> None:
    graph = import_graph()
    assert graph.has_edge("leakage.attacks", "leakage.attacks.idia")  # ATTACK_MODULES, imported with importlib
    assert graph.has_edge("leakage.attacks.base", "leakage.attacks.membership")  # "module:function" defaults
    assert graph.has_edge("leakage.attacks.idia", "leakage.idia")  # inside run()
    assert not graph.has_edge("leakage.attacks.membership", "leakage.attacks.base")  # TYPE_CHECKING only


def test_no_import_cycles() -> None:
    cycles = sorted((cycle for cycle in nx.simple_cycles(import_graph())), key=len)
    shown = "\n".join(" -> ".join([*cycle, cycle[0]]) for cycle in cycles[:20])
    assert not cycles, f"{len(cycles)} import cycles in leakage/ and ui/:\n{shown}"


def test_nothing_below_the_registry_reaches_it() -> None:
    graph = import_graph()
    for module in BELOW_THE_REGISTRY:
        reached = nx.descendants(graph, module)
        assert "leakage.attacks" not in reached, (
            f"{module} reaches the attack registry: " + " -> ".join(nx.shortest_path(graph, module, "leakage.attacks")))


def test_the_engine_never_reaches_the_ui() -> None:
    graph = import_graph()
    for module in (name for name in graph if name.startswith("leakage")):
        reached = sorted(name for name in nx.descendants(graph, module) if name.startswith("ui"))
        assert not reached, f"{module} reaches {reached}: the engine has no Streamlit, pages pass it what it needs"
