"""Data behind the market, research and risk pages (no UI library here; dashboards/ draws it).

`market` downsamples on the server: it picks the finest timeframe whose bars in the window
fit `max_points` (a year of 1m becomes 4h bars, ~2,200 points) and lets the lake resample,
so a browser never receives half a million candles. Indicators are computed on what is shown.
"""

from __future__ import annotations

from collections import Counter
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

import polars as pl

from quantdesk.core import display
from quantdesk.core.timeframes import timeframe_ms

__all__ = ["DISPLAY_TIMEFRAMES", "market", "research", "risk"]

DISPLAY_TIMEFRAMES = ("1m", "5m", "15m", "1h", "4h", "1d", "1w")


def _display_timeframe(requested: str, span_ms: int, max_points: int) -> str:
    for tf in DISPLAY_TIMEFRAMES:
        if timeframe_ms(tf) >= timeframe_ms(requested) and span_ms / timeframe_ms(tf) <= max_points:
            return tf
    return DISPLAY_TIMEFRAMES[-1]


def market(lake: Any, *, exchange: str, symbol: str, timeframe: str = "1m", days: float = 365.0,
           max_points: int = 2500) -> dict[str, Any]:
    """Return the newest `days` of candles (downsampled to fit `max_points`) with SMA/EMA/Bollinger/RSI/MACD."""
    from quantdesk.desk.sentiment import sentiment_columns
    from quantdesk.indicators import bbands, ema, macd, mfi, rsi, sma

    first, newest = _span(lake, exchange, symbol)
    if newest is None or first is None:
        return {"frame": pl.DataFrame(), "timeframe": timeframe, "note": f"no {symbol} candles from {exchange}"}
    start = max(first, newest - timedelta(days=days))
    shown = _display_timeframe(timeframe, int((newest - start).total_seconds() * 1000), max_points)
    frame = lake.candles(symbol, shown, exchange=exchange, start=start)
    if "forming" in frame.columns:
        frame = frame.filter(~pl.col("forming"))
    close = frame.get_column("close")
    bands = bbands(close, 20, 2.0)
    m = macd(close)
    frame = frame.select("ts", "open", "high", "low", "close", "volume").with_columns(
        sma(close, 20).alias("sma20"), ema(close, 50).alias("ema50"), bands.upper.alias("bb_upper"),
        bands.lower.alias("bb_lower"), rsi(close, 14).alias("rsi14"), m.macd.alias("macd"),
        m.signal.alias("macd_signal"), m.histogram.alias("macd_hist"),
        mfi(frame["high"], frame["low"], close, frame["volume"], 14).alias("mfi14"))
    frame, missing = sentiment_columns(lake, exchange=exchange, symbol=symbol, bars=frame, timeframe=shown)
    note = (f"{frame.height:,} {shown} bars" + (f" (downsampled from {timeframe} on the server)"
                                               if shown != timeframe else ""))
    return {"frame": frame, "timeframe": shown, "note": note, "last_ts": newest, "sentiment_missing": missing}


def _span(lake: Any, exchange: str, symbol: str) -> tuple[datetime | None, datetime | None]:
    from quantdesk.core.errors import LakeError

    try:
        coverage = lake.coverage()
    except LakeError:
        return None, None
    rows = coverage.filter((pl.col("exchange") == exchange) & (pl.col("symbol") == symbol))
    if rows.is_empty():
        return None, None
    return rows.get_column("first").min(), rows.get_column("last").max()


def research(*, sweep_id: str | None = None) -> dict[str, Any]:
    """Return stored runs (newest first), and for one sweep (default: the newest) its heatmap and statistics."""
    from quantdesk.backtest import list_runs, load_run

    runs = list_runs()
    out: dict[str, Any] = {"runs": runs, "sweep": None, "walkforward": None}
    sweeps = runs.filter(pl.col("kind") == "sweep")
    if sweep_id is None and sweeps.height:
        sweep_id = sweeps.get_column("run_id")[0]
    if sweep_id is not None:
        run = load_run(sweep_id)
        results = run.table("results")
        params = list(run.record.get("params") or {})
        over = run.record.get("overfitting") or {}
        out["sweep"] = {"run_id": sweep_id, "strategy": run.record.get("strategy"), "metric": run.record["metric"],
                        "params": params, "results": results, "deflated_sharpe": over.get("deflated_sharpe"),
                        "pbo": over.get("pbo"), "combinations": run.record.get("combinations")}
    walks = runs.filter(pl.col("kind") == "walkforward")
    if walks.height:
        run = load_run(walks.get_column("run_id")[0])
        out["walkforward"] = {"run_id": run.run_id, "equity": run.table("equity"), "metrics": run.record["metrics"]}
    return out


