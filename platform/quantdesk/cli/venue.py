"""`quantdesk venue ...`: named venues in quantdesk.toml (add, list) and the simulated venue (serve)."""

from __future__ import annotations

import typer

from quantdesk.cli import app

venue_app = typer.Typer(
    help="Named venues (a ccxt exchange, optional API URL override, credentials from env vars).",
    no_args_is_help=True,
)
app.add_typer(venue_app, name="venue")
