"""Market data of the simulated venue: market specs and candles replayed up to the clock.

Price model (documented because the matching engine and the tickers rely on it): the
"current price" at time t is the open of the base bar that contains t; between bars (a
gap) or after the data ends it is the last closed bar's close. The bar that contains t is
shown with high = low = close = open and zero volume, so nothing after t ever leaks.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from decimal import Decimal

import numpy as np

from quantdesk.core.errors import DataError

__all__ = ["Bar", "CandleBook", "MarketSpec"]


@dataclass(frozen=True, slots=True, kw_only=True)
class MarketSpec:
    """A spot market's identity and Binance-style filters (PRICE_FILTER, LOT_SIZE, NOTIONAL)."""

    symbol: str  # unified, "BTC/USDT"
    tick_size: Decimal
    step_size: Decimal
    min_qty: Decimal
    max_qty: Decimal = Decimal("9000000")
    min_notional: Decimal = Decimal("5")
    min_price: Decimal = Decimal("0")
    max_price: Decimal = Decimal("1000000")

    @property
    def base(self) -> str:
        return self.symbol.split("/")[0]

    @property
    def quote(self) -> str:
        return self.symbol.split("/")[1]

    @property
    def market_id(self) -> str:
        """Return the Binance id (``BTCUSDT``)."""
        return self.base + self.quote

    @classmethod
    def for_price(cls, symbol: str, price: float) -> MarketSpec:
        """Derive Binance-like filters from a typical price (BTC at 30000: tick 0.01, step 0.00001)."""
        if "/" not in symbol:
            raise DataError(
                f"symbol {symbol!r} is not in unified form: use BASE/QUOTE like BTC/USDT"
            )
        if not (price > 0 and math.isfinite(price)):
            raise DataError(
                f"cannot derive filters for {symbol}: typical price {price!r} is not positive"
            )
        magnitude = math.floor(math.log10(price))
        tick = Decimal(1).scaleb(min(magnitude - 6, -2) if magnitude >= 4 else magnitude - 5)
        step = Decimal(1).scaleb(-max(magnitude + 1, 0))
        return cls(symbol=symbol, tick_size=tick, step_size=step, min_qty=step)


@dataclass(frozen=True, slots=True, kw_only=True)
class Bar:
    """One base candle as seen at some time (the current bar is masked, see the module doc)."""

    ts_ms: int
    open: float
    high: float
    low: float
    close: float
    volume: float
    closed: bool


