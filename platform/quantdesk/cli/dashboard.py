"""`quantdesk dashboard`: serve the Panel pages in dashboards/ behind the ledger's logins."""

from __future__ import annotations

import importlib.util
import os
from pathlib import Path
from typing import Annotated, Any

import typer

from quantdesk.cli import app
from quantdesk.cli._common import console, handle_errors

DASHBOARDS = Path(__file__).resolve().parents[3] / "dashboards"


def _pages() -> dict[str, Any]:
    pages = {}
    for path in sorted(DASHBOARDS.glob("[!_]*.py")):
        spec = importlib.util.spec_from_file_location(f"quantdesk_dashboards_{path.stem}", path)
        assert spec and spec.loader
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        pages[path.stem] = module.page
    return pages


@app.command("dashboard")
@handle_errors
def dashboard_command(
    port: Annotated[int, typer.Option("--port", help="Port to serve on.")] = 5006,
    host: Annotated[str, typer.Option("--host", help="Address to bind (127.0.0.1: this machine only).")] = "127.0.0.1",
    show: Annotated[bool, typer.Option("--show/--no-show", help="Open a browser.")] = False,
) -> None:
    """Serve the desk's dashboards (login required; roles enforced on the server; JS served locally).

    Example: quantdesk dashboard --port 5006
    """
    os.environ.setdefault("BOKEH_RESOURCES", "server")  # no CDN: pages work offline
    import sys

    import panel as pn

    from quantdesk.core.settings import get_settings

    sys.path.insert(0, str(DASHBOARDS))
    from _auth import LedgerAuthProvider, cookie_secret

    pn.config.oauth_expiry = 0.5  # sessions expire after 12 h
    pages = _pages()
    console.print(f"dashboards on http://{host}:{port}/ ({', '.join(pages)}); log in with a `quantdesk user`",
                  highlight=False)
    pn.serve(pages, port=port, address=host, show=show, title="quantdesk",
             websocket_origin=[f"{host}:{port}", f"localhost:{port}"],
             auth_provider=LedgerAuthProvider(), cookie_secret=cookie_secret(get_settings().home),
             admin=False, threaded=False)
