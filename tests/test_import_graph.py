"""The import graph of `search/` and `prover/`: no cycles (function-level imports included), and
`search/` imports nothing from `prover/`, torch, ray or a model library."""

from __future__ import annotations

import ast
from pathlib import Path

import networkx as nx

REPO = Path(__file__).resolve().parents[1]
PACKAGES = ("search", "prover")
FORBIDDEN_IN_SEARCH = ("prover", "torch", "ray", "transformers", "lean_interact")


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(REPO).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _is_type_checking_block(node: ast.AST) -> bool:
    test = getattr(node, "test", None)
    return isinstance(node, ast.If) and (
        (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING")
        or (isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")
    )


def _runtime_imports(tree: ast.AST, module: str, is_package: bool) -> set[str]:
    """Every module named by an import statement that can run (at any depth, not under TYPE_CHECKING)."""
    found: set[str] = set()
    pending: list[ast.AST] = [tree]
    while pending:
        node = pending.pop()
        if _is_type_checking_block(node):
            pending.extend(node.orelse)  # type: ignore[attr-defined]
            continue
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = module.split(".") if is_package else module.split(".")[:-1]
                anchor = anchor[: len(anchor) - (node.level - 1)]
                base = ".".join([*anchor, base] if base else anchor)
            found.add(base)
            found.update(f"{base}.{alias.name}" for alias in node.names)
        pending.extend(ast.iter_child_nodes(node))
    return found


def import_graph() -> nx.DiGraph:
    """Project modules as nodes; an edge A -> B when A's code imports B (explicitly named)."""
    sources = [path for package in PACKAGES for path in sorted((REPO / package).rglob("*.py"))]
    modules = {_module_name(path): path for path in sources}
    graph = nx.DiGraph()
    graph.add_nodes_from(modules)
    for module, path in modules.items():
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        for target in _runtime_imports(tree, module, path.name == "__init__.py"):
            if target in modules and target != module:
                graph.add_edge(module, target)
            graph.nodes[module].setdefault("external", set()).add(target.split(".")[0])
    return graph


def test_project_modules_have_no_import_cycle() -> None:
    graph = import_graph()
    assert graph.number_of_nodes() > 50, "the scan must see the project's modules"
    # A package's __init__ re-exporting its own submodules is not a cycle worth reporting; any
    # other strongly connected group of modules is.
    cycles = [sorted(group) for group in nx.strongly_connected_components(graph) if len(group) > 1]
    assert cycles == [], f"import cycles: {cycles}"


def test_search_imports_no_prover_backend_or_model_library() -> None:
    graph = import_graph()
    offenders = {
        module: sorted(graph.nodes[module].get("external", set()) & set(FORBIDDEN_IN_SEARCH))
        for module in graph
        if module.split(".")[0] == "search"
    }
    assert {module: names for module, names in offenders.items() if names} == {}


def test_the_scan_detects_a_function_level_cycle(tmp_path: Path) -> None:
    source = "def late():\n    from prover.a import thing\n"
    imports = _runtime_imports(ast.parse(source), "prover.b", False)
    assert {"prover.a", "prover.a.thing"} <= imports
    guarded = "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from prover.a import thing\n"
    assert "prover.a" not in _runtime_imports(ast.parse(guarded), "prover.b", False)
