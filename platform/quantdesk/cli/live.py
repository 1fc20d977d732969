"""`quantdesk run`: run a deployment live or on paper, or replay it over lake history."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from quantdesk.cli import app
from quantdesk.cli._common import JsonOption, console, emit, handle_errors, progress

__all__ = ["run_command"]


def _outcome_view(outcome: Any) -> dict[str, Any]:
    return {
        "bar_ts": outcome.bar_ts.isoformat(), "ok": outcome.ok, "targets": outcome.targets,
        "skipped": None if outcome.skipped is None else str(outcome.skipped), "detail": outcome.detail,
        "orders": [{"client_order_id": o.client_order_id, "approved": o.approved, "code": o.code,
                    "status": None if o.status is None else str(o.status), "error": o.error}
                   for o in outcome.orders],
    }


@app.command("run")
@handle_errors
def run_command(
    deployment: Annotated[str, typer.Argument(help="Deployment name (see `quantdesk deployments`).")],
    once: Annotated[bool, typer.Option("--once", help="Process the newest closed bar, then exit.")] = False,
    replay_mode: Annotated[bool, typer.Option("--replay", help="Replay lake history instead of trading.")] = False,
    start: Annotated[str | None, typer.Option("--start", help="Replay start (ISO date or time).")] = None,
    end: Annotated[str | None, typer.Option("--end", help="Replay end, exclusive (ISO date or time).")] = None,
    strict: Annotated[bool, typer.Option("--strict", help="Replay: recompute target() every bar, as live.")] = False,
    stream: Annotated[bool, typer.Option("--stream", help="Take bar closes from the venue's WebSocket stream "
                                         "(REST fills any gap) instead of polling.")] = False,
    venue_clock: Annotated[bool, typer.Option("--venue-clock", help="Take time (bar closes, ledger times) from the "
                                              "venue's server time, not this machine's clock (a simulated venue's "
                                              "market clock; an exchange's own time).")] = False,
    bars: Annotated[int | None, typer.Option("--bars", min=1, help="Stop after this many bar closes.")] = None,
    metrics_port: Annotated[int | None, typer.Option(
        "--metrics-port", help="Also serve the desk's Prometheus metrics on 127.0.0.1:PORT/metrics while running "
        "(the same merged view as `quantdesk metrics serve`).")] = None,
    json_output: JsonOption = False,
) -> None:
    """Run DEPLOYMENT on each bar close (paper or live), or replay it with --replay.

    Live and paper runs reconcile with the venue first, fail closed on stale data, a raising
    strategy, a ledger/venue disagreement or a changed strategy source, and stop cleanly on
    SIGTERM after the current bar. A replay writes to a scratch ledger, never the real one.

    Against `quantdesk venue serve --speed 60`, `--venue-clock` makes a 1m deployment trade one
    bar a second on the venue's market time.

    Example: quantdesk run sma-btc --replay --start 2024-01-01 --end 2024-02-01 --strict
    Example: quantdesk run btc-sim --venue-clock --bars 30
    """
    from quantdesk.core.errors import ConfigError
    from quantdesk.ledger import Ledger

    if replay_mode:
        if not start or not end:
            raise ConfigError("--replay needs --start and --end, e.g. --start 2024-01-01 --end 2024-02-01")
        if stream or venue_clock or bars:
            raise ConfigError("--stream, --venue-clock and --bars apply to live and paper runs, not --replay "
                              "(which reads the lake on a simulated clock)")
        from quantdesk.live import replay
        from quantdesk.promotion import get_deployment

        with Ledger() as ledger:
            found = get_deployment(ledger, deployment)
        with progress(f"replaying {deployment}", None, enabled=not json_output):
            result = replay(found, start, end, strict=strict)
        summary = result.summary()
        if json_output:
            emit(summary)
        else:
            console.print(f"replayed {deployment} ({summary['mode']}): {summary['bars']} bars, "
                          f"{summary['fills']} fills, {summary['denied']} denied, final equity "
                          f"{summary['final_equity']:.2f}, {summary['bars_per_s']} bars/s; ledger {summary['ledger']}")
        return
    if start or end or strict:
        raise ConfigError("--start, --end and --strict apply to --replay only; add --replay or drop them")
    import threading
    from contextlib import ExitStack

    from quantdesk.live.service import run_deployment

    stop = threading.Event()
    seen = [0, 0]  # bars, stale bars

    def show(outcome: Any) -> None:
        seen[0] += 1
        if bars is not None and seen[0] >= bars:
            stop.set()  # the runner returns after this bar
        if json_output:
            return
        console.print(_outcome_line(outcome), highlight=False, soft_wrap=True)  # one line per bar, for logs
        if str(outcome.skipped) == "RUNNER_STALE_DATA" and not venue_clock and seen[1] == 0:
            seen[1] = 1
            console.print("  hint: if the venue's clock is not this machine's (a simulated venue replays the past), "
                          "run with --venue-clock", highlight=False, soft_wrap=True)

    with ExitStack() as stack:
        clock = _clock(deployment, venue_clock)
        if hasattr(clock, "close"):
            stack.callback(clock.close)
        ledger = stack.enter_context(Ledger(clock=clock))
        if metrics_port is not None:
            from quantdesk.cli.metrics import ledger_reader
            from quantdesk.metrics import serve_metrics

            stack.enter_context(serve_metrics(port=metrics_port, read_ledger=ledger_reader(ledger)))
        outcomes = run_deployment(ledger, deployment, once=once, stop=stop, on_bar=show, clock=clock, stream=stream)
    if json_output:
        emit({"deployment": deployment, "bars": [_outcome_view(o) for o in outcomes]})


def _clock(deployment: str, venue_clock: bool) -> Any:
    """The run's clock: the deployment's venue's time with --venue-clock, else QUANTDESK_CLOCK (the system clock)."""
    import os

    from quantdesk.live.schedule import CLOCK_ENV, clock_from_env

    if not venue_clock:
        return clock_from_env()
    from quantdesk.core.errors import ConfigError
    from quantdesk.ledger import Ledger
    from quantdesk.live.venue_clock import VenueClock
    from quantdesk.promotion import get_deployment

    if os.environ.get(CLOCK_ENV, "system") not in ("", "system"):
        raise ConfigError(f"--venue-clock and {CLOCK_ENV}={os.environ[CLOCK_ENV]} both choose the clock: drop one")
    with Ledger() as ledger:
        venue = get_deployment(ledger, deployment).venue
    if venue == "paper":
        raise ConfigError(f"deployment {deployment!r} trades on no venue (venue 'paper'): --venue-clock follows a "
                          "venue's time; promote it with --venue NAME, or drop --venue-clock")
    return VenueClock.for_venue(venue)


