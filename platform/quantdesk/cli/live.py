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
    json_output: JsonOption = False,
) -> None:
    """Run DEPLOYMENT on each bar close (paper or live), or replay it with --replay.

    Live and paper runs reconcile with the venue first, fail closed on stale data, a raising
    strategy, a ledger/venue disagreement or a changed strategy source, and stop cleanly on
    SIGTERM after the current bar. A replay writes to a scratch ledger, never the real one.

    Example: quantdesk run sma-btc --replay --start 2024-01-01 --end 2024-02-01 --strict
    """
    from quantdesk.core.errors import ConfigError
    from quantdesk.ledger import Ledger

    if replay_mode:
        if not start or not end:
            raise ConfigError("--replay needs --start and --end, e.g. --start 2024-01-01 --end 2024-02-01")
        if stream:
            raise ConfigError("--stream applies to live and paper runs, not --replay (which reads the lake)")
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
    from quantdesk.live.service import run_deployment

    def show(outcome: Any) -> None:
        if json_output:
            return
        if outcome.ok:
            console.print(f"{outcome.bar_ts.isoformat()} targets {outcome.targets} orders {len(outcome.orders)}")
        else:
            console.print(f"{outcome.bar_ts.isoformat()} NO ORDERS: {outcome.skipped}: {outcome.detail}")

    from quantdesk.live.schedule import clock_from_env

    clock = clock_from_env()
    with Ledger(clock=clock) as ledger:
        outcomes = run_deployment(ledger, deployment, once=once, on_bar=show, clock=clock, stream=stream)
    if json_output:
        emit({"deployment": deployment, "bars": [_outcome_view(o) for o in outcomes]})
