"""A backtest of one window whose targets may see history before it (as a running deployment did)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import polars as pl

from quantdesk.backtest.engine import resolve_strategy, simulate
from quantdesk.backtest.lookahead import target_matrix
from quantdesk.live.spec import RunSpec

__all__ = ["WindowRun", "orders_frame", "targets_frame", "window_backtest"]


@dataclass(frozen=True, slots=True, kw_only=True)
class WindowRun:
    """Targets, orders and equity of a backtest over a window."""

    frames: dict[str, pl.DataFrame]  # the window's candles (history before it dropped)
    targets: pl.DataFrame  # ts, symbol, target
    orders: pl.DataFrame  # ts, symbol, side, qty, price, fee
    equity: pl.DataFrame  # ts, equity


def targets_frame(frames: dict[str, pl.DataFrame], targets: np.ndarray) -> pl.DataFrame:
    """Return (n_bars, n_symbols) targets as a long frame `ts, symbol, target`."""
    ts = next(iter(frames.values()))["ts"]
    return pl.concat([
        pl.DataFrame({"ts": ts, "symbol": [s] * len(ts), "target": targets[:, i]},
                     schema_overrides={"symbol": pl.String, "target": pl.Float64})
        for i, s in enumerate(frames)
    ])


def orders_frame(orders: pl.DataFrame) -> pl.DataFrame:
    """Return a backtest's `orders` (symbol, ts, side, qty, price, fees) in the comparison's columns."""
    return orders.select("ts", "symbol", "side", "qty", "price", pl.col("fees").alias("fee"))


def window_backtest(view: RunSpec, frames: dict[str, pl.DataFrame], *, trade_from: int = 0) -> WindowRun:
    """Backtest `view` on `frames`, computing targets on all of them but trading from bar `trade_from`."""
    instance, _ = resolve_strategy(view.strategy, dict(view.params))
    targets = target_matrix(instance, frames)
    if not view.allow_short:
        targets = np.clip(targets, 0.0, 1.0)
    window = {s: f.slice(trade_from) for s, f in frames.items()}
    targets = targets[trade_from:]
    rules = next(iter(view.rules.values())) if view.rules else None
    from quantdesk.core.costs import MarketRules

    pf = simulate(window, targets, cost=view.cost, rules=rules or MarketRules(), initial_cash=view.capital,
                  allow_short=view.allow_short, timeframe=view.timeframe)
    symbols = list(window)
    ts = next(iter(window.values()))["ts"]
    o = pf.orders.values
    orders = pl.DataFrame({
        "ts": ts.gather(o["idx"].astype(np.int64)) if len(o) else ts.head(0),
        "symbol": [symbols[c] for c in o["col"]],
        "side": ["buy" if s == 0 else "sell" for s in o["side"]],
        "qty": o["size"].astype(np.float64),
        "price": o["price"].astype(np.float64),
        "fee": o["fees"].astype(np.float64),
    }, schema_overrides={"symbol": pl.String, "side": pl.String}).sort("ts", "symbol")
    value = np.asarray(pf.value().to_numpy(), dtype=np.float64).reshape(len(ts), -1)[:, 0]
    return WindowRun(frames=window, targets=targets_frame(window, targets), orders=orders,
                     equity=pl.DataFrame({"ts": ts, "equity": value}))
