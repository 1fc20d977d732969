"""What a backtest runs on: candles given directly or a lake query, and its snapshot (with checksum)."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import numpy as np
import polars as pl

from quantdesk.core.errors import BacktestError, DataError
from quantdesk.core.timeframes import check_window, timeframe_ms

__all__ = [
    "CANDLE_COLUMNS",
    "DataSnapshot",
    "LakeQuery",
    "align_frames",
    "candles_checksum",
    "infer_timeframe",
    "resolve_data",
]

CANDLE_COLUMNS = ("open", "high", "low", "close", "volume")
_TF_NAMES = {60_000: "1m", 300_000: "5m", 900_000: "15m", 1_800_000: "30m", 3_600_000: "1h",
             14_400_000: "4h", 86_400_000: "1d"}


@dataclass(frozen=True, slots=True, kw_only=True)
class LakeQuery:
    """Candles to read from the lake: one or more symbols of one exchange and timeframe, [start, end)."""

    symbols: tuple[str, ...]
    timeframe: str
    start: str | None = None
    end: str | None = None
    exchange: str | None = None

    @classmethod
    def of(cls, symbol: str | list[str] | tuple[str, ...], timeframe: str, **kwargs: Any) -> LakeQuery:
        """Build a query for one symbol or several (`LakeQuery.of("BTC/USDT", "1h", start="2024-01-01")`)."""
        symbols = (symbol,) if isinstance(symbol, str) else tuple(symbol)
        return cls(symbols=symbols, timeframe=timeframe, **kwargs)


@dataclass(frozen=True, slots=True, kw_only=True)
class DataSnapshot:
    """Exactly which candles a run used: where they came from and a checksum of their values."""

    exchange: str | None
    symbols: tuple[str, ...]
    timeframe: str
    start: str | None
    end: str | None
    first_ts: str | None
    last_ts: str | None
    bars: int
    checksum: str
    source: str = "frame"  # "lake" when read through a LakeQuery (reproducible from the lake)
    query: dict[str, Any] = field(default_factory=dict)


def candles_checksum(frames: dict[str, pl.DataFrame]) -> str:
    """Return a sha256 over symbols, timestamps and OHLCV values (order-sensitive)."""
    digest = hashlib.sha256()
    for symbol in sorted(frames):
        frame = frames[symbol]
        digest.update(symbol.encode())
        digest.update(np.ascontiguousarray(frame["ts"].dt.epoch("ms").to_numpy(), dtype=np.int64).tobytes())
        for column in CANDLE_COLUMNS:
            values = frame[column].cast(pl.Float64).fill_null(np.nan).to_numpy()
            digest.update(np.ascontiguousarray(values, dtype=np.float64).tobytes())
    return digest.hexdigest()


def infer_timeframe(frame: pl.DataFrame) -> str:
    """Return the timeframe of candles from the most common spacing of `ts`."""
    if len(frame) < 2:
        raise BacktestError("cannot infer the timeframe from fewer than 2 candles; pass timeframe=")
    diffs = frame["ts"].dt.epoch("ms").diff().drop_nulls()
    step = int(diffs.mode().min())  # type: ignore[arg-type]
    if step in _TF_NAMES:
        return _TF_NAMES[step]
    for unit, ms in (("d", 86_400_000), ("h", 3_600_000), ("m", 60_000), ("s", 1_000)):
        if step % ms == 0:
            return f"{step // ms}{unit}"
    raise BacktestError(f"candle spacing of {step} ms is not a timeframe; pass timeframe=")


def _check_frame(symbol: str, frame: pl.DataFrame) -> pl.DataFrame:
    missing = [c for c in ("ts", *CANDLE_COLUMNS) if c not in frame.columns]
    if missing:
        raise DataError(f"candles for {symbol} lack columns {missing}; need ts, open, high, low, close, volume")
    if frame.is_empty():
        raise DataError(f"no candles for {symbol} in the requested range; widen --start/--end or ingest data")
    ts = pl.col("ts")
    dtype = frame.schema["ts"]
    if not isinstance(dtype, pl.Datetime):
        raise DataError(f"candles for {symbol} have ts of type {dtype}; need a UTC Datetime (open time)")
    # The candle contract: ms resolution, UTC; naive times are taken to be UTC.
    ts = ts.dt.replace_time_zone("UTC") if dtype.time_zone is None else ts.dt.convert_time_zone("UTC")
    out = frame.select(
        ts.cast(pl.Datetime("ms", "UTC")), *[pl.col(c).cast(pl.Float64) for c in CANDLE_COLUMNS]
    ).sort("ts")
    if out["ts"].is_duplicated().any():
        raise DataError(f"candles for {symbol} have duplicate timestamps; deduplicate them first")
    return out


def align_frames(frames: dict[str, pl.DataFrame]) -> dict[str, pl.DataFrame]:
    """Keep only the timestamps every symbol has, so targets of one bar refer to one time."""
    if len(frames) == 1:
        return frames
    common = None
    for frame in frames.values():
        ts = frame.select("ts")
        common = ts if common is None else common.join(ts, on="ts", how="inner")
    assert common is not None
    aligned = {s: common.join(f, on="ts", how="left").sort("ts") for s, f in frames.items()}
    if len(common) == 0:
        raise DataError(f"symbols {sorted(frames)} share no timestamps; check their ranges")
    return aligned


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def resolve_data(
    data: pl.DataFrame | dict[str, pl.DataFrame] | LakeQuery,
    *,
    timeframe: str | None = None,
    lake: Any = None,
) -> tuple[dict[str, pl.DataFrame], DataSnapshot]:
    """Return aligned `{symbol: candles}` and the snapshot describing them.

    A single frame is keyed by its `symbol` column's value if it has one, else `"asset"`.
    A `LakeQuery` reads through `quantdesk.lake.Lake` (or the given `lake`).
    """
    query: dict[str, Any] = {}
    exchange: str | None = None
    source = "frame"
    start = end = None
    if isinstance(data, LakeQuery):
        check_window(data.start, data.end)  # a reversed window is a typo, not missing data
        if lake is None:
            # Imported here: the backtest layer reads the lake only when asked to.
            from quantdesk.lake import Lake

            lake = Lake()
        exchange = data.exchange
        if exchange is None:
            # Pin the exchange the lake chose, so a reproduction reads the same candles.
            held = lake.exchanges(data.symbols[0])
            exchange = held[0] if len(held) == 1 else None
        from quantdesk.lake import closed_candles

        # A backtest trades closed bars only: never a resampled bucket still forming.
        frames = {
            s: closed_candles(lake.candles(s, data.timeframe, start=data.start, end=data.end, exchange=exchange))
            for s in data.symbols
        }
        timeframe, source, start, end = data.timeframe, "lake", data.start, data.end
        query = {"symbols": list(data.symbols), "timeframe": data.timeframe, "start": data.start,
                 "end": data.end, "exchange": exchange}
    elif isinstance(data, pl.DataFrame):
        name = "asset"
        if "symbol" in data.columns and data["symbol"].n_unique() == 1:
            name = str(data["symbol"][0])
        frames = {name: data}
    elif isinstance(data, dict) and data:
        frames = dict(data)
    else:
        raise BacktestError("give candles as a polars DataFrame, {symbol: DataFrame} or a LakeQuery")
    frames = align_frames({s: _check_frame(s, f) for s, f in frames.items()})
    first = next(iter(frames.values()))
    timeframe = timeframe or infer_timeframe(first)
    timeframe_ms(timeframe)
    snapshot = DataSnapshot(
        exchange=exchange,
        symbols=tuple(frames),
        timeframe=timeframe,
        start=start,
        end=end,
        first_ts=_iso(first["ts"][0]),
        last_ts=_iso(first["ts"][-1]),
        bars=len(first),
        checksum=candles_checksum(frames),
        source=source,
        query=query,
    )
    return frames, snapshot
