"""Drift: a paper/live deployment's real fills (from the ledger) against a backtest of the same window.

The summary figure, `DriftReport.drift_bps`, is the notional-weighted mean absolute
slippage of the real fills against the backtest's fill price for the same order, in basis
points: `sum(|side * (fill - backtest) / backtest| * notional) / sum(notional) * 1e4` over
matched trades. The live-promotion gate compares it with a threshold. Orders the backtest
made and the deployment did not (or the other way round) are counted in `missed_trades`
and `extra_trades`, and `equity_tracking_error_bps` gives the root-mean-square gap between
the two equity curves, relative to the backtest's equity, at each bar close.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import numpy as np
import polars as pl

from quantdesk.core.errors import DataError
from quantdesk.core.timeframes import check_window, timeframe_ms
from quantdesk.lake import Lake
from quantdesk.ledger import Ledger
from quantdesk.live.spec import RunSpec
from quantdesk.parity._common import as_run_spec, floor_time, load_window, window_bars
from quantdesk.parity._window import window_backtest
from quantdesk.promotion import Deployment

__all__ = ["DeniedOrder", "DriftReport", "DriftTrade", "drift_equity", "drift_report"]


@dataclass(frozen=True, slots=True, kw_only=True)
class DriftTrade:
    """One real order (its fills summed) beside the backtest's order for the same bar and symbol.

    `slippage_bps` is signed against the trader: positive means the real fill was worse
    than the backtest's (bought higher or sold lower). Backtest fields are None when the
    backtest made no such order; real fields are None for an order only the backtest made.
    """

    symbol: str
    side: str
    signal_ts: datetime  # the bar whose close decided the trade
    fill_ts: datetime | None
    client_order_id: str | None
    qty: float | None
    fill_price: float | None
    fee: float | None
    backtest_qty: float | None
    backtest_price: float | None
    backtest_fee: float | None
    slippage_bps: float | None


@dataclass(frozen=True, slots=True, kw_only=True)
class DeniedOrder:
    """An order the risk gate refused (a ledger risk event)."""

    ts: datetime
    symbol: str | None
    code: str
    detail: str


@dataclass(frozen=True, slots=True, kw_only=True)
class DriftReport:
    """Real fills vs the backtest over one window; `drift_bps` is the figure the live gate uses."""

    deployment: str
    stage: str
    start: datetime
    end: datetime
    bars: int
    days: float  # days from the runner's first bar (else first order) in the window to its end
    trades: tuple[DriftTrade, ...]
    denied: tuple[DeniedOrder, ...]
    matched_trades: int
    missed_trades: int  # backtest orders without a real order at that bar
    extra_trades: int  # real orders without a backtest order at that bar
    drift_bps: float | None  # notional-weighted mean |slippage| of matched trades (None: no match)
    mean_slippage_bps: float | None  # signed, notional-weighted
    equity_tracking_error_bps: float | None
    actual_fees: float
    backtest_fees: float
    actual_pnl: float
    backtest_pnl: float
    extra: dict[str, Any] = field(default_factory=dict)

    def within(self, threshold_bps: float) -> bool:
        """Return whether the drift is at most `threshold_bps` (False when nothing was matched)."""
        return self.drift_bps is not None and self.drift_bps <= threshold_bps


def real_orders(ledger: Any, view: RunSpec) -> pl.DataFrame:
    """Return the deployment's filled orders, fills summed: cid, symbol, side, qty, price, fee, fill_ts, created_at."""
    orders = {o.client_order_id: o for o in ledger.orders(deployment=view.name)}
    rows: dict[str, dict[str, Any]] = {}
    for f in ledger.fills():
        if f.client_order_id not in orders:
            continue
        row = rows.setdefault(f.client_order_id, {
            "cid": f.client_order_id, "symbol": f.symbol, "side": f.side.value, "qty": 0.0, "notional": 0.0,
            "fee": 0.0, "fill_ts": f.ts, "created_at": orders[f.client_order_id].created_at})
        row["qty"] += float(f.qty)
        row["notional"] += float(f.qty * f.price)
        row["fee"] += float(f.fee)
        row["fill_ts"] = min(row["fill_ts"], f.ts)
    schema: dict[str, Any] = {"cid": pl.String, "symbol": pl.String, "side": pl.String, "qty": pl.Float64, "notional": pl.Float64,
              "fee": pl.Float64, "fill_ts": pl.Datetime("us", "UTC"), "created_at": pl.Datetime("us", "UTC")}
    frame = pl.DataFrame(list(rows.values()), schema=schema, orient="row")
    return frame.with_columns((pl.col("notional") / pl.col("qty")).alias("price")).sort("fill_ts")


