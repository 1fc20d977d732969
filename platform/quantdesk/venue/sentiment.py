"""Market sentiment the simulated venue serves for a perpetual: taker buy volume, open interest, long/short.

Binance publishes these beside the candles (USDⓈ-M "futures/data" statistics and the klines'
taker-buy columns); the venue has only candles, so it derives them from the candles by fixed,
documented rules (synthetic figures, deterministic, never real market data):

- taker buy volume of a bar: `volume * share`, share = `0.5 + 0.4 * (close - open) / (high - low)`
  (0.5 on a flat bar), rounded to 6 decimals: rising bars are bought more.
- open interest (base units) at bar `i`: 20 × the mean volume of the 48 bars closed before
  bar `i` opens; its value is that × the previous close (what Binance's `sumOpenInterestValue` is).
- long account share at bar `i`: `0.5 + 0.3 * tanh(10 * r)`, r the return of the 24 bars closed
  before bar `i`; the long/short ratio is `long / (1 - long)`.

Statistics at a bar use only bars closed before it opens, so a snapshot stamped `t` never holds
anything after `t` (the venue's clock rule). Served in Binance's shapes: klines fields 9-10,
`futures/data/openInterestHist`, `futures/data/globalLongShortAccountRatio` and
`futures/data/takerlongshortRatio`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from quantdesk.core.timeframes import timeframe_ms
from quantdesk.venue.market import CandleBook
from quantdesk.venue.orders import RejectedRequest
from quantdesk.venue.payloads import float_text

__all__ = ["STAT_PERIODS", "SentimentBook"]

# Binance's periods for the futures/data statistics
STAT_PERIODS = ("5m", "15m", "30m", "1h", "2h", "4h", "6h", "12h", "1d")
_OI_BARS, _OI_SCALE, _LS_BARS = 48, 20.0, 24


@dataclass(frozen=True, slots=True, kw_only=True)
class SentimentBook:
    """Per base bar: taker buy volume, open interest (amount, value) and the long account share."""

    ts: np.ndarray
    timeframe_ms: int
    taker_buy: np.ndarray
    oi_amount: np.ndarray
    oi_value: np.ndarray
    long_account: np.ndarray

    @classmethod
    def derive(cls, book: CandleBook) -> SentimentBook:
        """Derive the synthetic figures from `book` (see the module doc)."""
        span = book.high - book.low
        drift = np.divide(book.close - book.open, span, out=np.zeros_like(span), where=span > 0)
        taker_buy = np.round(book.volume * (0.5 + 0.4 * drift), 6)
        volume = np.concatenate([[np.nan], book.volume[:-1]])  # closed before bar i opens
        prev_close = np.concatenate([[np.nan], book.close[:-1]])
        csum = np.concatenate([[0.0], np.nancumsum(volume)])
        n = np.arange(len(volume))
        count = np.minimum(n, _OI_BARS)
        mean = np.divide(csum[n + 1] - csum[n + 1 - count], count, out=np.full(len(n), np.nan), where=count > 0)
        oi_amount = np.round(_OI_SCALE * mean, 3)
        back = np.maximum(n - 1 - _LS_BARS, 0)
        ret = np.where(n >= 2, prev_close / book.close[back] - 1.0, 0.0)
        long_account = np.round(0.5 + 0.3 * np.tanh(10.0 * ret), 4)
        return cls(ts=book.ts, timeframe_ms=book.timeframe_ms, taker_buy=taker_buy,
                   oi_amount=oi_amount,
                   oi_value=np.round(oi_amount * prev_close, 8), long_account=long_account)

    def taker_buy_between(self, start_ms: int, end_ms: int, now_ms: int) -> float:
        """Return the taker buy volume of bars in [start_ms, end_ms) closed by `now_ms` (the forming bar shows 0)."""
        lo = int(np.searchsorted(self.ts, start_ms, side="left"))
        closed_end = now_ms - self.timeframe_ms  # a bar opened after this has not closed
        hi = int(np.searchsorted(self.ts, min(end_ms - 1, closed_end), side="right"))
        return float(self.taker_buy[lo:max(hi, lo)].sum())  # one bar: its own figure, exactly

    def snapshots(self, params: Mapping[str, str], now_ms: int) -> np.ndarray:
        """Return the bar indices a statistics request selects (period grid, window, limit), oldest first."""
        period = params.get("period", "")
        if period not in STAT_PERIODS:
            raise RejectedRequest(-1130, "Data sent for parameter 'period' is not valid.")
        period_ms = timeframe_ms(period)
        limit = _int(params, "limit") or 30
        if not 1 <= limit <= 500:
            raise RejectedRequest(-1130, "Data sent for parameter 'limit' is not valid.")
        start, end = _int(params, "startTime"), _int(params, "endTime")
        upper = min(now_ms, end) if end is not None else now_ms
        mask = (self.ts % period_ms == 0) & (self.ts <= upper) & ~np.isnan(self.oi_amount)
        if start is not None:
            mask &= self.ts >= start
        idx = np.flatnonzero(mask)
        return idx[:limit] if start is not None else idx[-limit:]


def _int(params: Mapping[str, str], name: str) -> int | None:
    value = params.get(name)
    if value is None:
        return None
    if not value.lstrip("-").isdigit():
        raise RejectedRequest(-1130, f"Data sent for parameter '{name}' is not valid.")
    return int(value)


def open_interest_rows(book: SentimentBook, market_id: str, idx: np.ndarray) -> list[dict[str, Any]]:
    """Rows of `futures/data/openInterestHist` (Binance's shape: decimal strings, integer timestamp)."""
    return [{"symbol": market_id, "sumOpenInterest": f"{book.oi_amount[i]:.8f}",
             "sumOpenInterestValue": f"{book.oi_value[i]:.8f}", "timestamp": int(book.ts[i])} for i in idx]


def long_short_rows(book: SentimentBook, market_id: str, idx: np.ndarray) -> list[dict[str, Any]]:
    """Rows of `futures/data/globalLongShortAccountRatio`."""
    rows = []
    for i in idx:
        long = float(book.long_account[i])
        rows.append({"symbol": market_id, "longShortRatio": f"{long / (1.0 - long):.4f}",
                     "longAccount": f"{long:.4f}", "shortAccount": f"{1.0 - long:.4f}", "timestamp": int(book.ts[i])})
    return rows


def taker_rows(book: SentimentBook, volume: np.ndarray, idx: np.ndarray, period_ms: int,
               now_ms: int) -> list[dict[str, Any]]:
    """Rows of `futures/data/takerlongshortRatio` (buy and sell volume over each period)."""
    rows = []
    for i in idx:
        start = int(book.ts[i])
        buy = book.taker_buy_between(start, start + period_ms, now_ms)
        lo, hi = np.searchsorted(book.ts, [start, start + period_ms], side="left")
        closed = book.ts[lo:hi] + book.timeframe_ms <= now_ms
        sell = float(volume[lo:hi][closed].sum()) - buy
        rows.append({"buySellRatio": f"{buy / sell:.4f}" if sell > 0 else "0.0000", "buyVol": float_text(buy),
                     "sellVol": float_text(round(sell, 6)), "timestamp": start})
    return rows
