"""The first-party import graph, computed from the AST: modules, feature packages, and their
strongly connected components (a component of more than one node is an import cycle).

Every ``import`` counts, function-local ones included (a local import hides a cycle, it does
not remove it); only imports under ``if TYPE_CHECKING:`` are left out, since they never run.
"""

from __future__ import annotations

import ast
from pathlib import Path

TOPS = ("api", "core", "worker", "webhooks", "migrations", "cli")


def module_files(root: Path) -> dict[str, Path]:
    """``voxfarm.<dotted>`` -> file, for every installed module (migration scripts excluded)."""
    found = {}
    for top in TOPS:
        for path in (root / top).rglob("*.py"):
            if "versions" in path.parts:
                continue
            dotted = ".".join(path.relative_to(root).with_suffix("").parts).removesuffix(".__init__")
            found[f"voxfarm.{dotted}"] = path
    for path in root.glob("*.py"):
        found[f"voxfarm.{path.stem}"] = path
    return found


def _runtime_imports(tree: ast.AST):
    skip: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            skip |= {id(x) for stmt in node.body for x in ast.walk(stmt)}
    return [n for n in ast.walk(tree) if isinstance(n, (ast.Import, ast.ImportFrom)) and id(n) not in skip]


def module_graph(root: Path) -> dict[str, set[str]]:
    mods = module_files(root)
    graph: dict[str, set[str]] = {m: set() for m in mods}
    for mod, path in mods.items():
        for node in _runtime_imports(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                graph[mod] |= {a.name for a in node.names if a.name in mods}
            elif node.level == 0 and node.module and node.module.startswith("voxfarm"):
                for alias in node.names:  # `from voxfarm.core.jobs import intake` imports a module
                    full = f"{node.module}.{alias.name}"
                    graph[mod].add(full if full in mods else node.module)
        graph[mod] &= set(mods)
        graph[mod].discard(mod)
    return graph


def feature_of(module: str, files: dict[str, Path]) -> str:
    """The unit the package rules speak of: ``voxfarm.core.jobs`` for anything in core/jobs/,
    ``voxfarm.core`` for the shared kernel modules, ``voxfarm.api`` for all of api/, and each
    module at the root (``voxfarm.celery_config``) by itself."""
    parts = module.split(".")
    if len(parts) == 2:
        return module
    if parts[1] == "core":
        nested = len(parts) >= 4 or files[module].name == "__init__.py"
        return ".".join(parts[:3]) if nested else "voxfarm.core"
    return ".".join(parts[:2])


def feature_graph(root: Path) -> dict[str, set[str]]:
    files = module_files(root)
    graph: dict[str, set[str]] = {}
    for mod, targets in module_graph(root).items():
        src = feature_of(mod, files)
        graph.setdefault(src, set())
        for target in targets:
            dst = feature_of(target, files)
            graph.setdefault(dst, set())
            if dst != src:
                graph[src].add(dst)
    return graph


def package_docstring(root: Path, feature: str) -> str:
    init = root.joinpath(*feature.split(".")[1:], "__init__.py")
    return (ast.get_docstring(ast.parse(init.read_text())) or "") if init.exists() else ""


def strongly_connected(graph: dict[str, set[str]]) -> list[list[str]]:
    """Tarjan's algorithm, iteratively; returns the components with more than one node."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    cycles: list[list[str]] = []
    for start in graph:
        if start in index:
            continue
        work = [(start, iter(sorted(graph[start])))]
        index[start] = low[start] = len(index)
        stack.append(start)
        on_stack.add(start)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = len(index)
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph.get(child, ())))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1:
                    cycles.append(sorted(component))
    return cycles
