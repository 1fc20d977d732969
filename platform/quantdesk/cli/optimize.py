"""`quantdesk optimize`: a seeded Optuna search over a strategy's parameters, stored, resumable, deflated."""

from __future__ import annotations

from typing import Annotated

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
from quantdesk.cli.sweep import (
    AllowShort,
    Cash,
    End,
    Exchange,
    FeeBps,
    SlippageBps,
    Start,
    Symbol,
    Timeframe,
    _cost,
    _table,
)
from quantdesk.cli.tables import WideOption

Space = Annotated[list[str], typer.Option(
    "--space", help="Parameter range name=low:high (ints; a dot makes it float; :step or :log optional) "
                    "or name=a,b,c; repeatable.")]


@app.command("optimize")
@handle_errors
def optimize_command(
    strategy: Annotated[str, typer.Argument(help="Registered name (rsi_reversion) or path/to/file.py:ClassName.")],
    symbol: Symbol,
    space: Space,
    trials: Annotated[int, typer.Option("--trials", "-n", help="Trials in the study (a rerun resumes up to this many).")] = 100,
    objective: Annotated[str, typer.Option("--objective", "-o", help="Metric to optimize (sharpe, sortino, total_return, calmar, ...).")] = "sharpe",
    seed: Annotated[int, typer.Option("--seed", help="Seed of the TPE sampler (same seed, same trials).")] = 0,
    timeframe: Timeframe = "1h",
    exchange: Exchange = None,
    start: Start = None,
    end: End = None,
    batch: Annotated[int, typer.Option("--batch", help="Trials proposed and backtested together (the seed reproduces a given batch size).")] = 4,
    top: Annotated[int, typer.Option("--top", help="Show this many best trials.")] = 10,
    fee_bps: FeeBps = 10.0,
    slippage_bps: SlippageBps = 0.0,
    cash: Cash = 10_000.0,
    allow_short: AllowShort = False,
    market: MarketOption = "spot",
    leverage: LeverageOption = 1.0,
    json_out: JsonOption = False,
    wide: WideOption = False,
) -> None:
    """Search a parameter space with Optuna (TPE, seeded), store every trial, report deflated Sharpe and PBO.

    The study lives in the ledger database; rerunning the same command after an interruption resumes it.
    Example: quantdesk optimize rsi_reversion --symbol BTC/USDT --timeframe 1h --space period=5:30 --space oversold=10.0:40.0 --trials 100
    """
    check_leverage(market, leverage)
    from quantdesk.backtest.data import LakeQuery
    from quantdesk.backtest.optimize import optimize
    from quantdesk.backtest.space import parse_space
    from quantdesk.ledger.studies import study_storage

    parsed = parse_space(space)  # bad specs fail before the data is read
    query = LakeQuery(symbols=(symbol,), timeframe=timeframe, start=start, end=end, exchange=exchange)
    enabled = not json_out and err_console.is_terminal
    cost = _cost(fee_bps, slippage_bps)
    with study_storage() as storage, progress(f"optimize {strategy}", trials, enabled=enabled) as advance:
        result = optimize(strategy, query, space=parsed, trials=trials, objective=objective, seed=seed, cost=cost,
                          initial_cash=cash, allow_short=allow_short, market=market, leverage=leverage,
                          storage=storage, on_progress=advance, batch=batch)
    payload = result.summary(top)
    payload["snapshot"] = result.snapshot
    if json_out:
        emit(payload)
        return
    resumed = result.n_trials - result.ran_now
    console.print(f"optimize [bold]{result.run_id}[/]  {result.strategy}: {result.n_trials} trials "
                  f"({result.ran_now} run now, {resumed} resumed; {result.n_evaluated} backtested, "
                  f"{result.n_invalid} refused by validate()), engine {result.engine}, {result.direction} {objective}")
    console.print(f"study {result.study} (seed {seed})")
    shown = ("rank", "number", *result.param_names, "sharpe", "total_return", "max_drawdown", "trades", "win_rate")
    _table([{k: row[k] for k in shown} for row in payload["top"]], result.param_names, objective, wide)
    of = result.overfitting
    if of is not None:
        pbo = "–" if of.pbo is None else f"{of.pbo:.2f}"
        console.print(f"deflated Sharpe ratio {of.deflated_sharpe:.3f} over {of.n_trials} trials; "
                      f"probability of backtest overfitting (CSCV, {of.n_blocks} blocks) {pbo}")
