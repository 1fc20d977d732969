"""The numbers behind the desk's charts: equity per deployment, fills on candles, exposure, denials over time.

No UI library here: each function returns plain columns (polars frames or lists) that
dashboards/ draws. A deployment's equity is what its runner reports as PnL, followed over
time: capital plus the cash flows of its fills plus its positions marked at each bar's close
from the lake (the runner's own `equity - capital`), at a timeframe coarse enough to keep the
line under `max_points`.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

import polars as pl

from quantdesk.core.timeframes import timeframe_ms

__all__ = ["deployment_drift", "deployment_equity", "desk_equity", "denials_over_time", "fills_on_candles", "pnl_today"]

_EQUITY_SCHEMA = {"ts": pl.Datetime("ms", "UTC"), "equity": pl.Float64}


def _coarse_timeframe(base: str, span: timedelta, max_points: int) -> str:
    from quantdesk.desk.pages import DISPLAY_TIMEFRAMES

    for tf in DISPLAY_TIMEFRAMES:
        if timeframe_ms(tf) >= timeframe_ms(base) and span.total_seconds() * 1000 / timeframe_ms(tf) <= max_points:
            return tf
    return DISPLAY_TIMEFRAMES[-1]


def deployment_equity(ledger: Any, lake: Any, deployment: Any, *, now: datetime | None = None,
                      max_points: int = 400) -> pl.DataFrame:
    """Return `deployment`'s equity over its life: `ts`, `equity` (empty when it never ran or traded)."""
    fills = ledger.fills(deployment=deployment.name)
    starts = [t for t in (deployment.first_bar_ts, min((f.ts for f in fills), default=None)) if t is not None]
    began = min(starts, default=None)
    if began is None:
        return pl.DataFrame(schema=_EQUITY_SCHEMA)
    ended = max([t for t in (deployment.last_bar_ts, max((f.ts for f in fills), default=None)) if t is not None],
                default=began)
    if now is not None:
        ended = min(max(ended, began), now)
    timeframe = _coarse_timeframe(deployment.timeframe or "1m", ended - began, max_points)
    capital = float(deployment.capital or 0)
    closes = {s: _closes(lake, deployment, s, timeframe, began, ended) for s in deployment.symbols or ()}
    grid = sorted({t for frame in closes.values() for t in frame.get_column("ts").to_list()})
    if not grid:  # no candles: mark at the fills' own prices
        return _marked_at_fills(capital, fills, began)
    equity = [capital] * len(grid)
    for symbol, frame in closes.items():
        mine = sorted((f for f in fills if f.symbol == symbol), key=lambda f: f.ts)
        price_at = dict(zip(frame.get_column("ts").to_list(), frame.get_column("close").to_list(), strict=True))
        qty = cash = 0.0
        last_price, k = None, 0
        for i, ts in enumerate(grid):
            close_at = ts + timedelta(milliseconds=timeframe_ms(timeframe))
            while k < len(mine) and mine[k].ts < close_at:  # a fill counts from the first close after it
                sign = 1.0 if str(mine[k].side).lower().endswith("buy") else -1.0
                qty += sign * float(mine[k].qty)
                cash -= sign * float(mine[k].qty * mine[k].price) + float(mine[k].fee)
                k += 1
            last_price = price_at.get(ts, last_price)
            equity[i] += cash + qty * (last_price or 0.0)
    return pl.DataFrame({"ts": grid, "equity": equity}, schema=_EQUITY_SCHEMA)


def _closes(lake: Any, deployment: Any, symbol: str, timeframe: str, start: datetime, end: datetime) -> pl.DataFrame:
    from quantdesk.core.errors import QuantdeskError

    floor = start - timedelta(milliseconds=start.timestamp() * 1000 % timeframe_ms(timeframe))
    try:
        frame = lake.candles(symbol, timeframe, floor, end + timedelta(milliseconds=timeframe_ms(timeframe)),
                             exchange=deployment.exchange)
    except QuantdeskError:
        return pl.DataFrame(schema={"ts": pl.Datetime("ms", "UTC"), "close": pl.Float64})
    return frame.select(pl.col("ts").dt.cast_time_unit("ms"), "close")


def _marked_at_fills(capital: float, fills: list[Any], began: datetime) -> pl.DataFrame:
    qty: dict[str, float] = defaultdict(float)
    price: dict[str, float] = {}
    cash, rows = 0.0, [(began, capital)]
    for f in sorted(fills, key=lambda f: f.ts):
        sign = 1.0 if str(f.side).lower().endswith("buy") else -1.0
        qty[f.symbol] += sign * float(f.qty)
        price[f.symbol] = float(f.price)
        cash -= sign * float(f.qty * f.price) + float(f.fee)
        rows.append((f.ts, capital + cash + sum(q * price[s] for s, q in qty.items())))
    return pl.DataFrame({"ts": [r[0] for r in rows], "equity": [r[1] for r in rows]}, schema=_EQUITY_SCHEMA)