def risk(ledger: Any, settings: Any = None) -> dict[str, Any]:
    """Return limits against current use, denials by code, daily loss against its limit, exposure by asset/venue."""
    from quantdesk.core.settings import get_settings
    from quantdesk.desk.pictures import denials_over_time
    from quantdesk.promotion import list_deployments
    from quantdesk.risk import RiskConfig

    settings = settings or get_settings()
    config = RiskConfig.from_settings(settings)
    positions = [p for p in ledger.positions() if p.qty]
    exposure: dict[tuple[str, str], dict[str, Any]] = {}
    for p in positions:
        asset = p.symbol.split("/")[0]
        row = exposure.setdefault((p.venue, asset), {"venue": p.venue, "asset": asset, "qty": Decimal(0),
                                                     "cost": Decimal(0)})
        row["qty"] += p.qty
        row["cost"] += p.cost
    limits = config.limits_for("*", "*")
    gross = sum((abs(r["cost"]) for r in exposure.values()), Decimal(0))
    use = [
        {"limit": "max_gross_exposure", "value": limits.max_gross_exposure, "use": gross},
        {"limit": "max_active_orders", "value": limits.max_active_orders,
         "use": sum(1 for o in ledger.orders(limit=1000) if not o.status.is_final)},
    ]
    for d in list_deployments(ledger):
        lim = config.limits_for(d.name, d.symbols[0] if d.symbols else "*")
        use.append({"limit": f"{d.name}: daily_loss_limit_pct", "value": lim.daily_loss_limit_pct,
                    "use": None if d.pnl is None or not d.capital else
                    max(Decimal(0), -Decimal(str(d.pnl)) / Decimal(str(d.capital)) * 100)})
    events = ledger.risk_events(limit=5000)
    denials = Counter(e.code for e in events if not e.approved)
    currency = _one_currency(p.symbol for p in positions)
    return {
        "states": [{"scope": s.scope, "state": str(s.state), "reason": s.reason} for s in ledger.trading_states()],
        "limits": [{"limit": u["limit"], "limit value": _limit_text(u["limit"], u["value"], currency),
                    "in use": _limit_text(u["limit"], None if u["use"] is None else round(Decimal(u["use"]), 4),
                                          currency),
                    "used": display.percent(_fraction(u["use"], u["value"]))} for u in use],
        "limit_use": [{"limit": u["limit"], "fraction": _fraction(u["use"], u["value"])} for u in use
                      if _fraction(u["use"], u["value"]) is not None],
        "denials": [{"code": code, "count": n} for code, n in denials.most_common()],
        "denials_over_time": denials_over_time(events),
        "exposure": [{"venue": r["venue"], "asset": r["asset"], "quantity": display.quantity(r["qty"], r["asset"]),
                      "cost": display.money(r["cost"], currency)} for _, r in sorted(exposure.items())],
        "exposure_bars": [{"label": f"{r['asset']} · {r['venue']}", "cost": float(r["cost"])}
                          for _, r in sorted(exposure.items())],
        "currency": currency,
        "configured": config.as_dict(),
    }


def _fraction(use: Any, limit: Any) -> float | None:
    """How much of a limit is used (1.0: all of it); None when either side is unknown or the limit is zero."""
    if use is None or limit is None or not float(limit):
        return None
    return float(use) / float(limit)


def _limit_text(name: str, value: Any, currency: str | None) -> str:
    if value is None:
        return display.MISSING
    if name.endswith("_pct"):
        return f"{display.number(value, 2)}%"
    if "exposure" in name or "notional" in name:
        return display.money(value, currency)
    return display.number(value, None)


def _one_currency(symbols: Any) -> str | None:
    found = {display.quote_currency(s) for s in symbols} - {None}
    return found.pop() if len(found) == 1 else None
