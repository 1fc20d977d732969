"""Sweep commands: `sweep` (ranked grid with overfitting statistics) and `walkforward`."""

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
from quantdesk.core.errors import ConfigError

DaskOption = Annotated[str | None, typer.Option(
    "--dask", help="Run on this Dask scheduler (tcp://HOST:8786; default: the `dask` setting, else here).")]
Exchange = Annotated[str | None, typer.Option("--exchange", "-e", help="Exchange id in the lake (default: the only one holding the symbol).")]
Symbol = Annotated[str, typer.Option("--symbol", "-s", help="Symbol like BTC/USDT.")]
Timeframe = Annotated[str, typer.Option("--timeframe", "-t", help="Candle timeframe, e.g. 1m, 5m, 1h, 1d.")]
Start = Annotated[str | None, typer.Option("--start", help="First candle time (ISO 8601), inclusive.")]
End = Annotated[str | None, typer.Option("--end", help="End time (ISO 8601), exclusive.")]
Grid = Annotated[list[str], typer.Option("--grid", "-g", help="Parameter range name=start:stop:step (stop inclusive) or name=a,b,c; repeatable.")]
Metric = Annotated[str, typer.Option("--metric", "-m", help="Metric to rank and choose by (sharpe, sortino, total_return, calmar, ...).")]
FeeBps = Annotated[float, typer.Option("--fee-bps", help="Fee in basis points of traded notional.")]
SlippageBps = Annotated[float, typer.Option("--slippage-bps", help="Slippage in basis points, against the trader.")]
Cash = Annotated[float, typer.Option("--cash", help="Initial cash in quote currency.")]
AllowShort = Annotated[bool, typer.Option("--allow-short", help="Allow negative targets (short positions).")]


def _cost(fee_bps: float, slippage_bps: float) -> Any:
    from quantdesk.core import CostModel

    try:
        return CostModel(fee_bps=fee_bps, slippage_bps=slippage_bps)
    except ValueError as e:
        raise ConfigError(f"{e}; pass non-negative --fee-bps and --slippage-bps") from e