def desk_equity(ledger: Any, lake: Any, *, now: datetime | None = None) -> dict[str, pl.DataFrame]:
    """Return each paper or live deployment's equity line (only those with one), by name."""
    from quantdesk.promotion import list_deployments

    lines = {}
    for d in list_deployments(ledger):
        if d.is_tradable or d.first_bar_ts is not None:
            frame = deployment_equity(ledger, lake, d, now=now)
            if frame.height:
                lines[d.name] = frame
    return lines


def pnl_today(lines: dict[str, pl.DataFrame], now: datetime) -> float | None:
    """Return the desk's PnL since 00:00 UTC today: the sum of each equity line's change since then."""
    midnight = now.replace(hour=0, minute=0, second=0, microsecond=0)
    total, seen = 0.0, False
    for frame in lines.values():
        today = frame.filter(pl.col("ts") >= midnight)
        if today.is_empty():
            continue
        before = frame.filter(pl.col("ts") < midnight)
        start = before.get_column("equity")[-1] if before.height else frame.get_column("equity")[0]
        total += today.get_column("equity")[-1] - start
        seen = True
    return total if seen else None


def fills_on_candles(ledger: Any, lake: Any, symbol: str, *, max_points: int = 600,
                     limit: int = 2000) -> dict[str, Any]:
    """Return the candles of `symbol` around its fills (from the lake) and the fills as points to mark on them."""
    fills = [f for f in ledger.fills(symbol=symbol, limit=limit)]
    exchanges = lake.exchanges(symbol)
    out: dict[str, Any] = {"symbol": symbol, "exchange": None, "timeframe": None,
                           "candles": pl.DataFrame(), "fills": fills}
    if not exchanges:
        return out
    exchange = exchanges[0]
    coverage = lake.coverage().filter((pl.col("exchange") == exchange) & (pl.col("symbol") == symbol))
    if coverage.is_empty():
        return out
    first, last = coverage.get_column("first").min(), coverage.get_column("last").max()
    if fills:  # the window around the fills, at least a day
        first = max(first, min(f.ts for f in fills) - timedelta(hours=12))
        last = max(min(last, max(f.ts for f in fills) + timedelta(hours=12)), first + timedelta(days=1))
    else:
        first = max(first, last - timedelta(days=2))
    base = coverage.sort("timeframe", descending=False).get_column("timeframe")[0]
    timeframe = _coarse_timeframe(base, last - first, max_points)
    frame = lake.candles(symbol, timeframe, first, last + timedelta(milliseconds=timeframe_ms(timeframe)),
                         exchange=exchange)
    out.update(exchange=exchange, timeframe=timeframe,
               candles=frame.select(pl.col("ts").dt.cast_time_unit("ms"), "open", "high", "low", "close"))
    return out


def denials_over_time(events: list[Any], *, bucket: str = "1d") -> pl.DataFrame:
    """Return denials counted per time bucket and code: `ts`, `code`, `count` (oldest first)."""
    denied = [(e.ts, e.code) for e in events if not e.approved]
    if not denied:
        return pl.DataFrame(schema={"ts": pl.Datetime("ms", "UTC"), "code": pl.String, "count": pl.UInt32})
    frame = pl.DataFrame({"ts": [t for t, _ in denied], "code": [c for _, c in denied]},
                         schema={"ts": pl.Datetime("ms", "UTC"), "code": pl.String})
    return (frame.group_by(pl.col("ts").dt.truncate(bucket), "code").len("count").sort("ts", "code"))


def deployment_drift(ledger: Any, lake: Any) -> list[dict[str, Any]]:
    """Return, per paper or live deployment, its equity beside its backtest's and the drift in bps (or why not)."""
    from quantdesk.core.errors import QuantdeskError
    from quantdesk.parity import drift_equity
    from quantdesk.promotion import list_deployments

    out = []
    for d in list_deployments(ledger):
        if not d.is_tradable:
            continue
        try:
            report, curves = drift_equity(ledger, d, lake=lake)
        except QuantdeskError as e:
            out.append({"deployment": d.name, "stage": d.stage.value, "curves": None,
                        "reason": str(e).splitlines()[0][:200]})
            continue
        out.append({"deployment": d.name, "stage": d.stage.value, "curves": curves, "drift_bps": report.drift_bps,
                    "tracking_error_bps": report.equity_tracking_error_bps, "matched": report.matched_trades,
                    "actual_pnl": report.actual_pnl, "backtest_pnl": report.backtest_pnl,
                    "currency": quote_of(d.symbols)})
    return out


def quote_of(symbols: Any) -> str | None:
    """Return the quote currency of a deployment's first symbol."""
    from quantdesk.core.display import quote_currency

    return quote_currency(symbols[0]) if symbols else None


def as_float(value: Decimal | float | int | None) -> float | None:
    """Return a ledger amount as a float for a chart (None stays None)."""
    return None if value is None else float(value)
