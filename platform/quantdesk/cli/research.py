"""Research commands: `backtest`, `report`, `runs`, `reproduce` and `check lookahead`."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from quantdesk.cli import app
from quantdesk.cli._common import (
    JsonOption,
    LeverageOption,
    MarketOption,
    check_leverage,
    console,
    emit,
    err_console,
    handle_errors,
    progress,
)
from quantdesk.cli.tables import Col, WideOption, print_table
from quantdesk.core.errors import ConfigError, LookaheadError

check_app = typer.Typer(help="Checks on strategies (lookahead).", no_args_is_help=True)
app.add_typer(check_app, name="check")

Exchange = Annotated[str | None, typer.Option("--exchange", "-e", help="Exchange id in the lake (default: the only one holding the symbol).")]
Symbols = Annotated[list[str], typer.Option("--symbol", "-s", help="Symbol like BTC/USDT; repeat for multi-asset strategies.")]
Timeframe = Annotated[str, typer.Option("--timeframe", "-t", help="Candle timeframe, e.g. 1m, 5m, 1h, 1d.")]
Start = Annotated[str | None, typer.Option("--start", help="First candle time (ISO 8601), inclusive.")]
End = Annotated[str | None, typer.Option("--end", help="End time (ISO 8601), exclusive.")]
Params = Annotated[list[str] | None, typer.Option("--param", "-p", help="Strategy parameter as key=value; repeatable.")]


def parse_params(items: list[str] | None) -> dict[str, str]:
    """Turn `["fast=10", "slow=30"]` into `{"fast": "10", "slow": "30"}`."""
    out: dict[str, str] = {}
    for item in items or []:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise ConfigError(f"--param {item!r} is not key=value; write e.g. --param fast=10")
        out[key.strip()] = value.strip()
    return out


def _enabled(json_out: bool) -> bool:
    return not json_out and err_console.is_terminal


def _print_metrics(metrics: dict[str, Any]) -> None:
    from rich.table import Table

    table = Table(show_header=False, box=None)
    for key, value in metrics.items():
        table.add_row(key, "–" if value is None else f"{value:,.6g}" if isinstance(value, float) else str(value))
    console.print(table)


@app.command("backtest")
@handle_errors
def backtest_command(
    strategy: Annotated[str, typer.Argument(help="Registered name (sma_cross) or path/to/file.py:ClassName.")],
    symbol: Symbols,
    timeframe: Timeframe = "1h",
    exchange: Exchange = None,
    start: Start = None,
    end: End = None,
    param: Params = None,
    fee_bps: Annotated[float, typer.Option("--fee-bps", help="Fee in basis points of traded notional.")] = 10.0,
    slippage_bps: Annotated[float, typer.Option("--slippage-bps", help="Slippage in basis points, against the trader.")] = 0.0,
    cash: Annotated[float, typer.Option("--cash", help="Initial cash in quote currency.")] = 10_000.0,
    allow_short: Annotated[bool, typer.Option("--allow-short", help="Allow negative targets (short positions).")] = False,
    lookahead_samples: Annotated[int, typer.Option("--lookahead-samples", help="Bars sampled by the lookahead check (0 skips it).")] = 8,
    market: MarketOption = "spot",
    leverage: LeverageOption = 1.0,
    json_out: JsonOption = False,
) -> None:
    """Backtest a strategy on lake candles, store the run and print its metrics.

    Example: quantdesk backtest sma_cross --symbol BTC/USDT --timeframe 1h --start 2024-01-01 --param fast=10 --param slow=30 --fee-bps 10
    Futures: quantdesk backtest sma_cross --symbol XRP/USDT:USDT --exchange binanceusdm --timeframe 1h --market futures --leverage 3
    (funding from the lake's funding table, mark prices from the series XRP/USDT:USDT@mark).
    """
    from quantdesk.backtest import LakeQuery, backtest
    from quantdesk.core import CostModel

    try:
        cost = CostModel(fee_bps=fee_bps, slippage_bps=slippage_bps)
    except ValueError as e:
        raise ConfigError(f"{e}; pass non-negative --fee-bps and --slippage-bps") from e
    if market not in ("spot", "futures"):
        raise ConfigError(f"--market {market!r} is not a market type; pass --market spot or --market futures")
    check_leverage(market, leverage)
    query = LakeQuery(symbols=tuple(symbol), timeframe=timeframe, start=start, end=end, exchange=exchange)
    with progress(f"backtest {strategy}", None, enabled=_enabled(json_out)):
        if market == "futures":
            from quantdesk.backtest.futures import futures_backtest

            result = futures_backtest(strategy, query, params=parse_params(param), cost=cost, initial_cash=cash,
                                      leverage=leverage, lookahead_samples=lookahead_samples)
        else:
            result = backtest(strategy, query, params=parse_params(param), cost=cost, initial_cash=cash,
                              allow_short=allow_short, lookahead_samples=lookahead_samples)
    look = result.lookahead
    payload = {
        "run_id": result.run_id,
        "strategy": result.strategy,
        "params": result.params,
        "snapshot": result.snapshot,
        "metrics": result.metrics.to_json(),
        "lookahead": {"passed": look.passed, "detail": look.detail, "checked_bars": len(look.checked_bars)} if look else None,
        "trades": result.trades.to_dicts(),
        **({"futures": {k: v for k, v in result.extra.items() if k != "futures_inputs"}}
           if result.extra and "ml" not in result.extra else {}),
        # an ML strategy's models (artifact hashes, training window) and OOS feature importances
        **({"ml": {**result.extra["ml"], "importance": result.extra["ml_importance"].to_dicts()}}
           if "ml" in result.extra else {}),
    }
    if json_out:
        emit(payload)
        return
    console.print(f"run [bold]{result.run_id}[/]  {result.strategy} {result.params}  "
                  f"{', '.join(result.snapshot.symbols)} {result.snapshot.timeframe} ({result.snapshot.bars} bars)")
    _print_metrics(result.metrics.to_json())
    if result.extra.get("market") == "futures":
        fx = result.extra
        console.print(f"futures {fx['leverage']:g}x isolated: funding paid {fx['funding_paid']:.2f} over "
                      f"{fx['funding_settlements']} settlements, {len(fx['liquidations'])} liquidation(s)"
                      + (f"; {fx['mark_fallback_bars']} bars without a mark candle used trade prices"
                         if fx["mark_fallback_bars"] else ""), highlight=False)
    if look is not None and not look.passed:
        err_console.print(f"[bold yellow]warning:[/] {look.message()}")
    console.print(f"report: quantdesk report {result.run_id}")


@app.command("report")
@handle_errors
def report_command(
    run_id: Annotated[str, typer.Argument(help="A run id from `quantdesk backtest` or `quantdesk runs`.")],
    pdf: Annotated[bool, typer.Option("--pdf", help="Also print the tearsheet to PDF beside it (needs Chromium).")] = False,
    json_out: JsonOption = False,
) -> None:
    """Write a self-contained HTML tearsheet of a stored run (and with --pdf a PDF) and print its path.

    Example: quantdesk report backtest-20240101T120000-1a2b3c --pdf
    """
    from quantdesk.backtest.report import write_report

    path = write_report(run_id)
    printed = None
    if pdf:
        from quantdesk.reports.pdf import html_to_pdf

        printed = html_to_pdf(path)
    if json_out:
        emit({"run_id": run_id, "path": path, "pdf": printed})
    else:
        typer.echo(str(printed or path))


@app.command("runs")
@handle_errors
def runs_command(
    kind: Annotated[str | None, typer.Option("--kind", help="Only runs of this kind (backtest, sweep, ...).")] = None,
    limit: Annotated[int, typer.Option("--limit", help="Show at most this many runs, newest first.")] = 20,
    json_out: JsonOption = False,
    wide: WideOption = False,
) -> None:
    """List stored runs, newest first.

    Example: quantdesk runs --kind backtest --limit 5
    """
    from quantdesk.backtest import list_runs

    frame = list_runs(kind).head(limit)
    if json_out:
        emit(frame.to_dicts())
        return
    first = {"run_id", "kind", "strategy"}  # what `quantdesk report RUN_ID` needs stays
    columns = [Col(c, 0 if c in first else 1 + i // 3) for i, c in enumerate(frame.columns)]
    rows = [["" if v is None else f"{v:.4g}" if isinstance(v, float) else str(v) for v in row] for row in frame.iter_rows()]
    print_table(console, columns, rows, wide=wide)


@app.command("reproduce")
@handle_errors
def reproduce_command(
    run_id: Annotated[str, typer.Argument(help="A stored backtest run id.")],
    json_out: JsonOption = False,
) -> None:
    """Re-run a stored backtest from what was stored; exit 1 if anything differs.

    Example: quantdesk reproduce backtest-20240101T120000-1a2b3c
    """
    from quantdesk.backtest import reproduce

    rep = reproduce(run_id)
    payload = {"run_id": run_id, "matches": rep.matches, "code_hash_matches": rep.code_hash_matches,
               "data_matches": rep.data_matches, "differences": rep.differences}
    if json_out:
        emit(payload)
    else:
        console.print(f"{run_id}: {'reproduced' if rep.matches else 'DIFFERS'}"
                      f" (code {'same' if rep.code_hash_matches else 'changed'},"
                      f" data {'same' if rep.data_matches else 'changed'})")
        for name, diff in rep.differences.items():
            console.print(f"  {name}: {diff}")
    if not rep.matches:
        raise typer.Exit(1)


@check_app.command("lookahead")
@handle_errors
def check_lookahead_command(
    strategy: Annotated[str, typer.Argument(help="Registered name (sma_cross) or path/to/file.py:ClassName.")],
    symbol: Symbols,
    timeframe: Timeframe = "1h",
    exchange: Exchange = None,
    start: Start = None,
    end: End = None,
    param: Params = None,
    samples: Annotated[int, typer.Option("--samples", help="Bars to truncate at per parameter set (0 = every bar).")] = 50,
    param_sets: Annotated[int, typer.Option("--param-sets", help="Extra random valid parameter sets to check.")] = 0,
    seed: Annotated[int, typer.Option("--seed", help="Seed for bar and parameter sampling.")] = 0,
    json_out: JsonOption = False,
) -> None:
    """Check that target() on truncated history equals target() on the full history; exit 1 on lookahead.

    Example: quantdesk check lookahead sma_cross --symbol BTC/USDT --timeframe 1h --samples 100 --param-sets 5
    """
    from quantdesk.backtest.data import LakeQuery, resolve_data
    from quantdesk.backtest.engine import resolve_strategy
    from quantdesk.backtest.lookahead import check_lookahead, sample_params

    instance, _ = resolve_strategy(strategy, parse_params(param))
    frames, _snap = resolve_data(LakeQuery(symbols=tuple(symbol), timeframe=timeframe, start=start, end=end,
                                           exchange=exchange))
    candidates = [instance, *(type(instance)(**p) for p in sample_params(type(instance), param_sets, seed=seed))]
    verdicts = []
    with progress("lookahead check", len(candidates), enabled=_enabled(json_out)) as advance:
        for candidate in candidates:
            verdict = check_lookahead(candidate, frames, samples=samples or None, seed=seed)
            verdicts.append(verdict)
            advance(1)
            if not verdict.passed:
                break
    failed = next((v for v in verdicts if not v.passed), None)
    if json_out:
        emit({"passed": failed is None, "verdicts": verdicts})
    else:
        for v in verdicts:
            console.print(("ok  " if v.passed else "FAIL ") + v.message(), highlight=False)
    if failed is not None:
        if json_out:
            raise typer.Exit(1)
        raise LookaheadError(failed.message())
