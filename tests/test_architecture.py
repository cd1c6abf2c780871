"""The house rules that keep the package navigable (docs/architecture.md), checked on the source:
no import cycle among harness modules, each package imports only from the floors below it, and
no module is much over 400 lines.

Imports are read with ``ast``, never executed. Every import counts wherever it is written: at
the top, inside a function (a lazy import is still a dependency), and under ``if
TYPE_CHECKING:`` for the cycle check (a cycle of annotations is a cycle of meaning, and the next
runtime import along it would be a real one). The floors check leaves type-only imports out: an
annotation may name a type from a higher floor without loading its code (``ConfigError`` names
config's ``Diagnostic``). Importing ``a.b`` also runs package ``a``'s ``__init__``; that implicit
step is not an edge (it would make every package that re-exports a submodule a cycle)."""

from __future__ import annotations

import ast
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "harness"
IN_CONTAINER = ROOT / "sandbox"  # the in-container code (stdlib scripts, no package)
MAX_LINES = 400
# Modules allowed over MAX_LINES, each with the reason it must stay whole. Empty: keep it so.
OVERSIZE: dict[str, str] = {}
# Bottom to top: a package may import only from floors below its own (and from itself).
FLOORS: tuple[frozenset[str], ...] = (
    frozenset({"harness", "errors", "resources"}),
    frozenset({"config"}),
    frozenset({"vendors", "fakes", "repomap", "calibration"}),
    frozenset({"stages"}),
    frozenset({"budget", "sandbox"}),
    frozenset({"pipeline"}),
    frozenset({"runs"}),
    frozenset({"report", "scale", "eval"}),
    frozenset({"cli", "demo"}),
)


@dataclass(frozen=True)
class Edge:
    source: str
    target: str
    line: int
    type_only: bool


def modules() -> dict[str, Path]:
    found = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = list(path.relative_to(ROOT).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        found[".".join(parts)] = path
    return found


def _is_type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")


def _imports(nodes: Iterable[ast.AST], type_only: bool = False
             ) -> Iterator[tuple[ast.Import | ast.ImportFrom, bool]]:
    for node in nodes:
        if isinstance(node, ast.Import | ast.ImportFrom):
            yield node, type_only
        elif isinstance(node, ast.If) and _is_type_checking(node):
            yield from _imports(node.body, True)
            yield from _imports(node.orelse, type_only)
        else:  # any depth: function bodies, try/with blocks, class bodies
            yield from _imports(ast.iter_child_nodes(node), type_only)


def _targets(module: str, node: ast.Import | ast.ImportFrom, is_package: bool,
             known: dict[str, Path]) -> list[str]:
    if isinstance(node, ast.Import):
        return [a.name for a in node.names]
    base = node.module or ""
    if node.level:  # relative: from the module's own package, up level - 1
        package = module.split(".") if is_package else module.split(".")[:-1]
        package = package[:len(package) - (node.level - 1)]
        base = ".".join([*package, *([node.module] if node.module else [])])
    # ``from pkg import sub`` imports the submodule ``pkg.sub``; any other name is pkg's own.
    return [f"{base}.{a.name}" if f"{base}.{a.name}" in known else base for a in node.names]


def edges() -> list[Edge]:
    known = modules()
    found = []
    for module, path in known.items():
        tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
        for node, type_only in _imports(tree.body):
            for target in _targets(module, node, path.name == "__init__.py", known):
                if target in known and target != module:
                    found.append(Edge(module, target, node.lineno, type_only))
    return found


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components with more than one module (Tarjan), each as a path
    that walks round it."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph.get(v, ())):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(_walk(sorted(component), graph))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return found


def _walk(component: list[str], graph: dict[str, set[str]]) -> list[str]:
    """A closed path through a strongly connected component, from its first module back."""
    members = set(component)
    start = component[0]
    path, seen = [start], {start}
    while True:
        nxt = sorted(graph[path[-1]] & members)
        back = start in nxt
        fresh = [n for n in nxt if n not in seen]
        if back and (not fresh or len(path) > 1):
            return [*path, start]
        path.append(fresh[0])
        seen.add(fresh[0])


def top(module: str) -> str:
    """The package a module belongs to: ``harness.vendors.claude_cli.vendor`` -> ``vendors``."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "harness"


def floor_of(module: str) -> int:
    return next(n for n, floor in enumerate(FLOORS) if top(module) in floor)


def upward(edge: Edge) -> bool:
    """An import from a higher floor, or from another package on the same floor."""
    if edge.type_only:
        return False
    source, target = floor_of(edge.source), floor_of(edge.target)
    return target > source or (target == source and top(edge.source) != top(edge.target))


def test_no_import_cycle_among_harness_modules() -> None:
    graph: dict[str, set[str]] = {m: set() for m in modules()}
    for edge in edges():
        graph[edge.source].add(edge.target)
    found = cycles(graph)
    assert not found, "import cycles (break each by moving what both sides need below them):\n" \
        + "\n".join(" -> ".join(c) for c in found)


def test_every_package_has_a_floor() -> None:
    placed = set().union(*FLOORS)
    missing = sorted({top(m) for m in modules()} - placed)
    assert not missing, f"add {missing} to FLOORS (and to docs/architecture.md's map)"


def test_a_package_imports_only_from_the_floors_below() -> None:
    found = [f"{e.source}:{e.line} imports {e.target}" for e in edges() if upward(e)]
    assert not found, "imports from the importer's own floor or above:\n" + "\n".join(found)


def test_no_module_is_much_over_400_lines() -> None:
    files = [*PACKAGE.rglob("*.py"), *IN_CONTAINER.glob("*.py")]
    sizes = {str(p.relative_to(ROOT)): len(p.read_text(encoding="utf-8").splitlines())
             for p in files}
    over = {name: n for name, n in sizes.items() if n > MAX_LINES and name not in OVERSIZE}
    assert not over, f"over {MAX_LINES} lines (split by role, see docs/architecture.md): {over}"
    stale = [name for name in OVERSIZE if sizes.get(name, 0) <= MAX_LINES]
    assert not stale, f"no longer over {MAX_LINES} lines: remove from OVERSIZE: {stale}"


def test_the_checks_see_a_cycle_and_an_upward_import() -> None:
    """The checks themselves: a planted cycle is found and named as a path; an import from
    above, or across one floor, is found."""
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c", "a"]]
    assert cycles({"a": {"b"}, "b": set()}) == []
    assert upward(Edge("harness.pipeline.agent", "harness.cli.render", 1, type_only=False))
    assert upward(Edge("harness.report.make", "harness.scale.engine", 1, type_only=False))
    assert not upward(Edge("harness.errors", "harness.config.diagnostics", 1, type_only=True))
    assert not upward(Edge("harness.cli.render", "harness.budget.estimate", 1, type_only=False))
