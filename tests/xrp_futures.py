"""freqtrade's real 2021 XRP/USDT:USDT futures files (../shared/data) as lake-shaped frames, for tests."""

from __future__ import annotations

from pathlib import Path

import polars as pl

FUTURES = "freqtrade-testdata/futures"


def futures_frame(shared: Path, name: str) -> pl.DataFrame:
    """One futures file with `date` renamed `ts` (ms, UTC), the lake's candle shape."""
    frame = pl.read_ipc(shared / FUTURES / name).rename({"date": "ts"})
    return frame.with_columns(pl.col("ts").dt.cast_time_unit("ms"))


def xrp_1h(shared: Path) -> dict[str, pl.DataFrame]:
    """The 1h trade candles, the 1h mark candles (volume 0, as Binance sends) and the funding rates."""
    return {
        "candles": futures_frame(shared, "XRP_USDT_USDT-1h-futures.feather"),
        "mark": futures_frame(shared, "XRP_USDT_USDT-1h-mark.feather").with_columns(pl.col("volume").fill_null(0.0)),
        "funding": futures_frame(shared, "XRP_USDT_USDT-8h-funding_rate.feather").select(
            "ts", pl.col("open").alias("rate")),
    }
