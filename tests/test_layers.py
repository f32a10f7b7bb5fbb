"""The layering of docs/architecture.md, checked from the code's imports (ast): cli -> API -> core,
no module importing upward, no import cycle (imports inside functions count too), no module
taking another's private name, and the registry package read bottom-up."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "gittrack"
CORE = ("gittrack.store", "gittrack.data", "gittrack.errors", "gittrack._version")
SEARCH_CORE = ("gittrack.search.filter", "gittrack.search.order", "gittrack.search.evaluate", "gittrack.search.sql",
               "gittrack.search.frame", "gittrack.search.rows", "gittrack.search.cache")  # fmt: skip
CORE_MODULES = ("gittrack.registry.tags", "gittrack.registry.state", "gittrack.registry.guard",
                "gittrack.registry.write", "gittrack.registry.desired", "gittrack.registry.policy")  # fmt: skip
# the registry package bottom-up: a module may import only those before it
REGISTRY_ORDER = ["tags", "state", "guard", "write", "desired", "policy", "service", "promotions"]


def _name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _modules() -> dict[str, Path]:
    return {_name(p): p for p in PACKAGE.rglob("*.py")}


MODULES = _modules()


def _imports(path: Path) -> list[tuple[str, list[str], int]]:
    """(module imported, names taken from it, line) for every import in the file, nested ones too."""
    tree = ast.parse(path.read_text(), str(path))
    found = []
    package = _name(path) if path.name == "__init__.py" else _name(path).rpartition(".")[0]
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(alias.name, [], node.lineno) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, base]) if base else ".".join(anchor)
            names = [alias.name for alias in node.names]
            submodules = [f"{base}.{n}" for n in names if f"{base}.{n}" in MODULES]
            found += [(m, [], node.lineno) for m in submodules]
            found.append((base, [n for n in names if f"{base}.{n}" not in MODULES], node.lineno))
    return [(m, n, line) for m, n, line in found if m == "gittrack" or m.startswith("gittrack.")]


def _type_checking_lines(path: Path) -> set[int]:
    """Lines inside ``if TYPE_CHECKING:`` blocks: annotations only, never executed."""
    lines = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.If) and getattr(node.test, "id", None) == "TYPE_CHECKING":
            for child in node.body:
                lines.update(range(child.lineno, (child.end_lineno or child.lineno) + 1))
    return lines


def _graph() -> dict[str, dict[str, list[str]]]:
    graph: dict[str, dict[str, list[str]]] = {}
    for name, path in MODULES.items():
        skip = _type_checking_lines(path)
        edges = graph.setdefault(name, {})
        for target, names, line in _imports(path):
            if line in skip or target == name:
                continue
            while target not in MODULES and "." in target:
                target = target.rpartition(".")[0]
            edges.setdefault(target, []).extend(names)
    return graph


GRAPH = _graph()


def _layer(module: str) -> int:
    if module in ("gittrack.cli", "gittrack.__main__") or module.startswith("gittrack.cli."):
        return 2
    if module.startswith(CORE) or module in CORE_MODULES + SEARCH_CORE or module == "gittrack.registry":
        return 0
    return 1


def test_no_module_imports_a_higher_layer() -> None:
    upward = [f"{a} -> {b}" for a, edges in GRAPH.items() for b in edges
              if b != "gittrack" and _layer(b) > _layer(a)]  # fmt: skip
    assert upward == []


def test_no_import_cycles() -> None:
    cycles, state = [], {}

    def visit(node: str, path: list[str]) -> None:
        state[node] = "open"
        for nxt in GRAPH.get(node, {}):
            if nxt == "gittrack" or nxt == node:
                continue
            if state.get(nxt) == "open":
                cycles.append(" -> ".join([*path[path.index(nxt) :], nxt]))
            elif nxt not in state:
                visit(nxt, [*path, nxt])
        state[node] = "done"

    for module in sorted(GRAPH):
        if module not in state:
            visit(module, [module])
    assert cycles == []


def test_no_module_takes_another_modules_private_name() -> None:
    private = [f"{a} takes {b}.{n}" for a, edges in GRAPH.items() for b, names in edges.items()
               for n in names if n.startswith("_") and not n.startswith("__")]  # fmt: skip
    assert private == []


@pytest.mark.parametrize("module", REGISTRY_ORDER)
def test_the_registry_package_reads_bottom_up(module: str) -> None:
    name = f"gittrack.registry.{module}"
    if name not in GRAPH:
        pytest.fail(f"{name} is missing")
    later = set(REGISTRY_ORDER[REGISTRY_ORDER.index(module) + 1 :])
    above = [b for b in GRAPH[name] if b.startswith("gittrack.registry.") and b.rpartition(".")[2] in later]
    assert above == []


def test_the_cli_uses_only_the_public_api() -> None:
    allowed = ("gittrack", "gittrack.errors", "gittrack._version", "gittrack.ui")  # the UI package is public
    reaching = [f"{a} -> {b}" for a, edges in GRAPH.items() if _layer(a) == 2
                for b in edges if _layer(b) != 2 and b not in allowed]  # fmt: skip
    assert reaching == []
