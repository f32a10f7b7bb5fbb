"""The layering declared in docs/architecture.md (its ```layers block), checked from the code's
imports (ast): cli -> API -> core, no module importing upward (annotations included), no import
cycle (imports inside functions count too), no module taking another's private name, and the
registry package read bottom-up."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "gittrack"
ARCHITECTURE = PACKAGE.parent / "docs" / "architecture.md"


def _declared() -> tuple[dict[str, list[str]], list[str]]:
    """The ```layers block of docs/architecture.md: layer -> module names, and the registry's order."""
    text = ARCHITECTURE.read_text().split("```layers\n", 1)[1].split("```", 1)[0]
    layers: dict[str, list[str]] = {}
    for line in text.splitlines():
        layer, _, names = line.partition(":")
        layers.setdefault(layer.strip(), []).extend(names.split())
    return layers, layers.pop("registry")


LAYERS, REGISTRY_ORDER = _declared()
_RANK = {"core": 0, "api": 1, "cli": 2}


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


def _graph(annotations: bool = False) -> dict[str, dict[str, list[str]]]:
    """module -> {module it imports: names it takes}; ``annotations``: ``TYPE_CHECKING`` imports too."""
    graph: dict[str, dict[str, list[str]]] = {}
    for name, path in MODULES.items():
        skip = set() if annotations else _type_checking_lines(path)
        edges = graph.setdefault(name, {})
        for target, names, line in _imports(path):
            if line in skip or target == name or name.startswith(target + "."):
                continue  # a module always runs its own packages' __init__ first: no edge of its own
            while target not in MODULES and "." in target:
                target = target.rpartition(".")[0]
            edges.setdefault(target, []).extend(names)
    return graph


GRAPH = _graph()  # what runs: imports at module level and inside functions
TYPED = _graph(annotations=True)  # and what annotations name: layers hold for those too


def _layer(module: str) -> int:
    """The rank of the most specific declared name covering ``module`` (core 0, api 1, cli 2)."""
    best, rank = "", None
    for layer, names in LAYERS.items():
        for name in names:
            if (module == name or module.startswith(name + ".")) and len(name) > len(best):
                best, rank = name, _RANK[layer]
    assert rank is not None, f"{module} is in no layer of docs/architecture.md"
    return rank


def test_no_module_imports_a_higher_layer() -> None:
    upward = [f"{a} -> {b}" for a, edges in TYPED.items() for b in edges
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
    private = [f"{a} takes {b}.{n}" for a, edges in TYPED.items() for b, names in edges.items()
               for n in names if n.startswith("_") and not n.startswith("__")]  # fmt: skip
    assert private == []


@pytest.mark.parametrize("module", REGISTRY_ORDER)
def test_the_registry_package_reads_bottom_up(module: str) -> None:
    name = f"gittrack._registry.{module}"
    if name not in TYPED:
        pytest.fail(f"{name} is missing")
    later = set(REGISTRY_ORDER[REGISTRY_ORDER.index(module) + 1 :])
    above = [b for b in TYPED[name] if b.startswith("gittrack._registry.") and b.rpartition(".")[2] in later]
    assert above == []


def test_the_cli_uses_only_the_public_api() -> None:
    allowed = (
        "gittrack",
        "gittrack.errors",
        "gittrack._version",
        "gittrack.ui",
        "gittrack.serving",
        "gittrack.sweeps",
        "gittrack.server",
    )  # public packages
    reaching = [f"{a} -> {b}" for a, edges in TYPED.items() if _layer(a) == 2
                for b in edges if _layer(b) != 2 and b not in allowed]  # fmt: skip
    assert reaching == []


def test_no_module_imports_another_packages_private_module() -> None:
    """``gittrack.pkg._internal`` is for ``gittrack.pkg`` and its modules only."""
    reaching = []
    for importer, edges in TYPED.items():
        for imported in edges:
            parts = imported.split(".")
            private = next((i for i, part in enumerate(parts) if i > 1 and part.startswith("_")), None)
            if private is None or parts[private].startswith("__"):
                continue
            owner = ".".join(parts[:private])
            if importer != owner and not importer.startswith(owner + "."):
                reaching.append(f"{importer} -> {imported}")
    assert reaching == []


def test_the_services_reach_git_only_through_the_repository() -> None:
    """``gittrack._store.repository.Repository`` is the git seam: the client and the services never
    import pygit2 or open a repository themselves."""
    seam = [name for name in MODULES if name == "gittrack._client" or name.startswith("gittrack._services")]
    reaching = []
    for name in seam:
        tree = ast.parse(MODULES[name].read_text())
        for node in ast.walk(tree):
            imported = [a.name for a in node.names] if isinstance(node, ast.Import) else []
            if isinstance(node, ast.ImportFrom):
                imported = [node.module or ""] + [f"{node.module}.{a.name}" for a in node.names]
            reaching += [f"{name} -> {m}" for m in imported if m == "pygit2" or m.endswith(".open_repo")]
    assert seam
    assert reaching == []


def test_client_holds_no_logic() -> None:
    """Every public method of ``Client`` is one statement: a delegation to one of its services."""
    tree = ast.parse(MODULES["gittrack._client"].read_text())
    client = next(n for n in tree.body if isinstance(n, ast.ClassDef) and n.name == "Client")
    logic = []
    for method in client.body:
        if not isinstance(method, ast.FunctionDef) or method.name == "__init__":
            continue
        body = [s for s in method.body if not (isinstance(s, ast.Expr) and isinstance(s.value, ast.Constant))]
        if len(body) != 1 or not isinstance(body[0], ast.Return):
            logic.append(method.name)
    assert logic == []
