"""The package's floor plan (issue #26): no import cycle among skindx's modules, subpackages
in layers that only import downwards, and modules and pages of a readable size.

Every module under ``skindx/`` is parsed with ``ast``; each ``import skindx…`` and
``from skindx… import …`` is an edge, at module level and inside functions alike (a lazy
import still ties the two modules together). Imports under ``if TYPE_CHECKING:`` are left
out: they never run. Importing ``skindx.a.b`` runs ``skindx/a/__init__.py`` too, but that
implicit edge is not counted: a package importing its own submodules is how packages work.
"""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent.parent / "skindx"


def module_names() -> dict[str, Path]:
    names = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        names[".".join(parts)] = path
    return names


def _is_type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _imports(tree: ast.AST):
    """Import nodes that run, skipping ``if TYPE_CHECKING:`` bodies (their ``else`` runs)."""
    for node in ast.iter_child_nodes(tree):
        if isinstance(node, ast.If) and _is_type_checking(node):
            for child in node.orelse:
                yield from _imports(ast.Module(body=[child], type_ignores=[]))
            continue
        if isinstance(node, ast.Import | ast.ImportFrom):
            yield node
        yield from _imports(node)


def _known(name: str, modules: dict[str, Path]) -> str | None:
    """``name`` or its longest prefix that is a skindx module."""
    while name:
        if name in modules:
            return name
        name = name.rpartition(".")[0]
    return None


def import_graph() -> dict[str, set[str]]:
    modules = module_names()
    graph: dict[str, set[str]] = {name: set() for name in modules}
    for name, path in modules.items():
        package = name if path.name == "__init__.py" else name.rpartition(".")[0]
        for node in _imports(ast.parse(path.read_text(encoding="utf-8"), str(path))):
            targets: list[str] = []
            if isinstance(node, ast.Import):
                targets = [alias.name for alias in node.names]
            else:
                base = node.module or ""
                if node.level:
                    anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                    base = ".".join([*anchor, base] if base else anchor)
                # ``from skindx import quality`` imports the module skindx.quality
                targets = [
                    f"{base}.{alias.name}" if f"{base}.{alias.name}" in modules else base
                    for alias in node.names
                ]
            for target in targets:
                if target.split(".")[0] != "skindx":
                    continue
                known = _known(target, modules)
                if known and known != name:
                    graph[name].add(known)
    return graph


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One cycle as a path ``[a, b, …, a]``, or ``None``."""
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    path: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        path.append(node)
        for nxt in sorted(graph[node]):
            if state.get(nxt) == 1:
                return [*path[path.index(nxt) :], nxt]
            if nxt not in state and (cycle := visit(nxt)):
                return cycle
        path.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state and (cycle := visit(node)):
            return cycle
    return None


def test_the_graph_sees_the_package():
    graph = import_graph()
    assert {"skindx", "skindx.cli", "skindx.cli.common", "skindx.evaluation.evaluate"} <= set(graph)
    assert "skindx.cli.common" in graph["skindx.cli.predict"]
    assert "skindx.evaluation.metrics" in graph["skindx.evaluation.photo_effects"]
    assert "skindx.images.quality" in graph["skindx.cli.evaluation"]  # imported in a function


def test_find_cycle_finds_one():
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": set()}) is None


def test_no_import_cycle_in_skindx():
    cycle = find_cycle(import_graph())
    assert cycle is None, "import cycle: " + " → ".join(cycle or [])


# Lowest first. A subpackage may import from its own layer's foundations and from any layer
# below it, never from one above (docs/architecture.md draws the same stack).
FOUNDATION = {"skindx", "skindx.taxonomy", "skindx.config", "skindx.files", "skindx.imaging"}
LAYERS = (
    "images",
    "datasets",
    "model",
    "diagnosis",
    "explain",
    "evaluation",
    "training",
    "reports",
    "teaching",
    "cli",
)
MAX_MODULE_LINES = 600
MAX_PAGE_LINES = 300


def _layer(module: str) -> int | None:
    parts = module.split(".")
    return LAYERS.index(parts[1]) if len(parts) > 1 and parts[1] in LAYERS else None


def test_every_subpackage_is_a_layer_with_a_docstring():
    subpackages = {p.parent.name for p in PACKAGE.glob("*/__init__.py")}
    assert subpackages == set(LAYERS)
    for name in LAYERS:
        tree = ast.parse((PACKAGE / name / "__init__.py").read_text(encoding="utf-8"))
        assert len(ast.get_docstring(tree) or "") > 80, name


def test_layers_only_import_downwards():
    """taxonomy and config import no other module; the entry points (``skindx`` itself,
    ``__main__``, the ``imaging`` re-export) may reach any layer; a layer never one above."""
    upward = []
    for module, targets in import_graph().items():
        here = _layer(module)
        for target in targets:
            there = _layer(target)
            if module in ("skindx.taxonomy", "skindx.config") or (
                here is not None and there is None
            ):
                assert target in FOUNDATION, (module, target)
            elif here is not None and there > here:
                upward.append(f"{module} -> {target}")
    assert not upward, upward


def test_modules_and_pages_stay_readable():
    long = [
        f"{path} ({n} lines)"
        for limit, paths in (
            (MAX_MODULE_LINES, PACKAGE.rglob("*.py")),
            (MAX_PAGE_LINES, (PACKAGE.parent / "pages").glob("*.py")),
        )
        for path in paths
        if (n := len(path.read_text(encoding="utf-8").splitlines())) > limit
    ]
    assert not long, long


def test_the_architecture_map_names_every_module():
    """docs/architecture.md's tree has one line per module, under its subpackage."""
    text = (PACKAGE.parent / "docs" / "architecture.md").read_text(encoding="utf-8")
    tree = text.split("## The tree, one line per module", 1)[1].split("```")[1]
    listed, current = set(), ""
    for line in tree.splitlines()[2:]:  # after "skindx/", up to the next top-level folder
        if line and not line.startswith(" "):
            break
        name = line.strip().split(" ", 1)[0]
        if line.startswith("  ") and not line.startswith("    ") and name.endswith("/"):
            current = name.rstrip("/") + "/"
        elif line.startswith("    ") and name.endswith(".py"):
            listed.add(current + name)
        elif line.startswith("  ") and name.endswith(".py") and name != "__init__.py":
            listed.add(name)
    actual = {
        str(path.relative_to(PACKAGE))
        for path in PACKAGE.rglob("*.py")
        if path.name != "__init__.py" or path.parent.name == "cli"
    }
    assert actual == listed, (sorted(actual - listed), sorted(listed - actual))
