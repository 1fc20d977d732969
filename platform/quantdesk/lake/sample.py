"""A deterministic synthetic 1m dataset, so everything works offline. It is SYNTHETIC data.

Volatility clusters (log-volatility is a sum of smoothed noise at three time scales, like a
GARCH process would give), follows an intraday cycle and is shared in part across symbols
through a market factor. Each minute's OHLC comes from an intrabar random path, volume
rises with the move, and a few outages leave gaps. Pure numpy, seeded: the same arguments
always give the same candles.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

import numpy as np
import polars as pl

from quantdesk.core.errors import LakeError
from quantdesk.lake.store import Lake, WriteReport

__all__ = ["SAMPLE_EXCHANGE", "SAMPLE_START", "SAMPLE_SYMBOLS", "generate_candles", "write_sample"]

SAMPLE_EXCHANGE = "synthetic"
SAMPLE_START = datetime(2024, 1, 1, tzinfo=UTC)
# symbol -> (first open price, yearly volatility, beta to the market factor)
SAMPLE_SYMBOLS: dict[str, tuple[float, float, float]] = {
    "BTC/USDT": (42_000.0, 0.55, 1.0),
    "ETH/USDT": (2_300.0, 0.65, 1.1),
    "SOL/USDT": (100.0, 0.95, 1.3),
    "BNB/USDT": (310.0, 0.60, 0.9),
    "XRP/USDT": (0.62, 0.75, 1.0),
    "ADA/USDT": (0.59, 0.80, 1.1),
    "DOGE/USDT": (0.09, 0.95, 1.2),
    "AVAX/USDT": (38.0, 0.95, 1.3),
}
_MINUTES_PER_YEAR = 525_600
_SUBSTEPS = 6  # intrabar path points per minute, for realistic high/low


def _smooth(noise: np.ndarray, half_life: float) -> np.ndarray:
    """Return an exponentially weighted moving sum of `noise`, scaled to unit variance (via FFT)."""
    n = noise.size
    decay = 0.5 ** (1.0 / half_life)
    kernel = decay ** np.arange(n)
    size = 1 << int(np.ceil(np.log2(2 * n)))
    out = np.fft.irfft(np.fft.rfft(noise, size) * np.fft.rfft(kernel, size), size)[:n]
    return out * np.sqrt(1.0 - decay**2)


def _market_factor(seed: int, minutes: int) -> np.ndarray:
    rng = np.random.default_rng([seed, 0])
    return rng.standard_normal(minutes)


def generate_candles(
    symbol: str, *, minutes: int, seed: int = 7, index: int = 0, start: datetime = SAMPLE_START
) -> pl.DataFrame:
    """Return `minutes` synthetic 1m candles for `symbol` (minus a few outage gaps)."""
    price0, vol_year, beta = SAMPLE_SYMBOLS.get(symbol, (50.0, 0.8, 1.0))
    rng = np.random.default_rng([seed, index + 1])
    sigma_minute = vol_year / np.sqrt(_MINUTES_PER_YEAR)
    # Volatility clusters over hours, days and weeks; mean of exp(log_vol) is about 1.
    log_vol = 0.35 * _smooth(rng.standard_normal(minutes), 60) + 0.35 * _smooth(
        rng.standard_normal(minutes), 1440
    ) + 0.25 * _smooth(rng.standard_normal(minutes), 10080)
    minute_of_day = (np.arange(minutes) + start.hour * 60 + start.minute) % 1440
    intraday = 1.0 + 0.35 * np.cos(2 * np.pi * (minute_of_day - 14 * 60) / 1440)  # US session busiest
    vol = sigma_minute * intraday * np.exp(log_vol - 0.5 * np.var(log_vol))
    market = _market_factor(seed, minutes)
    weight = min(0.8, 0.6 * beta)
    shocks = weight * market + np.sqrt(1 - weight**2) * rng.standard_normal(minutes)
    shocks = np.where(rng.random(minutes) < 0.002, shocks * 4.0, shocks)  # fat tails: rare jumps
    # Intrabar path: substeps whose sum is the minute's return.
    steps = rng.standard_normal((minutes, _SUBSTEPS))
    steps += (shocks - steps.sum(axis=1)) [:, None] / _SUBSTEPS
    steps *= (vol / np.sqrt(_SUBSTEPS))[:, None]
    path = np.cumsum(steps, axis=1)
    log_open = np.log(price0) + np.concatenate([[0.0], np.cumsum(path[:, -1])[:-1]])
    high = log_open + np.maximum(path.max(axis=1), 0.0)
    low = log_open + np.minimum(path.min(axis=1), 0.0)
    close = log_open + path[:, -1]
    move = np.abs(path[:, -1]) / np.maximum(vol, 1e-12)
    volume = np.exp(rng.normal(0.0, 0.6, minutes)) * intraday * (1.0 + move) * (1e6 / price0)
    start_ms = int(start.timestamp() * 1000)
    ts = start_ms + np.arange(minutes, dtype=np.int64) * 60_000
    keep = np.ones(minutes, dtype=bool)
    for _ in range(max(1, minutes // 40_000)):  # an outage of 3-120 minutes every ~4 weeks
        at, length = int(rng.integers(0, minutes)), int(rng.integers(3, 121))
        keep[at : at + length] = False
    frame = pl.DataFrame(
        {
            "ts": ts[keep],
            "open": np.exp(log_open[keep]),
            "high": np.exp(high[keep]),
            "low": np.exp(low[keep]),
            "close": np.exp(close[keep]),
            "volume": np.round(volume[keep], 6),
        }
    )
    ts_utc = pl.from_epoch("ts", time_unit="ms").dt.cast_time_unit("ms").dt.replace_time_zone("UTC")
    return frame.with_columns(ts_utc)


def write_sample(
    lake: Lake,
    *,
    symbols: int = 3,
    days: int = 90,
    seed: int = 7,
    on_symbol: Callable[[str, WriteReport], None] | None = None,
) -> dict[str, WriteReport]:
    """Write the synthetic sample (`exchange="synthetic"`, 1m) into `lake`; idempotent."""
    names = list(SAMPLE_SYMBOLS)
    if not 1 <= symbols <= len(names):
        raise LakeError(f"--symbols {symbols} is out of range: the sample has 1 to {len(names)} symbols")
    if days < 1:
        raise LakeError(f"--days {days} is out of range: ask for at least 1 day")
    reports: dict[str, WriteReport] = {}
    for index, symbol in enumerate(names[:symbols]):
        frame = generate_candles(symbol, minutes=days * 1440, seed=seed, index=index)
        reports[symbol] = lake.write(frame, exchange=SAMPLE_EXCHANGE, symbol=symbol, timeframe="1m")
        if on_symbol is not None:
            on_symbol(symbol, reports[symbol])
    return reports
