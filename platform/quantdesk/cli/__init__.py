"""The `quantdesk` command line. Each command group lives in its own module."""

from __future__ import annotations

import importlib

import typer

__all__ = ["app", "main"]

app = typer.Typer(
    name="quantdesk",
    help="quantdesk: candle lake, research, and a risk-gated path to live trading.",
    no_args_is_help=True,
    # Help is plain text: "[risk.deployments.NAME]" must print as written, not vanish as markup.
    rich_markup_mode=None,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)

@app.command("version")
def version() -> None:
    """Print the quantdesk version.

    Example: quantdesk version
    """
    from quantdesk import __version__

    typer.echo(__version__)


def main() -> None:
    """Run the CLI."""
    _record_metrics_under_home()
    app()


def _record_metrics_under_home() -> None:
    """Record this command's metrics (and its children's: the variable is inherited) under $QUANTDESK_HOME/metrics.

    CLI commands, runners, flow runs and the dashboard come and go; prometheus_client's
    multiprocess mode keeps what each recorded in one directory for `quantdesk metrics serve`.
    """
    from quantdesk.core.home import home
    from quantdesk.metrics import enable_multiprocess

    enable_multiprocess(home() / "metrics")


# Command modules register themselves on `app` when imported. A module that does not
# exist yet (a later issue) is skipped so the CLI works at every stage.
_COMMAND_MODULES = (
    "lake",  # sample, lake status, lake quarantine (issue 2)
    "ingest",  # ingest, import (issue 2)
    "venue",  # venue add/list (issue 2)
    "venue_serve",  # venue serve (simulated venue)
    "research",  # backtest, report, check lookahead (issue 3)
    "sweep",  # sweep, walkforward (issue 3)
    "optimize",  # optimize: Optuna search stored in the ledger (issue 27)
    "ledger",  # audit verify, db upgrade (issue 4)
    "risk",  # halt, resume, risk status (issue 4)
    "risk_var",  # risk var, risk stress, risk var-backtest (issue 25)
    "risk_limits",  # risk limits (issue 23)
    "trading",  # order, orders, positions, cancel, reconcile (issue 4)
    "promotion",  # promote, approve, deployments, users (issue 5)
    "live",  # run (live, paper, replay) (issue 5)
    "parity",  # parity, drift (issue 5)
    "identity",  # user add/passwd/disable/enable/list (issue 11)
    "keys",  # keys set/list/rotate-master (issue 11)
    "dashboard",  # dashboard (issue 11)
    "notify",  # notify subscribe/test/history (issue 12)
    "export",  # export (issue 12)
    "flows",  # flows up/status/run/down (issue 10)
    "markets",  # stream, futures data (issue 13)
    "arb",  # arb scan/watch/triangles (issue 28)
    "api",  # api serve, api token create/list/revoke (issue 29)
    "metrics",  # metrics serve (issue 26)
)

for _name in _COMMAND_MODULES:
    try:
        importlib.import_module(f"quantdesk.cli.{_name}")
    except ModuleNotFoundError as _e:
        if _e.name != f"quantdesk.cli.{_name}":
            raise
