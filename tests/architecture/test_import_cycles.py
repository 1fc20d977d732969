"""No two modules of quantdesk import each other, directly or around a longer circle (issue 27).

Every import counts, lazy ones inside functions included (they run, just later); imports under
`if TYPE_CHECKING:` do not (they never run). A package's `__init__` is left out: it re-exports
its own modules by design, and a module that imports its package's name reaches those modules
through the edge we do record.
"""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[2] / "platform" / "quantdesk"

# Circles that predate this test in code other issues own, listed so that a NEW circle fails here;
# delete an entry when its circle is cut (the test fails if a listed circle no longer exists).
KNOWN: set[frozenset[str]] = {
    frozenset({"quantdesk.identity.policy", "quantdesk.identity.users"}),
    frozenset({"quantdesk.desk.pages", "quantdesk.desk.pictures"}),
}


def _modules() -> dict[str, Path]:
    out = {}
    for path in PACKAGE.rglob("*.py"):
        parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
        if parts[-1] != "__init__":
            out[".".join(parts)] = path
    return out


def _runtime_imports(tree: ast.AST) -> list[ast.AST]:
    """Import nodes outside `if TYPE_CHECKING:` blocks."""
    skip: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            skip |= {id(n) for stmt in node.body for n in ast.walk(stmt)}
    return [n for n in ast.walk(tree) if isinstance(n, ast.Import | ast.ImportFrom) and id(n) not in skip]


def _graph() -> dict[str, set[str]]:
    modules = _modules()
    graph: dict[str, set[str]] = {}
    for name, path in modules.items():
        targets: set[str] = set()
        for node in _runtime_imports(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                targets |= {f"{node.module}.{a.name}" if f"{node.module}.{a.name}" in modules else node.module
                            for a in node.names}
            elif isinstance(node, ast.Import):
                targets |= {a.name for a in node.names}
        graph[name] = {t for t in targets if t in modules and t != name}
    return graph


def _cycles(graph: dict[str, set[str]]) -> set[frozenset[str]]:
    """Strongly connected components of more than one module (Tarjan, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: set[frozenset[str]] = set()
    for root in graph:
        if root in index:
            continue
        work = [(root, iter(sorted(graph[root])))]
        index[root] = low[root] = len(index)
        stack.append(root)
        on_stack.add(root)
        while work:
            v, children = work[-1]
            for w in children:
                if w not in index:
                    index[w] = low[w] = len(index)
                    stack.append(w)
                    on_stack.add(w)
                    work.append((w, iter(sorted(graph[w]))))
                    break
                if w in on_stack:
                    low[v] = min(low[v], index[w])
            else:
                work.pop()
                if work:
                    low[work[-1][0]] = min(low[work[-1][0]], low[v])
                if low[v] == index[v]:
                    component = set()
                    while True:
                        w = stack.pop()
                        on_stack.discard(w)
                        component.add(w)
                        if w == v:
                            break
                    if len(component) > 1:
                        found.add(frozenset(component))
    return found


def test_the_cycle_finder_finds_a_planted_circle() -> None:
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == {frozenset({"a", "b", "c"})}
    assert _cycles({"a": {"b"}, "b": set()}) == set()


def test_no_import_cycles_within_quantdesk() -> None:
    cycles = _cycles(_graph())
    new = sorted(sorted(c) for c in cycles - KNOWN)
    assert not new, f"modules import each other in a circle: {new}; move what they share into a module below both"
    gone = sorted(sorted(c) for c in KNOWN - cycles)
    assert not gone, f"these circles are cut: delete them from KNOWN in {Path(__file__).name}: {gone}"


def test_the_sweep_and_replay_circles_stay_cut() -> None:
    """The two circles issue 27 names: distributed <-> sweep <-> walkforward, replay <-> replay_futures."""
    graph = _graph()
    assert "quantdesk.backtest.sweep" not in graph["quantdesk.backtest.distributed"]
    assert "quantdesk.backtest.walkforward" not in graph["quantdesk.backtest.distributed"]
    assert "quantdesk.live.replay" not in graph["quantdesk.live.replay_futures"]
