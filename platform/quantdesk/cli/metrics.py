"""`quantdesk metrics serve`: the desk's Prometheus exporter (the merged view of $QUANTDESK_HOME/metrics)."""

from __future__ import annotations

import signal
import threading
from typing import Annotated, Any

import typer

from quantdesk.cli import app
from quantdesk.cli._common import console, handle_errors

metrics_app = typer.Typer(help="Prometheus metrics: the exporter (see README, Metrics).", no_args_is_help=True)
app.add_typer(metrics_app, name="metrics")

_STATE_VALUE = {"ACTIVE": 0, "REDUCING": 1, "HALTED": 2}


def ledger_reader(ledger: Any) -> Any:
    """Return the exporter's scrape-time reading of `ledger`: trading states and the outbox backlog."""
    from quantdesk.ledger.outbox import LedgerOutbox
    from quantdesk.metrics import LedgerReading

    outbox = LedgerOutbox(ledger)

    def read() -> LedgerReading:
        states = {"global": 0}  # never set: ACTIVE, and a series to alert on from the first scrape
        for record in ledger.trading_states():
            states[record.scope] = _STATE_VALUE.get(str(record.state).rsplit(".", 1)[-1].upper(), 0)
        return LedgerReading(trading_states=states, outbox_pending=outbox.pending_count())

    return read


@metrics_app.command("serve")
@handle_errors
def serve_command(
    port: Annotated[int, typer.Option("--port", help="Port to serve /metrics on.")] = 9108,
    host: Annotated[str, typer.Option("--host", help="Address to bind (127.0.0.1: this machine only).")] = "127.0.0.1",
) -> None:
    """Serve every quantdesk process's metrics of this home on /metrics until Ctrl-C or SIGTERM.

    Start-up removes what processes that have exited left in $QUANTDESK_HOME/metrics (their
    counters restart from zero, which Prometheus' rate() expects after a restart).

    Example: quantdesk metrics serve --port 9108
    """
    from quantdesk.ledger import Ledger
    from quantdesk.metrics import multiprocess_directory, serve_metrics

    stop = threading.Event()
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, lambda *_: stop.set())
    with Ledger() as ledger:
        server = serve_metrics(port=port, host=host, read_ledger=ledger_reader(ledger))
        console.print(f"metrics on http://{server.host}:{server.port}/metrics "
                      f"(processes record into {multiprocess_directory()})", highlight=False)
        try:
            while not stop.wait(1.0):
                pass
        except KeyboardInterrupt:
            pass
        finally:
            server.close()
