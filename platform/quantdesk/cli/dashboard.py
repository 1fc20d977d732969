"""`quantdesk dashboard`: serve the desk's pages (dashboards/) as one app behind the ledger's logins."""

from __future__ import annotations

import importlib.util
import os
from pathlib import Path
from typing import Annotated, Any

import typer

from quantdesk.cli import app
from quantdesk.cli._common import console, handle_errors

DASHBOARDS = Path(__file__).resolve().parents[3] / "dashboards"
ASSETS = DASHBOARDS / "assets"


def _load(path: Path) -> Any:
    spec = importlib.util.spec_from_file_location(f"quantdesk_dashboards_{path.stem}", path)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _pages() -> dict[str, Any]:
    """Return each registered page's session builder, inside the desk's template (`quantdesk.desk.navigation`)."""
    from _app import framed

    from quantdesk.core.errors import ConfigError
    from quantdesk.desk.navigation import PAGES

    pages = {}
    for entry in PAGES:
        path = DASHBOARDS / f"{entry.slug}.py"
        if not path.exists():
            raise ConfigError(f"page {entry.slug!r} is in quantdesk.desk.navigation.PAGES but {path} is missing; "
                              "add the file or remove the entry")
        pages[entry.slug] = framed(entry, _load(path).page)
    unlisted = sorted(p.stem for p in DASHBOARDS.glob("[!_]*.py") if p.stem not in pages)
    if unlisted:
        console.print(f"not served (no entry in quantdesk.desk.navigation.PAGES): {', '.join(unlisted)}",
                      style="yellow", highlight=False)
    return pages


def extra_routes() -> list[tuple[Any, ...]]:
    """Return the server's routes besides the pages: `/` opens the home page (the overview), and /assets/
    serves the logo, favicon and stylesheet to anyone (the login page shows them before a login)."""
    from tornado.web import RedirectHandler, StaticFileHandler

    from quantdesk.desk.navigation import HOME

    return [(r"/", RedirectHandler, {"url": HOME.path}),
            (r"/assets/(.*)", StaticFileHandler, {"path": str(ASSETS)})]


@app.command("dashboard")
@handle_errors
def dashboard_command(
    port: Annotated[int, typer.Option("--port", help="Port to serve on.")] = 5006,
    host: Annotated[str, typer.Option("--host", help="Address to bind (127.0.0.1: this machine only).")] = "127.0.0.1",
    show: Annotated[bool, typer.Option("--show/--no-show", help="Open a browser.")] = False,
) -> None:
    """Serve the desk's dashboards (login required; roles enforced on the server; every asset served locally).

    Example: quantdesk dashboard --port 5006
    """
    os.environ.setdefault("BOKEH_RESOURCES", "server")  # no CDN: pages work offline
    import sys

    import panel as pn

    from quantdesk.core.settings import get_settings

    sys.path.insert(0, str(DASHBOARDS))
    from _auth import LedgerAuthProvider, cookie_secret

    pn.config.oauth_expiry = 0.5  # sessions expire after 12 h
    from quantdesk.cli.metrics import count_dashboard_sessions, ledger_reader, metrics_route
    from quantdesk.desk import shared_ledger

    count_dashboard_sessions()
    metrics = metrics_route(host, ledger_reader(shared_ledger()))  # /metrics: the desk's Prometheus view
    pages = _pages()
    console.print(f"dashboards on http://{host}:{port}/ ({', '.join(pages)}); log in with a `quantdesk user`",
                  highlight=False)
    # the login and logout pages only change their look here (logo, stylesheet from /assets)
    provider = LedgerAuthProvider(login_template=str(ASSETS / "login.html"),
                                  logout_template=str(ASSETS / "logout.html"))
    pn.serve(pages, port=port, address=host, show=show, title="quantdesk",
             websocket_origin=[f"{host}:{port}", f"localhost:{port}"],
             auth_provider=provider, cookie_secret=cookie_secret(get_settings().home),
             extra_patterns=[*extra_routes(), metrics],
             ico_path=str(ASSETS / "favicon.ico"), admin=False, threaded=False)
