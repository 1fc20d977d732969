"""Schema checks and row validation for candles entering the lake.

`normalise` either returns a frame in the candle contract or raises `SchemaError` (nothing
is written). `validate` splits a normalised frame into good rows (sorted, unique `ts`) and
bad rows with a `reason`; every input row ends up in exactly one of them, except exact
duplicate rows, which are merged into one.

A bad row gets the first reason that applies, in the order of `QuarantineReason`.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any

import polars as pl

from quantdesk.core.errors import SchemaError

__all__ = ["CANDLE_SCHEMA", "PRICE_COLUMNS", "VALUE_COLUMNS", "QuarantineReason", "normalise", "validate"]

PRICE_COLUMNS = ("open", "high", "low", "close")
VALUE_COLUMNS = (*PRICE_COLUMNS, "volume")
CANDLE_SCHEMA = pl.Schema(
    {"ts": pl.Datetime("ms", "UTC"), **{name: pl.Float64() for name in VALUE_COLUMNS}}
)
_EXPECTED = "expected ts (Datetime ms UTC, or Int64 epoch ms) and open, high, low, close, volume (Float64)"
# Epoch-ms values outside this range are almost surely seconds or microseconds.
_MIN_MS, _MAX_MS = 100_000_000_000, 100_000_000_000_000


class QuarantineReason(StrEnum):
    """Why a row was kept out of the lake (checked in this order; the first match wins)."""

    MISSING_TS = "missing_ts"
    BAD_PRICE = "bad_price"  # null, NaN, infinite or non-positive open/high/low/close
    HIGH_BELOW_LOW = "high_below_low"
    HIGH_BELOW_OPEN_CLOSE = "high_below_open_close"
    LOW_ABOVE_OPEN_CLOSE = "low_above_open_close"
    BAD_VOLUME = "bad_volume"  # null, NaN, infinite or negative volume
    OFF_GRID = "off_grid"  # ts is not a multiple of the timeframe
    FUTURE = "future"  # ts is after the clock's now
    OPEN_CANDLE = "open_candle"  # the candle has not closed yet at the clock's now
    DUPLICATE_CONFLICT = "duplicate_conflict"  # same ts twice in the batch with different values


def _ts_expr(dtype: pl.DataType, frame: pl.DataFrame) -> pl.Expr:
    if isinstance(dtype, pl.Datetime):
        if dtype.time_zone is None:
            raise SchemaError(
                "column ts holds naive datetimes; the lake stores UTC: "
                "use pl.col('ts').dt.replace_time_zone('UTC') if they are UTC"
            )
        return pl.col("ts").dt.convert_time_zone("UTC").dt.cast_time_unit("ms")
    if dtype.is_integer():
        values = frame.get_column("ts").drop_nulls()
        if len(values):
            low, high = int(values.min()), int(values.max())  # type: ignore[arg-type]
            if low < _MIN_MS or high > _MAX_MS:
                raise SchemaError(
                    f"column ts holds integers from {low} to {high}, which are not epoch milliseconds; "
                    "convert seconds (x1000) or microseconds (//1000) first"
                )
        epoch = pl.from_epoch(pl.col("ts").cast(pl.Int64), time_unit="ms")
        return epoch.dt.cast_time_unit("ms").dt.replace_time_zone("UTC")
    raise SchemaError(f"column ts has type {dtype}; {_EXPECTED}")


def normalise(frame: Any) -> pl.DataFrame:
    """Return `frame` in the candle contract (extra columns dropped) or raise `SchemaError`."""
    if isinstance(frame, pl.LazyFrame):
        frame = frame.collect()
    if not isinstance(frame, pl.DataFrame):
        raise SchemaError(
            f"cannot write a {type(frame).__name__}; pass a polars DataFrame (pl.from_pandas(df) converts pandas)"
        )
    missing = [name for name in CANDLE_SCHEMA if name not in frame.columns]
    if missing:
        raise SchemaError(f"missing columns {missing} (got {frame.columns}); {_EXPECTED}")
    wrong = [
        f"{name}: {frame.schema[name]}"
        for name in VALUE_COLUMNS
        if not (frame.schema[name].is_numeric() or frame.schema[name] == pl.Null)
    ]
    if wrong:
        raise SchemaError(f"non-numeric columns {wrong}; {_EXPECTED}")
    exprs = [_ts_expr(frame.schema["ts"], frame).alias("ts")]
    exprs += [pl.col(name).cast(pl.Float64) for name in VALUE_COLUMNS]
    return frame.select(exprs)


def _reason_expr(tf_ms: int, offset_ms: int, now_ms: int) -> pl.Expr:
    ts = pl.col("ts").cast(pl.Int64)
    o, h, low, c, v = (pl.col(name) for name in VALUE_COLUMNS)
    bad_price = pl.any_horizontal(
        (p.is_null() | ~p.is_finite() | (p <= 0)) for p in (o, h, low, c)
    )
    rules: list[tuple[pl.Expr, QuarantineReason]] = [
        (ts.is_null(), QuarantineReason.MISSING_TS),
        (bad_price, QuarantineReason.BAD_PRICE),
        (h < low, QuarantineReason.HIGH_BELOW_LOW),
        (h < pl.max_horizontal(o, c), QuarantineReason.HIGH_BELOW_OPEN_CLOSE),
        (low > pl.min_horizontal(o, c), QuarantineReason.LOW_ABOVE_OPEN_CLOSE),
        (v.is_null() | ~v.is_finite() | (v < 0), QuarantineReason.BAD_VOLUME),
        ((ts - offset_ms) % tf_ms != 0, QuarantineReason.OFF_GRID),
        (ts > now_ms, QuarantineReason.FUTURE),
        (ts + tf_ms > now_ms, QuarantineReason.OPEN_CANDLE),
    ]
    condition, reason = rules[0]
    chain = pl.when(condition).then(pl.lit(reason.value))
    for condition, reason in rules[1:]:
        chain = chain.when(condition).then(pl.lit(reason.value))
    return chain.otherwise(pl.lit(None, pl.String)).alias("reason")


def _strictly_increasing(ts: pl.Series) -> bool:
    if ts.len() < 2:
        return True
    steps = ts.to_physical().diff().drop_nulls()
    return bool(steps.min() > 0)  # type: ignore[operator]


def validate(
    frame: pl.DataFrame, *, tf_ms: int, offset_ms: int, now_ms: int
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Split a normalised frame into (good rows sorted by ts, bad rows with a `reason` column)."""
    checked = frame.with_columns(_reason_expr(tf_ms, offset_ms, now_ms))
    bad = checked.filter(pl.col("reason").is_not_null())
    good = checked.filter(pl.col("reason").is_null()).drop("reason")
    if not _strictly_increasing(good.get_column("ts")):
        # Slow path only for unsorted or repeated input: merge exact repeats, refuse conflicts.
        good = good.unique(maintain_order=True).sort("ts", maintain_order=True)
        conflict = good.get_column("ts").is_duplicated()
        if conflict.any():
            bad = pl.concat(
                [bad, good.filter(conflict).with_columns(reason=pl.lit(QuarantineReason.DUPLICATE_CONFLICT.value))]
            )
            good = good.filter(~conflict)
    return good, bad.unique(maintain_order=True)