def _outcome_line(outcome: Any) -> str:
    """One readable line per bar: when, the targets, and each order's fate (or why nothing was sent)."""
    when = f"{outcome.bar_ts:%Y-%m-%d %H:%M} UTC"
    if not outcome.ok:
        return f"{when}  no orders: {outcome.skipped}: {outcome.detail}"
    targets = ", ".join(f"{symbol} {value:+.2f}" for symbol, value in outcome.targets.items())
    orders = "; ".join(_order_words(o) for o in outcome.orders) or "no order"
    return f"{when}  target {targets}  {orders}"


def _order_words(outcome: Any) -> str:
    row = outcome.order  # the ledger's row (None when the gate denied the intent before it was written)
    what = f"{row.side} {_quantity(row.qty)} {row.symbol}" if row is not None else f"order {outcome.client_order_id}"
    if not outcome.approved:
        return f"{what} denied: {outcome.code}"
    if row is not None and row.avg_price is not None and row.filled_qty:
        return f"{what} {outcome.status or row.status} at {_price(row.avg_price)}"
    return f"{what} {outcome.status or outcome.code}"


def _quantity(value: Any) -> str:
    """A quantity to 8 decimals at most (a paper order keeps the backtest's unrounded size), no trailing zeros."""
    return f"{float(value):.8f}".rstrip("0").rstrip(".") or "0"


def _price(value: Any) -> str:
    """A price as people read it: thousands separated, cents above 1, six significant digits below."""
    number = float(value)
    return f"{number:,.2f}" if abs(number) >= 1 else f"{number:.6g}"
