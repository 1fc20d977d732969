"""The arrows of DESIGN.md's "Dependency direction", checked on every import (lazy ones included)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[2] / "platform" / "quantdesk"

# subpackage -> subpackages of ours it may import (besides itself and core).
ALLOWED: dict[str, set[str]] = {
    "core": set(),
    "lake": set(),
    "indicators": set(),
    "strategies": {"indicators"},
    "risk": set(),
    "ledger": set(),
    "metrics": set(),  # issue 26: imports only core; every layer below may call it (never the reverse)
    "notify": set(),
    "identity": {"ledger"},
    "arb": {"ingest"},  # books through ingest's client factory; the ledger store is handed in (OpportunityStore)
    # the desk's book (issue 25): ledger positions x lake returns, measured by risk's analytics; below
    # promotion, because the broker's factory gives its gates the book's VaR model
    "book": {"risk", "ledger", "lake"},
    # an ML strategy is a Strategy (issue 27): beside strategies, over indicators and lake series
    "ml": {"indicators", "lake", "strategies"},
}
# (importer, imported) pairs that must never appear: the lower layer would reach up.
FORBIDDEN = [("promotion", "parity"), ("live", "parity"), ("backtest", "parity"), ("broker", "promotion"),
             ("promotion", "book"), ("backtest", "book"),
             ("backtest", "ledger")]  # optimize gets its study storage handed in (issue 27)


def _imports(path: Path) -> set[str]:
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [node.module]
        elif isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        else:
            continue
        for name in names:
            parts = name.split(".")
            if parts[0] == "quantdesk" and len(parts) > 1:
                found.add(parts[1])
    return found


def _subpackage_imports(sub: str) -> dict[str, set[str]]:
    return {str(p.relative_to(PACKAGE)): _imports(p) for p in sorted((PACKAGE / sub).rglob("*.py"))}


@pytest.mark.parametrize("sub", sorted(ALLOWED))
def test_lower_layers_import_only_what_design_allows(sub: str) -> None:
    allowed = ALLOWED[sub] | {sub, "core"} | ({"metrics"} if sub != "core" else set())  # recording is allowed everywhere
    bad = {f: sorted(i - allowed) for f, i in _subpackage_imports(sub).items() if i - allowed}
    assert not bad, f"{sub} may import only {sorted(allowed)}; found {bad}"


@pytest.mark.parametrize(("importer", "imported"), FORBIDDEN)
def test_no_upward_imports(importer: str, imported: str) -> None:
    bad = [f for f, i in _subpackage_imports(importer).items() if imported in i]
    assert not bad, f"{importer} must not import {imported} (DESIGN.md, dependency direction): {bad}"


def test_the_api_is_a_top_layer_beside_the_cli() -> None:
    """Only the CLI starts the API; the API never reaches into the CLI (it calls what the CLI calls)."""
    importers = {sub.name for sub in PACKAGE.iterdir() if sub.is_dir() and sub.name not in ("api", "cli")
                 and any("api" in i for i in _subpackage_imports(sub.name).values())}
    assert not importers, f"only quantdesk.cli may import quantdesk.api; found {sorted(importers)}"
    bad = [f for f, i in _subpackage_imports("api").items() if "cli" in i]
    assert not bad, f"quantdesk.api must not import quantdesk.cli: {bad}"


def test_the_simulated_venue_server_and_its_engine_do_not_import_each_other() -> None:
    server, venue = PACKAGE / "venue" / "server.py", PACKAGE / "venue" / "venue.py"
    def mods(p: Path) -> set[str]:
        tree = ast.parse(p.read_text())
        return {n.module for n in ast.walk(tree) if isinstance(n, ast.ImportFrom) and n.module}
    assert not ("quantdesk.venue.venue" in mods(server) and "quantdesk.venue.server" in mods(venue)), \
        "venue/server.py and venue/venue.py import each other: move the shared part below both"
