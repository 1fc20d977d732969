"""Walk-forward analysis: choose parameters on a train window, trade them on the next test window.

Windows are laid out in time: rolling (train [t, t+train), test [t+train, t+train+test),
then move by `test`) or anchored (train always starts at the first bar). Parameters are
chosen on each train window by `metric` (a sweep), then run on the test window that
follows. Each test window starts flat with the previous window's final equity as cash
(an open position is marked at the last close, not sold), and the test equities are
stitched into one out-of-sample curve whose metrics use `quantdesk.backtest.metrics`.

Indicators on the fast path see the history before each window, as a live strategy would.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from contextlib import ExitStack
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import polars as pl

from quantdesk.backtest.combo_runs import window_equity, window_metrics
from quantdesk.backtest.data import DataSnapshot, LakeQuery, resolve_data
from quantdesk.backtest.grid import expand_grid, parse_grid
from quantdesk.backtest.metrics import (
    annualization,
    bar_returns,
    cagr,
    drawdown_duration,
    max_drawdown,
    sharpe,
    sortino,
    volatility,
)
from quantdesk.backtest.sweep import LOWER_IS_BETTER
from quantdesk.backtest.sweep_fast import fast_path_for
from quantdesk.core.clock import Clock
from quantdesk.core.costs import CostModel, MarketRules
from quantdesk.core.errors import BacktestError, ConfigError
from quantdesk.core.settings import get_settings
from quantdesk.core.timeframes import timeframe_ms
from quantdesk.strategies.base import Strategy
from quantdesk.strategies.loader import load_strategy, strategy_source_hash

__all__ = ["WalkForwardResult", "parse_duration_ms", "walk_forward", "window_bounds"]


@dataclass(frozen=True, slots=True, kw_only=True)
class WalkForwardResult:
    """Per-window choices and test results, and the stitched out-of-sample equity and metrics."""

    run_id: str | None
    strategy: str
    metric: str
    anchored: bool
    windows: pl.DataFrame  # window, train/test start/end, chosen params, train metric, test metrics
    equity: pl.DataFrame  # ts, equity (out of sample, stitched)
    metrics: dict[str, Any]  # out-of-sample metrics of the stitched equity
    snapshot: DataSnapshot

    def summary(self) -> dict[str, Any]:
        """Return a JSON-ready summary: run id, out-of-sample metrics and the windows."""
        return {"run_id": self.run_id, "strategy": self.strategy, "metric": self.metric,
                "anchored": self.anchored, "metrics": self.metrics, "windows": self.windows.to_dicts()}


def parse_duration_ms(text: str) -> int:
    """Return a duration like `90d`, `12h`, `2w` in milliseconds."""
    try:
        return timeframe_ms(text.strip())
    except ConfigError as e:
        raise BacktestError(f"duration {text!r} is not a number and a unit, e.g. 90d, 12h, 2w") from e


def window_bounds(ts_ms: np.ndarray, train_ms: int, test_ms: int, *, anchored: bool = False) -> list[tuple[int, int, int]]:
    """Return (train_start, test_start, test_end) bar indices of every complete walk-forward window."""
    if len(ts_ms) == 0:
        return []
    first = int(ts_ms[0])
    # The last bar covers [last, last + bar); a window may end exactly there.
    last = int(ts_ms[-1]) + (int(np.diff(ts_ms).min()) if len(ts_ms) > 1 else 0)
    out = []
    k = 0
    while True:
        train_start_ms = first if anchored else first + k * test_ms
        test_start_ms = first + train_ms + k * test_ms
        test_end_ms = test_start_ms + test_ms
        if test_end_ms > last:
            break
        a, b, c = np.searchsorted(ts_ms, [train_start_ms, test_start_ms, test_end_ms])
        if b - a >= 2 and c - b >= 1:
            out.append((int(a), int(b), int(c)))
        k += 1
    return out


def walk_forward(
    strategy: type[Strategy] | str,
    data: pl.DataFrame | dict[str, pl.DataFrame] | LakeQuery,
    *,
    grid: Mapping[str, Sequence[Any]] | Sequence[str],
    train: str = "90d",
    test: str = "30d",
    anchored: bool = False,
    metric: str = "sharpe",
    cost: CostModel | None = None,
    rules: MarketRules | None = None,
    initial_cash: float = 10_000.0,
    allow_short: bool = False,
    rebalance: bool = False,
    timeframe: str | None = None,
    store: bool = True,
    lake: Any = None,
    clock: Clock | None = None,
    on_progress: Callable[[int], None] | None = None,
    dask: str | None = None,
    market: str = "spot",
    leverage: float = 1.0,
) -> WalkForwardResult:
    """Run a walk-forward of `strategy` over `grid` with `train`/`test` windows (e.g. "90d"/"30d").

    `on_progress(1)` is called after each window. With `store=True` the windows and the
    stitched equity are saved as a run of kind "walkforward". `market="futures"` walks a
    perpetual forward at `leverage` with the futures engine (funding and mark prices from the
    lake, shorts allowed), each window a `futures_backtest`; it runs in this process.
    Example: `walk_forward("sma_cross", candles, grid=["fast=5:50:5", "slow=20:200:20"], train="60d", test="20d")`.
    """
    strategy_cls = load_strategy(strategy) if isinstance(strategy, str) else strategy
    grid = parse_grid(grid) if not isinstance(grid, Mapping) else grid
    cost, rules = cost or CostModel(), rules or MarketRules()
    combos, _ = expand_grid(strategy_cls, grid)
    if not combos:
        raise BacktestError("no valid combination in the grid; check the ranges, e.g. fast must stay below slow")
    frames, snapshot = resolve_data(data, timeframe=timeframe, lake=lake)
    ts = next(iter(frames.values()))["ts"]
    ts_ms = ts.dt.epoch("ms").to_numpy()
    bounds = window_bounds(ts_ms, parse_duration_ms(train), parse_duration_ms(test), anchored=anchored)
    if not bounds:
        span_days = (ts_ms[-1] - ts_ms[0]) / 86_400_000 if len(ts_ms) else 0
        raise BacktestError(
            f"no complete train {train} + test {test} window fits in {span_days:.1f} days of data; "
            "shorten --train/--test or widen --start/--end"
        )
    tf_ms = timeframe_ms(snapshot.timeframe)
    if market not in ("spot", "futures"):
        raise BacktestError(f"market {market!r} is not spot or futures")
    futures = _futures_inputs(data, frames, snapshot, lake, leverage) if market == "futures" else None
    if futures is not None:
        allow_short, dask = True, ""  # a perpetual is symmetric; the futures engine runs here
    kw = dict(cost=cost, rules=rules, allow_short=allow_short, rebalance=rebalance)
    if futures is not None:
        kw["futures"] = futures
    fast = fast_path_for(strategy_cls, frames) if futures is None else None
    rows, pieces = [], []
    capital = float(initial_cash)
    dask = dask if dask is not None else get_settings().dask
    stack = ExitStack()
    cluster = None
    if dask:  # each window's training grid runs on the cluster; the chosen test run stays here
        from quantdesk.backtest.distributed import DaskSweeper
        from quantdesk.backtest.engine import resolve_strategy

        cluster = stack.enter_context(DaskSweeper(dask, resolve_strategy(strategy_cls)[1], frames))
    with stack:
        for i, (a, b, c) in enumerate(bounds):
            if cluster is not None:
                train_metrics, _ = cluster.run(combos, timeframe=snapshot.timeframe, timeframe_ms=tf_ms, n_blocks=2,
                                               metric_columns=None, bars=(a, b), initial_cash=initial_cash, **kw)
            else:
                train_metrics = window_metrics(strategy_cls, frames, fast, combos, slice(a, b), tf_ms, initial_cash, kw)
            key = np.asarray(train_metrics[metric], dtype=np.float64)
            key = np.where(np.isnan(key), np.inf if metric in LOWER_IS_BETTER else -np.inf, key)
            best = int(np.argmin(key) if metric in LOWER_IS_BETTER else np.argmax(key))
            params = combos[best]
            test_metrics = window_metrics(strategy_cls, frames, fast, [params], slice(b, c), tf_ms, capital, kw)
            equity = window_equity(strategy_cls, frames, fast, params, slice(b, c), capital, kw)
            pieces.append(equity)
            rows.append({
                "window": i, "train_start": ts[a], "train_end": ts[b - 1], "test_start": ts[b], "test_end": ts[c - 1],
                **params, f"train_{metric}": float(train_metrics[metric][best]),
                **{f"test_{k}": float(test_metrics[k][0]) for k in ("total_return", "sharpe", "max_drawdown")},
                "test_trades": int(test_metrics["trades"][0]), "test_fees_paid": float(test_metrics["fees_paid"][0]),
            })
            capital = float(equity[-1])
            if on_progress is not None:
                on_progress(1)
    windows = pl.DataFrame(rows)
    oos = np.concatenate(pieces)
    oos_ts = pl.concat([ts[b:c] for _, b, c in bounds])
    metrics = _stitched_metrics(oos, initial_cash, tf_ms, windows)
    result = WalkForwardResult(
        run_id=None, strategy=strategy_cls.name, metric=metric, anchored=anchored, windows=windows,
        equity=pl.DataFrame({"ts": oos_ts, "equity": oos}), metrics=metrics, snapshot=snapshot,
    )
    if store:
        from dataclasses import replace

        from quantdesk.backtest.store import save_run

        record = {"strategy": result.strategy, "code_hash": strategy_source_hash(strategy_cls),
                  "grid": {k: list(v) for k, v in grid.items()}, "train": train, "test": test,
                  "anchored": anchored, "metric": metric, "snapshot": asdict(snapshot), "cost": asdict(cost),
                  "rules": asdict(rules), "initial_cash": initial_cash, "allow_short": allow_short,
                  "rebalance": rebalance, "metrics": metrics}
        if futures is not None:
            record["extra"] = {"market": "futures", "leverage": float(leverage)}
        run_id = save_run("walkforward", record, {"windows": windows, "equity": result.equity}, clock=clock)
        result = replace(result, run_id=run_id)
    return result


def _futures_inputs(data: Any, frames: dict[str, pl.DataFrame], snapshot: Any, lake: Any,
                    leverage: float) -> dict[str, Any]:
    """The futures engine's inputs besides the candles: leverage, funding, marks, tiers (read once)."""
    from quantdesk.backtest.data import LakeQuery
    from quantdesk.backtest.futures import lake_inputs
    from quantdesk.core.margin import tiers_for

    if len(frames) != 1:
        raise BacktestError(f"a futures walk-forward trades one contract, got {len(frames)}; run one per symbol")
    funding, mark = (lake_inputs(data, next(iter(frames.values())), snapshot.exchange, lake)
                     if isinstance(data, LakeQuery) else (None, None))
    return {"leverage": leverage, "funding": funding, "mark": mark, "tiers": tiers_for(next(iter(frames))),
            "timeframe": snapshot.timeframe}


def _stitched_metrics(equity: np.ndarray, initial_cash: float, tf_ms: int, windows: pl.DataFrame) -> dict[str, Any]:
    ann = annualization(tf_ms)
    r = bar_returns(equity, initial_cash)
    mdd = max_drawdown(equity, initial_cash)
    growth = cagr(float(equity[-1]), initial_cash, len(equity), ann)
    return {
        "total_return": float(equity[-1] / initial_cash - 1.0),
        "cagr": growth,
        "volatility": volatility(r, ann),
        "sharpe": sharpe(r, ann),
        "sortino": sortino(r, ann),
        "max_drawdown": mdd,
        "max_drawdown_duration_bars": drawdown_duration(equity, initial_cash),
        "calmar": growth / abs(mdd) if mdd < 0 else math.nan,
        "trades": int(windows["test_trades"].sum()),
        "fees_paid": float(windows["test_fees_paid"].sum()),
        "final_equity": float(equity[-1]),
        "n_bars": len(equity),
        "windows": len(windows),
    }