class CandleBook:
    """Candles of one symbol as numpy arrays, queried as of a given time."""

    def __init__(self, frame: object, timeframe_ms: int) -> None:
        """Take a candle-contract polars frame (ts Datetime ms UTC, OHLCV Float64)."""
        import polars as pl

        if not isinstance(frame, pl.DataFrame):
            raise DataError(f"candles must be a polars DataFrame, got {type(frame).__name__}")
        missing = {"ts", "open", "high", "low", "close", "volume"} - set(frame.columns)
        if missing:
            raise DataError(
                f"candle frame lacks columns {sorted(missing)}: pass the candle contract"
            )
        frame = frame.sort("ts").unique("ts", keep="first", maintain_order=True)
        self.timeframe_ms = timeframe_ms
        self.ts = frame["ts"].dt.epoch("ms").to_numpy().astype(np.int64)
        self.open, self.high, self.low, self.close, self.volume = (
            frame[c].cast(pl.Float64).to_numpy() for c in ("open", "high", "low", "close", "volume")
        )
        if len(self.ts) and np.any(self.ts % timeframe_ms):
            raise DataError(
                f"candle timestamps are off the {timeframe_ms} ms grid: pass one timeframe"
            )

    def __len__(self) -> int:
        return len(self.ts)

    def visible_end(self, now_ms: int) -> int:
        """Return the index one past the last bar that opened at or before `now_ms`."""
        return int(np.searchsorted(self.ts, now_ms, side="right"))

    def price(self, now_ms: int) -> float | None:
        """Return the current price at `now_ms` (see the module doc), or None before the data."""
        end = self.visible_end(now_ms)
        if end == 0:
            return None
        i = end - 1
        if now_ms < self.ts[i] + self.timeframe_ms:
            return float(self.open[i])
        return float(self.close[i])

    def current_volume(self, now_ms: int) -> float | None:
        """Return the volume of the latest bar opened at or before `now_ms` (None before the data)."""
        end = self.visible_end(now_ms)
        return float(self.volume[end - 1]) if end else None

    def bar(self, index: int) -> Bar:
        """Return bar `index` in full (closed)."""
        return Bar(
            ts_ms=int(self.ts[index]),
            open=float(self.open[index]),
            high=float(self.high[index]),
            low=float(self.low[index]),
            close=float(self.close[index]),
            volume=float(self.volume[index]),
            closed=True,
        )

    def closed_bars_between(self, after_ms: int, now_ms: int) -> range:
        """Return indices of bars that open at or after `after_ms` and have closed by `now_ms`."""
        lo = int(np.searchsorted(self.ts, after_ms, side="left"))
        hi = int(np.searchsorted(self.ts, now_ms - self.timeframe_ms, side="right"))
        return range(lo, max(lo, hi))

    def klines(
        self,
        now_ms: int,
        interval_ms: int,
        start_ms: int | None,
        end_ms: int | None,
        limit: int,
    ) -> list[tuple[int, float, float, float, float, float]]:
        """Return up to `limit` (ts, o, h, l, c, v) buckets of `interval_ms`, like Binance klines.

        With `start_ms`, the first `limit` buckets opening at or after it; otherwise the last
        `limit` buckets opening at or before `end_ms` (or now). Only data up to `now_ms`.
        """
        if interval_ms % self.timeframe_ms:
            raise DataError(
                f"interval {interval_ms} ms is not a multiple of the stored {self.timeframe_ms} ms"
            )
        visible = self.visible_end(now_ms)
        upper_ts = min(now_ms, end_ms) if end_ms is not None else now_ms
        # each non-empty bucket holds 1..ratio rows, so `limit` buckets lie within limit*ratio rows
        window = limit * (interval_ms // self.timeframe_ms)
        if start_ms is not None:
            first_bucket = -(-start_ms // interval_ms) * interval_ms
            lo = int(np.searchsorted(self.ts, first_bucket, side="left"))
            ts = self.ts[lo : min(visible, lo + window)]
            starts = np.unique(ts - ts % interval_ms)[:limit]
        else:
            last_bucket = upper_ts - upper_ts % interval_ms
            last = min(
                visible, int(np.searchsorted(self.ts, last_bucket + interval_ms, side="left"))
            )
            lo = max(0, last - window)
            ts = self.ts[lo:last]
            starts = np.unique(ts - ts % interval_ms)[-limit:]
        starts = starts[starts <= upper_ts]
        buckets_all = self.ts[:visible]
        if len(starts) == 0:
            return []
        lo = int(np.searchsorted(buckets_all, starts[0], side="left"))
        hi = int(np.searchsorted(buckets_all, starts[-1] + interval_ms, side="left"))
        buckets = buckets_all[lo:hi] - buckets_all[lo:hi] % interval_ms
        o, h, lo_, c, v = (
            a[lo:hi].copy() for a in (self.open, self.high, self.low, self.close, self.volume)
        )
        # mask the still-open bar: only its open is known at `now_ms`
        if hi == visible and hi > 0 and now_ms < self.ts[hi - 1] + self.timeframe_ms:
            h[-1] = lo_[-1] = c[-1] = o[-1]
            v[-1] = 0.0
        group_starts = np.searchsorted(buckets, starts, side="left")
        group_ends = np.append(group_starts[1:], hi - lo) - 1
        highs = np.maximum.reduceat(h, group_starts)
        lows = np.minimum.reduceat(lo_, group_starts)
        vols = np.add.reduceat(v, group_starts)
        return [
            (int(s), float(o[a]), float(hh), float(ll), float(c[b]), float(vv))
            for s, a, b, hh, ll, vv in zip(
                starts, group_starts, group_ends, highs, lows, vols, strict=True
            )
        ]
