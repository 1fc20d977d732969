"""Gaps and coverage: what a series holds and where bars are missing (reported, never filled)."""

from __future__ import annotations

import polars as pl

__all__ = ["GAP_SCHEMA", "find_gaps", "summarise"]

GAP_SCHEMA = pl.Schema(
    {"start": pl.Datetime("ms", "UTC"), "end": pl.Datetime("ms", "UTC"), "missing_bars": pl.Int64()}
)


def find_gaps(ts: pl.Series, tf_ms: int) -> pl.DataFrame:
    """Return one row per gap in sorted `ts`: first missing bar, next present bar (exclusive), count."""
    frame = pl.DataFrame({"ts": ts}).lazy()
    return (
        frame.with_columns(prev=pl.col("ts").shift(1))
        .filter((pl.col("ts") - pl.col("prev")).dt.total_milliseconds() > tf_ms)
        .select(
            start=pl.col("prev") + pl.duration(milliseconds=tf_ms),
            end=pl.col("ts"),
            missing_bars=(pl.col("ts") - pl.col("prev")).dt.total_milliseconds() // tf_ms - 1,
        )
        .collect()
        .cast(dict(GAP_SCHEMA))  # type: ignore[arg-type]
    )


def summarise(ts: pl.Series, tf_ms: int) -> dict[str, object]:
    """Return first, last, rows, gaps and missing_bars of one series' sorted `ts`."""
    if ts.len() == 0:
        return {"first": None, "last": None, "rows": 0, "gaps": 0, "missing_bars": 0}
    gaps = find_gaps(ts, tf_ms)
    return {
        "first": ts[0],
        "last": ts[-1],
        "rows": ts.len(),
        "gaps": gaps.height,
        "missing_bars": int(gaps.get_column("missing_bars").sum()),
    }
