"""`futures_backtest`: a strategy on a USDT-M perpetual with leverage, funding and liquidation.

The strategy contract is the spot one (a target in [-1, 1] per bar, decided at the close,
traded at the next open); on a perpetual the target is the fraction of equity posted as
isolated margin, so the position's notional is `target * equity * leverage`. Shorts are
allowed by default (a perpetual is symmetric). The bar loop and its order of events are in
`quantdesk.backtest.futures_kernel`; margin tiers and the liquidation price in `quantdesk.core.margin`.

Inputs besides the trade candles, read from the lake for a `LakeQuery`:
* funding rates (`Lake.funding`): each settlement belongs to the bar whose
  [open, open + timeframe) holds its timestamp; bars longer than the funding interval settle
  the sum of their rates at the bar's open mark;
* mark-price candles (series `<symbol>@mark`, same timeframe): funding and liquidation use
  the mark price. Bars without a mark candle fall back to the trade candle, and the result
  says how many did (`extra["mark_fallback_bars"]`), because a backtest on trade prices
  liquidates on wicks the mark price never had.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import polars as pl

from quantdesk.backtest.data import LakeQuery, resolve_data
from quantdesk.backtest.engine import TRADE_COLUMNS, BacktestResult, resolve_strategy
from quantdesk.backtest.futures_kernel import futures_kernel
from quantdesk.backtest.lookahead import check_lookahead, target_matrix
from quantdesk.backtest.metrics import compute_metrics
from quantdesk.core.costs import CostModel, MarketRules
from quantdesk.core.errors import BacktestError
from quantdesk.core.margin import MarginTiers, tiers_for
from quantdesk.core.timeframes import timeframe_ms
from quantdesk.strategies.base import Strategy
from quantdesk.strategies.loader import strategy_source_hash

__all__ = ["MAX_LEVERAGE", "align_funding", "align_mark", "futures_backtest", "lake_inputs"]

MAX_LEVERAGE = 125.0  # Binance's highest (BTC, first tier); the tiers cap it further per notional


def align_funding(ts: pl.Series, funding: pl.DataFrame | None, timeframe: str) -> np.ndarray:
    """Return per-bar funding rates (NaN where no settlement falls in the bar)."""
    out = np.full(len(ts), np.nan)
    if funding is None or funding.height == 0 or len(ts) == 0:
        return out
    bars = ts.dt.epoch("ms").to_numpy()
    stamps = funding["ts"].dt.epoch("ms").to_numpy()
    idx = np.searchsorted(bars, stamps, side="right") - 1
    inside = (idx >= 0) & (stamps < bars[np.clip(idx, 0, None)] + timeframe_ms(timeframe))
    for i, rate in zip(idx[inside], funding["rate"].to_numpy()[inside], strict=True):
        out[i] = rate if math.isnan(out[i]) else out[i] + rate
    return out


def align_mark(frame: pl.DataFrame, mark: pl.DataFrame | None) -> tuple[np.ndarray, np.ndarray, np.ndarray, int]:
    """Return mark open, high, low per trade bar and how many bars fell back to trade prices."""
    if mark is None or mark.height == 0:
        return frame["open"].to_numpy(), frame["high"].to_numpy(), frame["low"].to_numpy(), frame.height
    joined = frame.select("ts", "open", "high", "low").join(
        mark.select("ts", pl.col("open").alias("m_open"), pl.col("high").alias("m_high"),
                    pl.col("low").alias("m_low")), on="ts", how="left")
    missing = int(joined["m_open"].is_null().sum())
    filled = joined.select(pl.col("m_open").fill_null(pl.col("open")), pl.col("m_high").fill_null(pl.col("high")),
                           pl.col("m_low").fill_null(pl.col("low")))
    return (filled["m_open"].to_numpy(), filled["m_high"].to_numpy(), filled["m_low"].to_numpy(), missing)


def lake_inputs(data: LakeQuery, frame: pl.DataFrame, exchange: str | None, lake: Any) -> tuple[pl.DataFrame, pl.DataFrame | None]:
    """Read the funding rates and mark candles that go with `frame` (a perpetual's trade candles)."""
    from quantdesk.lake import Lake, mark_symbol

    lake = lake or Lake()
    symbol = data.symbols[0]
    exchange = exchange or lake.exchanges(symbol)[0]
    start, end = frame["ts"][0], frame["ts"][-1]
    end_ms = int(end.timestamp() * 1000) + timeframe_ms(data.timeframe)
    funding = lake.funding.read(symbol, exchange=exchange, start=start, end=end_ms)
    mark = None
    name, step = mark_symbol(symbol), timeframe_ms(data.timeframe)
    if name in lake.symbols(exchange) and any(step % timeframe_ms(tf) == 0 for tf in lake.timeframes(name, exchange)):
        mark = lake.candles(name, data.timeframe, start=start, end=end_ms, exchange=exchange)
    return funding, mark


def _trades(symbol: str, ts: pl.Series, orders: dict[str, np.ndarray], funding: np.ndarray) -> pl.DataFrame:
    """Round trips: from leaving flat to returning flat (a flip ends one and starts the next)."""
    rows: list[dict[str, Any]] = []
    q = 0.0
    cur: dict[str, Any] | None = None
    for bar, dq, price, fee, realised, kind in zip(orders["bar"], orders["qty"], orders["price"], orders["fee"],
                                                    orders["realised"], orders["kind"], strict=True):
        before, after = q, q + dq
        if abs(after) < 1e-12:
            after = 0.0
        if cur is not None:
            cur["pnl"] += realised
            cur["fees"] += fee
            closing = min(abs(dq), abs(before)) if (dq > 0) != (before > 0) else 0.0
            cur["exit_qty"] += closing
            cur["exit_value"] += closing * price
            if after == 0.0 or (after > 0) != (before > 0):
                cur.update(exit_bar=int(bar), status="liquidated" if kind == 1 else "closed")
                rows.append(cur)
                cur = None
        if cur is None and after != 0.0:
            opened = abs(after)
            cur = {"side": "long" if after > 0 else "short", "qty": opened, "entry_bar": int(bar),
                   "entry_value": opened * price, "pnl": 0.0,
                   "fees": fee if before == 0.0 else 0.0, "exit_qty": 0.0, "exit_value": 0.0,
                   "status": "open", "exit_bar": None}
        elif cur is not None and abs(after) > abs(before):
            cur["entry_value"] += (abs(after) - abs(before)) * price
            cur["qty"] = max(cur["qty"], abs(after))
        q = after
    if cur is not None:
        rows.append(cur)
    out = []
    for r in rows:
        last = r["exit_bar"] if r["exit_bar"] is not None else len(ts) - 1
        paid = float(funding[r["entry_bar"]:last + 1].sum())
        pnl = r["pnl"] - r["fees"] + paid
        entry_price = r["entry_value"] / r["qty"] if r["qty"] else math.nan
        out.append({
            "symbol": symbol, "side": r["side"], "qty": r["qty"], "entry_ts": ts[r["entry_bar"]],
            "entry_price": entry_price,
            "exit_ts": ts[r["exit_bar"]] if r["exit_bar"] is not None else None,
            "exit_price": r["exit_value"] / r["exit_qty"] if r["exit_qty"] else None,
            "pnl": pnl, "fees": r["fees"], "return": pnl / r["entry_value"] if r["entry_value"] else 0.0,
            "status": r["status"], "funding": paid,
        })
    schema = {"symbol": pl.String, "side": pl.String, "qty": pl.Float64, "entry_ts": ts.dtype,
              "entry_price": pl.Float64, "exit_ts": ts.dtype, "exit_price": pl.Float64, "pnl": pl.Float64,
              "fees": pl.Float64, "return": pl.Float64, "status": pl.String, "funding": pl.Float64}
    return pl.DataFrame(out, schema=schema).select(*TRADE_COLUMNS, "funding")


def _check_tier_cap(symbol: str, leverage: float, tiers: MarginTiers, o_qty: np.ndarray, o_price: np.ndarray,
                    o_kind: np.ndarray) -> None:
    """Refuse a run whose leverage is above the exchange tier's cap for a position it opens.

    The same rule as the live gate's (`MarginTiers.max_leverage`, Binance's initial margin of
    twice the maintenance rate): the venue would refuse such an order, so a backtest that opens
    it (and is liquidated on the next bar) describes nothing that could trade.
    """
    if len(o_qty) == 0:
        return
    position = np.cumsum(o_qty)  # after each order (liquidations included: they close the position)
    regular = o_kind == 0
    notional = np.abs(position) * o_price
    grows = regular & (np.abs(position) > np.abs(position - o_qty) - 1e-12)
    if not grows.any():
        return
    largest = float(notional[grows].max())
    cap = tiers.max_leverage(largest)
    if leverage > cap + 1e-9:
        raise BacktestError(
            f"leverage {leverage:g}x is above the exchange's {cap:.4g}x cap for a {largest:,.0f} notional position "
            f"on {symbol} (its margin tier); lower --leverage to {math.floor(cap + 1e-9)} or the size (initial cash)"
        )


def futures_backtest(
    strategy: Strategy | type[Strategy] | str,
    data: pl.DataFrame | dict[str, pl.DataFrame] | LakeQuery,
    *,
    leverage: float = 1.0,
    params: dict[str, Any] | None = None,
    cost: CostModel | None = None,
    initial_cash: float = 10_000.0,
    rules: MarketRules | None = None,
    allow_short: bool = True,
    funding: pl.DataFrame | None = None,
    mark: pl.DataFrame | None = None,
    tiers: MarginTiers | None = None,
    timeframe: str | None = None,
    rebalance: bool = False,
    lookahead_samples: int | None = 8,
    store: bool = True,
    lake: Any = None,
) -> BacktestResult:
    """Backtest `strategy` on one perpetual contract; see the module doc for the model.

    `funding` (`ts, rate`) and `mark` (candles) override what the lake holds.
    Example: `futures_backtest("sma_cross", LakeQuery.of("XRP/USDT:USDT", "5m", exchange="binanceusdm"), leverage=3)`.
    """
    if not (isinstance(leverage, int | float) and 1.0 <= leverage <= MAX_LEVERAGE):
        raise BacktestError(f"leverage must be between 1 and {MAX_LEVERAGE:g}, got {leverage}; pass e.g. --leverage 3")
    cost = cost or CostModel()
    rules = rules or MarketRules()
    if not (initial_cash > 0 and math.isfinite(initial_cash)):
        raise BacktestError(f"initial cash must be a positive number, got {initial_cash}")
    instance, ref = resolve_strategy(strategy, params)
    frames, snapshot = resolve_data(data, timeframe=timeframe, lake=lake)
    if len(frames) != 1:
        raise BacktestError(f"a futures backtest trades one contract, got {len(frames)} ({', '.join(frames)}); run one per symbol")
    if snapshot.bars < 2:
        raise BacktestError(f"a backtest needs at least 2 bars, got {snapshot.bars}; widen the date range")
    symbol, frame = next(iter(frames.items()))
    if isinstance(data, LakeQuery):
        lake_funding, lake_mark = lake_inputs(data, frame, snapshot.exchange, lake)
        funding = lake_funding if funding is None else funding
        mark = lake_mark if mark is None else mark
    tiers = tiers or tiers_for(symbol)
    targets = target_matrix(instance, frames)
    targets = np.clip(targets, -1.0 if allow_short else 0.0, 1.0)
    verdict = check_lookahead(instance, frames, samples=lookahead_samples) if lookahead_samples != 0 else None
    rates = align_funding(frame["ts"], funding, snapshot.timeframe)
    m_open, m_high, m_low, fallback = align_mark(frame, mark)
    floors, mmrs, amounts = tiers.arrays()
    (equity, wallet, qty, margin, liq, funding_cash, o_bar, o_qty, o_price, o_fee, o_realised,
     o_kind) = futures_kernel(
        frame["open"].to_numpy().astype(np.float64), frame["close"].to_numpy().astype(np.float64),
        m_open.astype(np.float64), m_high.astype(np.float64), m_low.astype(np.float64),
        np.ascontiguousarray(targets[:, 0], dtype=np.float64), rates, float(leverage), cost.fee_rate,
        cost.slippage_rate, float(initial_cash), float(rules.lot_step), float(rules.min_qty), floors, mmrs,
        amounts, rebalance)
    _check_tier_cap(symbol, float(leverage), tiers, o_qty, o_price, o_kind)
    ts = frame["ts"]
    orders_np = {"bar": o_bar, "qty": o_qty, "price": o_price, "fee": o_fee, "realised": o_realised, "kind": o_kind}
    orders = pl.DataFrame({
        "symbol": [symbol] * len(o_bar), "ts": ts.gather(o_bar) if len(o_bar) else ts.head(0), "bar": o_bar,
        "side": ["buy" if d > 0 else "sell" for d in o_qty], "qty": np.abs(o_qty), "price": o_price, "fees": o_fee,
        "kind": ["liquidation" if k == 1 else "order" for k in o_kind],
    }, schema_overrides={"symbol": pl.String, "side": pl.String, "kind": pl.String})
    trades = _trades(symbol, ts, orders_np, funding_cash)
    peak = np.maximum.accumulate(equity)
    equity_frame = pl.DataFrame({"ts": ts, "equity": equity, "cash": wallet,
                                 "drawdown": np.where(peak > 0, equity / np.where(peak > 0, peak, 1.0) - 1.0, -1.0),
                                 "margin": margin, "liquidation_price": liq, "funding": funding_cash})
    positions = pl.DataFrame({"ts": ts, f"target_{symbol}": targets[:, 0], f"position_{symbol}": qty})
    closed = trades.filter(pl.col("status") != "open")
    regular = o_kind == 0
    metrics = compute_metrics(
        equity=equity, initial_cash=initial_cash, timeframe_ms=timeframe_ms(snapshot.timeframe),
        position=qty.reshape(-1, 1), trade_pnl=closed["pnl"].to_numpy(), open_trades=trades.height - closed.height,
        fees_paid=float(o_fee[regular].sum()), traded_notional=float(np.abs(o_qty * o_price).sum()))
    liquidations = [{"ts": ts[int(b)].isoformat(), "price": float(p), "qty": float(-q), "margin_lost": float(f - r)}
                    for b, p, q, f, r, k in zip(o_bar, o_price, o_qty, o_fee, o_realised, o_kind, strict=True) if k == 1]
    extra = {
        "market": "futures", "margin_mode": "isolated", "leverage": float(leverage),
        "funding_paid": float(-funding_cash.sum()), "funding_settlements": int((~np.isnan(rates)).sum()),
        "liquidations": liquidations, "mark_fallback_bars": fallback,
        "tiers": {"floors": list(tiers.floors), "rates": list(tiers.rates)},
        # per-bar inputs besides the candles: stored with the run so it can be reproduced
        "futures_inputs": pl.DataFrame({"ts": ts, "funding_rate": rates, "mark_open": m_open,
                                        "mark_high": m_high, "mark_low": m_low}),
    }
    result = BacktestResult(
        strategy=instance.name, strategy_ref=ref, params=instance.values,
        code_hash=strategy_source_hash(type(instance)), metrics=metrics, equity=equity_frame,
        positions=positions, trades=trades, orders=orders, cost=cost, rules=rules,
        initial_cash=float(initial_cash), allow_short=allow_short, rebalance=rebalance, snapshot=snapshot,
        lookahead=verdict, extra=extra,
    )
    if store:
        from quantdesk.backtest.store import save_backtest

        result = save_backtest(result, frames=frames)
    return result
