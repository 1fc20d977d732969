"""The desk's page registry: one entry per page, the menu per role from the authorization policy (issue 24)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from quantdesk.desk.navigation import HOME, PAGES, page_entry, pages_for
from quantdesk.identity.policy import POLICY, Role

REPO = Path(__file__).resolve().parents[2]


def test_every_registered_page_has_its_file_and_every_page_file_is_registered() -> None:
    files = {p.stem for p in (REPO / "dashboards").glob("[!_]*.py")}
    assert {p.slug for p in PAGES} == files, "a page is its file plus one entry in PAGES"
    assert len({p.slug for p in PAGES}) == len(PAGES) and HOME.slug == "overview"


@pytest.mark.parametrize("role", list(Role))
def test_the_menu_is_what_the_policy_lets_the_role_see(role: Role) -> None:
    expected = [p.slug for p in PAGES if role in POLICY[p.action].roles]  # the table itself, read independently
    assert [p.slug for p in pages_for(role)] == expected
    assert ("admin" in expected) == (role is Role.ADMIN), "the admin page is for admins only"


def test_an_unknown_page_names_the_known_ones() -> None:
    with pytest.raises(KeyError, match="overview"):
        page_entry("arbitrage-typo")
    assert page_entry("risk").path == "/risk"


def test_the_desk_package_imports_no_ui_library() -> None:
    ui = {"panel", "bokeh", "holoviews", "hvplot", "tornado"}
    for path in sorted((REPO / "platform" / "quantdesk" / "desk").glob("*.py")):
        tree = ast.parse(path.read_text())
        names = {a.name.split(".")[0] for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names}
        names |= {n.module.split(".")[0] for n in ast.walk(tree) if isinstance(n, ast.ImportFrom) and n.module}
        assert not names & ui, f"{path.name} imports {names & ui}: dashboards/ draws, quantdesk.desk only reads"