def _window(view: RunSpec, real: pl.DataFrame, start: Any, end: Any, deployment: Any) -> tuple[datetime, datetime]:
    tf = timedelta(milliseconds=timeframe_ms(view.timeframe))
    first, last = check_window(start, end)
    began, progress = getattr(deployment, "first_bar_ts", None), getattr(deployment, "last_bar_ts", None)
    if first is None and isinstance(began, datetime):
        first = floor_time(began, view.timeframe)  # the runner's first bar: the book was flat there
    if first is None:
        if real.is_empty():
            raise DataError(f"deployment {view.name!r} has no filled orders yet; give --start and --end")
        # The first order was decided at the close of the bar before the one it filled in.
        first = floor_time(real["fill_ts"].min(), view.timeframe) - tf  # type: ignore[arg-type]
    if last is None:
        marks = [floor_time(real["fill_ts"].max(), view.timeframe) + tf] if not real.is_empty() else []  # type: ignore[arg-type]
        if isinstance(progress, datetime):
            marks.append(floor_time(progress, view.timeframe) + tf)
        if not marks:
            raise DataError(f"deployment {view.name!r} has no activity to end the window at; give --end")
        last = max(marks)
    if last <= first:
        raise DataError(f"the window [{first}, {last}) is empty; give an --end after --start")
    return first, last


def _weighted(values: np.ndarray, weights: np.ndarray) -> float | None:
    return float(np.sum(values * weights) / np.sum(weights)) if len(values) and np.sum(weights) > 0 else None


def _actual_equity(view: RunSpec, frames: dict[str, pl.DataFrame], real: pl.DataFrame) -> np.ndarray:
    """Mark the real fills to each bar's close: capital + cash flows + positions at the close."""
    ts = next(iter(frames.values()))["ts"].dt.epoch("ms").to_numpy()
    close_ms = ts + timeframe_ms(view.timeframe)
    equity = np.full(len(ts), view.capital, dtype=np.float64)
    for symbol, frame in frames.items():
        mine = real.filter(pl.col("symbol") == symbol)
        if mine.is_empty():
            continue
        sign = np.where(mine["side"].to_numpy() == "buy", 1.0, -1.0)
        fill_ms = mine["fill_ts"].dt.epoch("ms").to_numpy()
        # A fill counts from the first bar close at or after it.
        at = np.searchsorted(close_ms, fill_ms, side="left")
        qty = np.zeros(len(ts) + 1)
        cash = np.zeros(len(ts) + 1)
        np.add.at(qty, at, sign * mine["qty"].to_numpy())
        np.add.at(cash, at, -sign * mine["notional"].to_numpy() - mine["fee"].to_numpy())
        equity += np.cumsum(cash)[:-1] + np.cumsum(qty)[:-1] * frame["close"].to_numpy()
    return equity


