"""`quantdesk parity` and `quantdesk drift`: does the live path agree with the backtest?

`parity` replays a deployment over lake history and compares it with a backtest bar by bar
(exit 1 when anything differs); `drift` compares a paper/live deployment's real fills with a
backtest of the same window and prints the drift figure the live-promotion gate uses.
"""

from __future__ import annotations

from typing import Annotated

import typer

from quantdesk.cli import app
from quantdesk.cli._common import JsonOption, console, emit, handle_errors, progress

StartOption = Annotated[str | None, typer.Option("--start", help="Window start (ISO date/time, UTC).")]
EndOption = Annotated[str | None, typer.Option("--end", help="Window end, exclusive (ISO date/time, UTC).")]


def _fmt(value: float | None, spec: str = ".2f") -> str:
    return "-" if value is None else format(value, spec)


@app.command("parity")
@handle_errors
def parity(
    deployment: Annotated[str, typer.Argument(help="The deployment to replay.")],
    start: Annotated[str, typer.Option("--start", help="Replay start (ISO date/time, UTC).")],
    end: Annotated[str, typer.Option("--end", help="Replay end, exclusive (ISO date/time, UTC).")],
    strict: Annotated[bool, typer.Option("--strict", help="Recompute target() per bar from the trailing window, as live.")] = False,
    limit: Annotated[int, typer.Option("--limit", min=0, help="Differences to list in text output (all with --json).")] = 20,
    json_out: JsonOption = False,
) -> None:
    """Replay a deployment and compare it with a backtest bar by bar; exit 1 on any difference.

    Targets must be equal exactly; fills' quantity, price and fee within 1e-9 relative.
    Example: quantdesk parity btc-sma --start 2024-01-01 --end 2024-02-01 --json
    """
    from quantdesk.lake import Lake
    from quantdesk.ledger import Ledger
    from quantdesk.parity import parity_report
    from quantdesk.promotion import get_deployment

    with progress(f"replaying {deployment} and backtesting it", None, enabled=not json_out), Ledger() as ledger:
        report = parity_report(get_deployment(ledger, deployment), start, end, strict=strict, lake=Lake())
    if json_out:
        emit(report.to_json())
    else:
        lines = report.lines(limit)
        console.print(lines[0], style="bold green" if report.ok else "bold red", highlight=False)
        for line in lines[1:]:
            console.print(f"  {line}", highlight=False)
    if not report.ok:
        raise typer.Exit(1)


@app.command("drift")
@handle_errors
def drift(
    deployment: Annotated[str, typer.Argument(help="The paper or live deployment to check.")],
    start: StartOption = None,
    end: EndOption = None,
    limit: Annotated[int, typer.Option("--limit", min=0, help="Trades to list in text output (all with --json).")] = 20,
    json_out: JsonOption = False,
) -> None:
    """Compare a deployment's real fills with a backtest of the same window and candles.

    drift_bps is the notional-weighted mean |slippage| of real fills against the backtest's
    fill price for the same bar; the live-promotion gate compares it with its threshold.
    Example: quantdesk drift btc-sma --start 2024-03-01 --json
    """
    from quantdesk.lake import Lake
    from quantdesk.ledger import Ledger
    from quantdesk.parity import drift_report
    from quantdesk.promotion import get_deployment

    with progress(f"backtesting {deployment}'s window", None, enabled=not json_out), Ledger() as ledger:
        report = drift_report(ledger, get_deployment(ledger, deployment), start, end, lake=Lake())
    if json_out:
        emit(report)
        return
    console.print(
        f"drift {report.deployment} ({report.stage}) {report.start:%Y-%m-%d %H:%M} -> {report.end:%Y-%m-%d %H:%M}, "
        f"{report.bars} bars, {report.days:.1f} days: drift {_fmt(report.drift_bps)} bps, "
        f"mean slippage {_fmt(report.mean_slippage_bps)} bps, equity tracking error "
        f"{_fmt(report.equity_tracking_error_bps)} bps", highlight=False,
    )
    console.print(
        f"  trades: {report.matched_trades} matched, {report.missed_trades} missed, {report.extra_trades} extra; "
        f"denied by the risk gate: {len(report.denied)}; pnl {report.actual_pnl:.2f} vs backtest "
        f"{report.backtest_pnl:.2f}; fees {report.actual_fees:.2f} vs {report.backtest_fees:.2f}", highlight=False,
    )
    for t in report.trades[:limit]:
        console.print(
            f"  {t.signal_ts:%Y-%m-%d %H:%M} {t.symbol} {t.side} qty {_fmt(t.qty, '.8g')} @ {_fmt(t.fill_price, '.8g')}"
            f" (backtest {_fmt(t.backtest_qty, '.8g')} @ {_fmt(t.backtest_price, '.8g')}) slippage "
            f"{_fmt(t.slippage_bps)} bps fee {_fmt(t.fee, '.6g')}", highlight=False,
        )
    if len(report.trades) > limit:
        console.print(f"  ... and {len(report.trades) - limit} more trades (all with --json)", highlight=False)
    for d in report.denied[:limit]:
        console.print(f"  denied {d.ts:%Y-%m-%d %H:%M} {d.symbol or ''} {d.code}: {d.detail}", highlight=False)