def _table(rows: list[dict[str, Any]], param_names: tuple[str, ...] = (), metric: str = "", wide: bool = False) -> None:
    if not rows:
        return
    # rank, the parameters and the ranking metric always show; other metrics drop as space runs out
    keep = {"rank", metric, *param_names}
    names = list(rows[0])
    columns = [Col(c, 0 if c in keep else 1 + i // 4, "left" if c in param_names else "right") for i, c in enumerate(names)]
    body = [["–" if v is None else f"{v:.4g}" if isinstance(v, float) else str(v) for v in row.values()] for row in rows]
    print_table(console, columns, body, wide=wide)


@app.command("sweep")
@handle_errors
def sweep_command(
    strategy: Annotated[str, typer.Argument(help="Registered name (sma_cross) or path/to/file.py:ClassName.")],
    symbol: Symbol,
    grid: Grid,
    timeframe: Timeframe = "1h",
    exchange: Exchange = None,
    start: Start = None,
    end: End = None,
    random: Annotated[int | None, typer.Option("--random", help="Sample this many combinations of the grid instead of all.")] = None,
    seed: Annotated[int, typer.Option("--seed", help="Seed of --random sampling.")] = 0,
    metric: Metric = "sharpe",
    top: Annotated[int, typer.Option("--top", help="Show this many best combinations.")] = 20,
    fee_bps: FeeBps = 10.0,
    slippage_bps: SlippageBps = 0.0,
    cash: Cash = 10_000.0,
    allow_short: AllowShort = False,
    market: MarketOption = "spot",
    leverage: LeverageOption = 1.0,
    dask: DaskOption = None,
    json_out: JsonOption = False,
    wide: WideOption = False,
) -> None:
    """Backtest every combination of a parameter grid, rank them, store the sweep and report overfitting.

    Example: quantdesk sweep sma_cross --symbol BTC/USDT --timeframe 1h --start 2024-01-01 --grid fast=5:50:5 --grid slow=10:200:10 --top 10
    Futures: quantdesk sweep sma_cross --symbol XRP/USDT:USDT --exchange binanceusdm --market futures --leverage 3 --grid fast=3:10:1 --grid slow=12:40:4
    """

    check_leverage(market, leverage)
    from quantdesk.backtest.data import LakeQuery
    from quantdesk.backtest.grid import expand_grid, parse_grid
    from quantdesk.backtest.sweep import sweep
    from quantdesk.strategies import load_strategy

    parsed = parse_grid(grid)
    strategy_cls = load_strategy(strategy)
    total = len(expand_grid(strategy_cls, parsed, random=random, seed=seed)[0])
    query = LakeQuery(symbols=(symbol,), timeframe=timeframe, start=start, end=end, exchange=exchange)
    enabled = not json_out and err_console.is_terminal
    with progress(f"sweep {strategy}", total, enabled=enabled) as advance:
        result = sweep(strategy_cls, query, grid=parsed, random=random, seed=seed, cost=_cost(fee_bps, slippage_bps),
                       initial_cash=cash, allow_short=allow_short, metric=metric, on_progress=advance,
                       market=market, leverage=leverage, dask=dask)
    payload = result.summary(top)
    payload["snapshot"] = result.snapshot
    if json_out:
        emit(payload)
        return
    console.print(f"sweep [bold]{result.sweep_id}[/]  {result.strategy}: {result.n_combinations} combinations "
                  f"({result.skipped} skipped), engine {result.engine}, ranked by {metric}")
    shown = ("rank", *result.param_names, "sharpe", "total_return", "max_drawdown", "trades", "win_rate")
    _table([{k: row[k] for k in shown} for row in payload["top"]], result.param_names, metric, wide)
    of = result.overfitting
    if of is not None:
        pbo = "–" if of.pbo is None else f"{of.pbo:.2f}"
        console.print(f"deflated Sharpe ratio {of.deflated_sharpe:.3f} over {of.n_trials} trials; "
                      f"probability of backtest overfitting (CSCV, {of.n_blocks} blocks) {pbo}")


@app.command("walkforward")
@handle_errors
def walkforward_command(
    strategy: Annotated[str, typer.Argument(help="Registered name (sma_cross) or path/to/file.py:ClassName.")],
    symbol: Symbol,
    grid: Grid,
    timeframe: Timeframe = "1h",
    exchange: Exchange = None,
    start: Start = None,
    end: End = None,
    train: Annotated[str, typer.Option("--train", help="Train window length, e.g. 90d, 12h, 4w.")] = "90d",
    test: Annotated[str, typer.Option("--test", help="Test window length, e.g. 30d.")] = "30d",
    anchored: Annotated[bool, typer.Option("--anchored", help="Grow the train window from the first bar instead of rolling it.")] = False,
    metric: Metric = "sharpe",
    fee_bps: FeeBps = 10.0,
    slippage_bps: SlippageBps = 0.0,
    cash: Cash = 10_000.0,
    allow_short: AllowShort = False,
    dask: DaskOption = None,
    market: MarketOption = "spot",
    leverage: LeverageOption = 1.0,
    json_out: JsonOption = False,
    wide: WideOption = False,
) -> None:
    """Choose parameters on rolling (or anchored) train windows, trade them on the next test windows.

    Example: quantdesk walkforward sma_cross --symbol BTC/USDT --timeframe 1h --start 2024-01-01 --grid fast=5:50:5 --grid slow=20:200:20 --train 90d --test 30d

    Futures: quantdesk walkforward sma_cross --symbol XRP/USDT:USDT --exchange binanceusdm --timeframe 1h --market futures --leverage 3 --grid fast=3:6:1 --grid slow=12:20:4 --train 2d --test 1d
    """
    from quantdesk.backtest.data import LakeQuery
    from quantdesk.backtest.walkforward import walk_forward

    check_leverage(market, leverage)

    query = LakeQuery(symbols=(symbol,), timeframe=timeframe, start=start, end=end, exchange=exchange)
    enabled = not json_out and err_console.is_terminal
    with progress(f"walk-forward {strategy}", None, enabled=enabled) as advance:
        result = walk_forward(strategy, query, grid=grid, train=train, test=test, anchored=anchored,
                              metric=metric, cost=_cost(fee_bps, slippage_bps), initial_cash=cash,
                              allow_short=allow_short, on_progress=advance, dask=dask, market=market,
                              leverage=leverage)
    if json_out:
        emit(result.summary())
        return
    console.print(f"walk-forward [bold]{result.run_id}[/]  {result.strategy}: {len(result.windows)} windows "
                  f"({'anchored' if anchored else 'rolling'} train {train}, test {test}), chosen by {metric}")
    shown = [c for c in result.windows.columns if c not in ("train_start", "train_end", "test_end")]
    _table(result.windows.select(shown).to_dicts(), wide=wide)
    keys = ("total_return", "sharpe", "sortino", "max_drawdown", "calmar", "trades", "fees_paid")
    _table([{k: result.metrics[k] for k in keys}], wide=wide)