def _drift_report(
    ledger: Ledger, deployment: Deployment | RunSpec, start: Any, end: Any, *, lake: Lake | None,
    candles: dict[str, pl.DataFrame] | None,
) -> tuple[DriftReport, pl.DataFrame]:
    view = as_run_spec(deployment)
    real_all = real_orders(ledger, view)
    first, last = _window(view, real_all, start, end, deployment)
    if candles is None:
        frames = load_window(lake, view, first, last, lookback_bars=window_bars(view))
    else:
        frames = {s: candles[s].filter(pl.col("ts") < last) for s in view.symbols}
    trade_from = int((next(iter(frames.values()))["ts"] < first).sum())
    run = window_backtest(view, frames, trade_from=trade_from)
    tf = timedelta(milliseconds=timeframe_ms(view.timeframe))
    real = real_all.filter((pl.col("fill_ts") >= first) & (pl.col("fill_ts") < last)).with_columns(
        pl.col("fill_ts").dt.truncate(view.timeframe).dt.cast_time_unit("ms").alias("ts"))
    backtest = run.orders.with_columns(pl.col("ts").dt.cast_time_unit("ms"))
    joined = real.join(backtest, on=["ts", "symbol", "side"], how="full", coalesce=True, suffix="_bt").sort("ts", "symbol")
    trades: list[DriftTrade] = []
    slips, weights = [], []
    for r in joined.iter_rows(named=True):
        slip = None
        if r["price"] is not None and r["price_bt"] is not None:
            sign = 1.0 if r["side"] == "buy" else -1.0
            slip = sign * (r["price"] - r["price_bt"]) / r["price_bt"] * 1e4
            slips.append(slip)
            weights.append(r["notional"])
        trades.append(DriftTrade(
            symbol=r["symbol"], side=r["side"], signal_ts=r["ts"] - tf, fill_ts=r["fill_ts"], client_order_id=r["cid"],
            qty=r["qty"], fill_price=r["price"], fee=r["fee"], backtest_qty=r["qty_bt"], backtest_price=r["price_bt"],
            backtest_fee=r["fee_bt"], slippage_bps=slip))
    denied = tuple(
        DeniedOrder(ts=e.ts, symbol=e.symbol, code=e.code, detail=e.detail)
        for e in ledger.risk_events(deployment=view.name, since=first) if not e.approved and e.ts < last)
    actual = _actual_equity(view, run.frames, real)
    expected = run.equity["equity"].to_numpy()
    tracking = float(np.sqrt(np.mean((actual / expected - 1.0) ** 2)) * 1e4) if len(expected) else None
    s, w = np.asarray(slips, dtype=np.float64), np.asarray(weights, dtype=np.float64)
    mean_abs = _weighted(np.abs(s), w)
    # Paper days count from the runner's first bar (else the first order) inside the window.
    began = getattr(deployment, "first_bar_ts", None)
    if not isinstance(began, datetime):
        began = real["created_at"].min() if not real.is_empty() else None
    since = max(first, began) if isinstance(began, datetime) else first
    curves = pl.DataFrame({"ts": run.equity["ts"], "actual": actual, "backtest": expected})
    return DriftReport(
        deployment=view.name, stage=str(view.stage), start=first, end=last, bars=len(expected),
        days=max(0.0, (last - since).total_seconds() / 86_400), trades=tuple(trades), denied=denied,
        matched_trades=len(slips), missed_trades=sum(t.qty is None for t in trades),
        extra_trades=sum(t.backtest_qty is None for t in trades),
        drift_bps=mean_abs, mean_slippage_bps=_weighted(s, w),
        equity_tracking_error_bps=tracking if tracking is None or math.isfinite(tracking) else None,
        actual_fees=float(real["fee"].sum()), backtest_fees=float(run.orders["fee"].sum()),
        actual_pnl=float(actual[-1] - view.capital) if len(actual) else 0.0,
        backtest_pnl=float(expected[-1] - view.capital) if len(expected) else 0.0,
        extra={"strategy": view.strategy, "symbols": list(view.symbols), "timeframe": view.timeframe,
               "capital": view.capital, "fee_bps": view.cost.fee_bps, "slippage_bps": view.cost.slippage_bps},
    ), curves


def drift_report(
    ledger: Ledger,
    deployment: Deployment | RunSpec,
    start: datetime | str | None = None,
    end: datetime | str | None = None,
    *,
    lake: Lake | None = None,
    candles: dict[str, pl.DataFrame] | None = None,
) -> DriftReport:
    """Compare `deployment`'s real fills in [start, end) with a backtest over the same candles.

    `deployment` is a resolved `quantdesk.promotion.Deployment` (look a name up with
    `quantdesk.promotion.get_deployment`) or a `quantdesk.live.RunSpec`; `ledger` holds its orders. The window defaults to the runner's first bar
    (else the bar that decided its first order) up to its last processed bar or fill; start
    it where the deployment's book was flat, since the backtest starts flat with its capital.
    Targets see `window_bars` of history before the window, as the runner's do. Candles
    come from `lake` (default: the installation's lake) unless given as `{symbol: frame}`.
    Raise DataError when there is nothing to compare.
    Example: `drift_report(ledger, get_deployment(ledger, "btc-sma")).drift_bps`.
    """
    return _drift_report(ledger, deployment, start, end, lake=lake, candles=candles)[0]


def drift_equity(
    ledger: Ledger,
    deployment: Deployment | RunSpec,
    start: datetime | str | None = None,
    end: datetime | str | None = None,
    *,
    lake: Lake | None = None,
) -> tuple[DriftReport, pl.DataFrame]:
    """Return `drift_report(...)` and both equity curves at each bar close: `ts`, `actual`, `backtest`.

    `actual` marks the deployment's real fills to each close; `backtest` is the backtest of the
    same window (the curves the equity tracking error compares). Arguments as `drift_report`.
    """
    return _drift_report(ledger, deployment, start, end, lake=lake, candles=None)
