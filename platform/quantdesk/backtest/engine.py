"""The backtest engine on vectorbt (DESIGN.md, contract 3: execution semantics).

A target decided at bar t's close is traded at bar t+1's open:
`vbt.Portfolio.from_orders(close=close, price=open, size=target shifted one bar,
size_type="targetpercent", fees=fee_bps/1e4, slippage=slippage_bps/1e4, init_cash,
min_size=rules.min_qty, size_granularity=rules.lot_step, direction="both"|"longonly")`.

An order is placed at bar t+1 only when the target of bar t differs from the target of bar
t-1 (the size is NaN otherwise), so a held target is not rebalanced every bar; pass
`rebalance=True` to re-target every bar. The first bar never trades (no decision before it)
and the last bar's target is never traded (no bar after it). Equity is marked at each
bar's close. Without `allow_short`, negative targets are clipped to 0. Several symbols share
one cash pool (vectorbt group with cash_sharing, sells before buys within a bar).
`MarketRules.min_notional` and `tick_size` are not applied here (vectorbt sizes in units);
the paper broker enforces them.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

from quantdesk.backtest.data import DataSnapshot, LakeQuery, resolve_data
from quantdesk.backtest.lookahead import LookaheadVerdict, check_lookahead, target_matrix
from quantdesk.backtest.metrics import Metrics, compute_metrics
from quantdesk.core.costs import CostModel, MarketRules
from quantdesk.core.errors import BacktestError, StrategyError
from quantdesk.core.timeframes import timeframe_ms
from quantdesk.strategies.base import Strategy
from quantdesk.strategies.loader import load_strategy, strategy_source_hash

__all__ = ["BacktestResult", "backtest", "order_sizes", "resolve_strategy", "simulate"]

TRADE_COLUMNS = ("symbol", "side", "qty", "entry_ts", "entry_price", "exit_ts", "exit_price",
                 "pnl", "fees", "return", "status")


@dataclass(frozen=True, slots=True, kw_only=True)
class BacktestResult:
    """Everything a backtest produced; `run_id` is set once the run is stored."""

    strategy: str
    strategy_ref: str
    params: dict[str, Any]
    code_hash: str
    metrics: Metrics
    equity: pl.DataFrame  # ts, equity, cash, drawdown
    positions: pl.DataFrame  # ts, then per symbol: target_<symbol>, position_<symbol>
    trades: pl.DataFrame  # TRADE_COLUMNS; status "closed" or "open"
    orders: pl.DataFrame  # every fill: symbol, ts, bar, side, qty, price, fees
    cost: CostModel
    rules: MarketRules
    initial_cash: float
    allow_short: bool
    rebalance: bool
    snapshot: DataSnapshot
    lookahead: LookaheadVerdict | None
    run_id: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def summary(self) -> dict[str, Any]:
        """Return run id, strategy, params and JSON-ready metrics."""
        return {"run_id": self.run_id, "strategy": self.strategy, "params": self.params,
                "metrics": self.metrics.to_json()}


def resolve_strategy(strategy: Strategy | type[Strategy] | str, params: dict[str, Any] | None = None) -> tuple[Strategy, str]:
    """Return a strategy instance and the reference that reloads it (name or `file.py:Class`)."""
    if isinstance(strategy, Strategy):
        if params:
            strategy = type(strategy)(**{**strategy.values, **params})
        cls = type(strategy)
        instance = strategy
    else:
        cls = load_strategy(strategy) if isinstance(strategy, str) else strategy
        if not (isinstance(cls, type) and issubclass(cls, Strategy)):
            raise StrategyError(f"{strategy!r} is not a Strategy, a Strategy subclass or a strategy name")
        instance = cls(**(params or {}))
    if isinstance(strategy, str) and ":" in strategy and strategy.split(":", 1)[0].endswith(".py"):
        # An absolute path, so the run reloads from any working directory.
        path, class_name = strategy.split(":", 1)
        ref = f"{Path(path).expanduser().resolve()}:{class_name}"
    elif isinstance(strategy, str):
        ref = strategy
    elif cls.__module__.startswith("quantdesk.strategies."):
        ref = cls.name
    else:
        import inspect

        try:
            ref = f"{inspect.getfile(cls)}:{cls.__name__}"
        except (TypeError, OSError):
            ref = cls.__name__
    return instance, ref


def order_sizes(targets: np.ndarray, *, rebalance: bool = False) -> np.ndarray:
    """Return vectorbt sizes: the target of bar t at bar t+1, NaN where no order is placed."""
    size = np.full(targets.shape, np.nan)
    size[1:] = targets[:-1]
    if not rebalance and len(targets) > 2:
        unchanged = targets[1:-1] == targets[:-2]
        size[2:][unchanged] = np.nan
    return size


def simulate(
    frames: dict[str, pl.DataFrame],
    targets: np.ndarray,
    *,
    cost: CostModel,
    rules: MarketRules,
    initial_cash: float,
    allow_short: bool,
    timeframe: str,
    rebalance: bool = False,
) -> Any:
    """Run vectorbt's `Portfolio.from_orders` for targets (n_bars, n_symbols) and return the portfolio."""
    import pandas as pd
    import vectorbt as vbt

    symbols = list(frames)
    first = next(iter(frames.values()))
    index = pd.DatetimeIndex(first["ts"].to_numpy())
    close = pd.DataFrame({s: frames[s]["close"].to_numpy() for s in symbols}, index=index)
    open_ = pd.DataFrame({s: frames[s]["open"].to_numpy() for s in symbols}, index=index)
    size = pd.DataFrame(order_sizes(targets, rebalance=rebalance), index=index, columns=symbols)
    kwargs: dict[str, Any] = {"min_size": rules.min_order_qty}
    if rules.lot_step > 0:
        kwargs["size_granularity"] = rules.lot_step
    if len(symbols) > 1:
        kwargs.update(group_by=True, cash_sharing=True, call_seq="auto")
    return vbt.Portfolio.from_orders(
        close=close,
        size=size,
        size_type="targetpercent",
        price=open_,
        fees=cost.fee_rate,
        slippage=cost.slippage_rate,
        init_cash=float(initial_cash),
        direction="both" if allow_short else "longonly",
        freq=pd.Timedelta(milliseconds=timeframe_ms(timeframe)),
        **kwargs,
    )


