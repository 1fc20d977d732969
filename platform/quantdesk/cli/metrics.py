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


def metrics_route(host: str, read_ledger: Any) -> tuple[Any, ...]:
    """Return the dashboard server's `/metrics` route (tornado).

    Bound to 127.0.0.1 it needs no login (only this machine reaches it); bound anywhere else it
    answers only a request with `Authorization: Bearer <token>`, the token from `[metrics]`
    (`token_env` or `token_file`), and 403 to everyone when none is configured.
    """
    import hmac

    from tornado.web import RequestHandler

    from quantdesk.metrics import clean_directory, multiprocess_directory, render, scrape_registry
    from quantdesk.metrics.config import MetricsConfig

    local = host == "127.0.0.1"
    token = None if local else MetricsConfig.from_settings().token()
    directory = multiprocess_directory()
    if directory is not None:  # an exporter's start-up: drop what exited processes left
        clean_directory(directory)
    registry = scrape_registry(read_ledger)

    class MetricsHandler(RequestHandler):
        def get(self) -> None:
            if not local:
                if token is None:
                    self.set_status(403)
                    self.finish("/metrics off 127.0.0.1 needs a bearer token: set [metrics] token_env or token_file "
                                "in quantdesk.toml\n")
                    return
                given = self.request.headers.get("Authorization", "")
                if not hmac.compare_digest(given.encode(), f"Bearer {token}".encode()):
                    self.set_status(401)
                    self.set_header("WWW-Authenticate", 'Bearer realm="quantdesk metrics"')
                    self.finish("send Authorization: Bearer <the [metrics] token>\n")
                    return
            self.set_header("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
            self.finish(render(registry))

    return (r"/metrics", MetricsHandler)


def count_dashboard_sessions() -> None:
    """Keep quantdesk_dashboard_sessions: +1 when a page session opens, -1 when it is destroyed."""
    import panel as pn

    from quantdesk.metrics import record_dashboard_sessions

    def created(context: Any) -> None:
        record_dashboard_sessions(1)
        document = getattr(context, "_document", None)
        if document is not None:
            document.on_session_destroyed(lambda _context: record_dashboard_sessions(-1))

    pn.state.on_session_created(created)