def _utc(values: Any) -> pl.Series:
    return pl.Series(values).cast(pl.Datetime("ms")).dt.replace_time_zone("UTC")


def _extract(pf: Any, frames: dict[str, pl.DataFrame], targets: np.ndarray) -> dict[str, Any]:
    symbols = list(frames)
    ts = next(iter(frames.values()))["ts"]
    value = np.asarray(pf.value().to_numpy(), dtype=np.float64).reshape(len(ts), -1)[:, 0]
    cash = np.asarray(pf.cash().to_numpy(), dtype=np.float64).reshape(len(ts), -1)[:, 0]
    assets = np.asarray(pf.assets().to_numpy(), dtype=np.float64).reshape(len(ts), -1)
    peak = np.maximum.accumulate(value)
    equity = pl.DataFrame({"ts": ts, "equity": value, "cash": cash, "drawdown": value / peak - 1.0})
    positions = pl.DataFrame(
        {"ts": ts}
        | {f"target_{s}": targets[:, i] for i, s in enumerate(symbols)}
        | {f"position_{s}": assets[:, i] for i, s in enumerate(symbols)}
    )
    o = pf.orders.values
    orders = pl.DataFrame({
        "symbol": [symbols[c] for c in o["col"]],
        "ts": ts.gather(o["idx"].astype(np.int64)) if len(o) else ts.head(0),
        "bar": o["idx"].astype(np.int64),
        "side": ["buy" if s == 0 else "sell" for s in o["side"]],
        "qty": o["size"].astype(np.float64),
        "price": o["price"].astype(np.float64),
        "fees": o["fees"].astype(np.float64),
    }, schema_overrides={"symbol": pl.String, "side": pl.String})
    p = pf.positions.values
    status = ["open" if s == 0 else "closed" for s in p["status"]]
    trades = pl.DataFrame({
        "symbol": [symbols[c] for c in p["col"]],
        "side": ["long" if d == 0 else "short" for d in p["direction"]],
        "qty": p["size"].astype(np.float64),
        "entry_ts": ts.gather(p["entry_idx"].astype(np.int64)) if len(p) else ts.head(0),
        "entry_price": p["entry_price"].astype(np.float64),
        "exit_ts": ts.gather(p["exit_idx"].astype(np.int64)) if len(p) else ts.head(0),
        "exit_price": p["exit_price"].astype(np.float64),
        "pnl": p["pnl"].astype(np.float64),
        "fees": (p["entry_fees"] + p["exit_fees"]).astype(np.float64),
        "return": p["return"].astype(np.float64),
        "status": status,
    }, schema_overrides={"symbol": pl.String, "side": pl.String, "status": pl.String})
    # An open trade has no exit yet: vectorbt marks it at the last close; we leave it empty.
    trades = trades.with_columns(
        pl.when(pl.col("status") == "open").then(None).otherwise(pl.col("exit_ts")).alias("exit_ts"),
        pl.when(pl.col("status") == "open").then(None).otherwise(pl.col("exit_price")).alias("exit_price"),
    ).sort("entry_ts", "symbol").select(TRADE_COLUMNS)
    return {"equity": equity, "positions": positions, "orders": orders, "trades": trades, "assets": assets}


def backtest(
    strategy: Strategy | type[Strategy] | str,
    data: pl.DataFrame | dict[str, pl.DataFrame] | LakeQuery,
    *,
    params: dict[str, Any] | None = None,
    cost: CostModel | None = None,
    initial_cash: float = 10_000.0,
    rules: MarketRules | None = None,
    allow_short: bool = False,
    timeframe: str | None = None,
    rebalance: bool = False,
    lookahead_samples: int | None = 8,
    store: bool = True,
    lake: Any = None,
) -> BacktestResult:
    """Backtest `strategy` on candles (a frame, `{symbol: frame}` or a `LakeQuery`).

    Run a sampled lookahead check (`lookahead_samples=0` skips it) and, with `store=True`,
    save the run under `QUANTDESK_HOME/runs` and return it with its `run_id`.
    Example: `backtest("sma_cross", candles, params={"fast": 10, "slow": 30}, cost=CostModel(fee_bps=10))`.
    """
    cost = cost or CostModel()
    rules = rules or MarketRules()
    if not (initial_cash > 0 and math.isfinite(initial_cash)):
        raise BacktestError(f"initial cash must be a positive number, got {initial_cash}")
    instance, ref = resolve_strategy(strategy, params)
    frames, snapshot = resolve_data(data, timeframe=timeframe, lake=lake)
    if snapshot.bars < 2:
        raise BacktestError(f"a backtest needs at least 2 bars, got {snapshot.bars}; widen the date range")
    targets = target_matrix(instance, frames)
    if not allow_short:
        targets = np.clip(targets, 0.0, 1.0)
    verdict = None
    if lookahead_samples != 0:
        verdict = check_lookahead(instance, frames, samples=lookahead_samples)
    extra: dict[str, Any] = {}
    if callable(getattr(instance, "model_record", None)):  # an ML strategy: pin its models, keep importances
        record = instance.model_record(frames)
        extra = {"ml": record["summary"], "ml_importance": record["importance"]}
    pf = simulate(frames, targets, cost=cost, rules=rules, initial_cash=initial_cash,
                  allow_short=allow_short, timeframe=snapshot.timeframe, rebalance=rebalance)
    parts = _extract(pf, frames, targets)
    orders, trades = parts["orders"], parts["trades"]
    closed = trades.filter(pl.col("status") == "closed")
    metrics = compute_metrics(
        equity=parts["equity"]["equity"].to_numpy(),
        initial_cash=initial_cash,
        timeframe_ms=timeframe_ms(snapshot.timeframe),
        position=parts["assets"],
        trade_pnl=closed["pnl"].to_numpy(),
        open_trades=len(trades) - len(closed),
        fees_paid=float(orders["fees"].sum()),
        traded_notional=float((orders["qty"] * orders["price"]).abs().sum()),
    )
    result = BacktestResult(
        strategy=instance.name,
        strategy_ref=ref,
        params=instance.values,
        code_hash=strategy_source_hash(type(instance)),
        metrics=metrics,
        equity=parts["equity"],
        positions=parts["positions"],
        trades=trades,
        orders=orders,
        cost=cost,
        rules=rules,
        initial_cash=float(initial_cash),
        allow_short=allow_short,
        rebalance=rebalance,
        snapshot=snapshot,
        lookahead=verdict,
        extra=extra,
    )
    if store:
        from quantdesk.backtest.store import save_backtest

        result = save_backtest(result, frames=frames)
    return result
