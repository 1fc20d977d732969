"""`import_file()`: parse a candle file and write it into the lake."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from quantdesk.ingest.importers import (
    ImportFormat,
    is_funding_file,
    read_candle_file,
    read_funding_file,
)

if TYPE_CHECKING:
    from quantdesk.lake import Lake

__all__ = ["DEFAULT_IMPORT_EXCHANGE", "ImportReport", "import_file"]

DEFAULT_IMPORT_EXCHANGE = "imported"


@dataclass(frozen=True, slots=True, kw_only=True)
class ImportReport:
    """What an import stored: where, how many rows, and what the file looked like."""

    path: str
    format: ImportFormat
    exchange: str
    symbol: str
    timeframe: str
    rows: int
    inserted: int
    updated: int
    unchanged: int
    quarantined: int
    filler_rows: int
    first_ts: datetime | None
    last_ts: datetime | None
    notes: tuple[str, ...]


def import_file(
    path: str | Path,
    *,
    lake: Lake | Any | None = None,
    exchange: str | None = None,
    symbol: str | None = None,
    timeframe: str | None = None,
    mapping: dict[str, str] | None = None,
    drop_fillers: bool = False,
) -> ImportReport:
    """Parse `path` (see `read_candle_file`) and write its candles into the lake.

    Binance public-data files default to `exchange="binance"`, everything else to
    `exchange="imported"` (freqtrade files do not say where they came from).
    """
    if mapping is None and is_funding_file(Path(path).name):
        return _import_funding(Path(path), lake=lake, exchange=exchange, symbol=symbol)
    parsed = read_candle_file(
        path, symbol=symbol, timeframe=timeframe, mapping=mapping, drop_fillers=drop_fillers
    )
    if exchange is None:
        exchange = (
            "binance" if parsed.format is ImportFormat.BINANCE_CSV else DEFAULT_IMPORT_EXCHANGE
        )
    if lake is None:
        from quantdesk.lake import Lake

        lake = Lake()
    written = lake.write(
        parsed.frame, exchange=exchange, symbol=parsed.symbol, timeframe=parsed.timeframe
    )
    frame = parsed.frame
    return ImportReport(
        path=str(path),
        format=parsed.format,
        exchange=exchange,
        symbol=parsed.symbol,
        timeframe=parsed.timeframe,
        rows=frame.height,
        inserted=int(written.inserted),
        updated=int(written.updated),
        unchanged=int(written.unchanged),
        quarantined=int(written.quarantined),
        filler_rows=parsed.filler_rows,
        first_ts=frame["ts"][0] if frame.height else None,
        last_ts=frame["ts"][-1] if frame.height else None,
        notes=parsed.notes,
    )


def _import_funding(path: Path, *, lake: Any, exchange: str | None, symbol: str | None) -> ImportReport:
    """Funding rates go to the lake's funding table (`Lake.funding`), not the candles."""
    import polars as pl

    symbol, frame = read_funding_file(path, symbol=symbol)
    exchange = exchange or DEFAULT_IMPORT_EXCHANGE
    if lake is None:
        from quantdesk.lake import Lake

        lake = Lake()
    written = lake.funding.write(frame, exchange=exchange, symbol=symbol)
    stamped_late = frame.filter((pl.col("ts").dt.epoch("ms") % 3_600_000) != 0).height
    notes = (f"funding rates: stored in the lake's funding table ({frame.height} settlements, "
             f"{stamped_late} stamped after the hour as the exchange sent them)",)
    return ImportReport(
        path=str(path), format=ImportFormat.FREQTRADE_FEATHER if path.name.endswith(".feather") else ImportFormat.FREQTRADE_JSON,
        exchange=exchange, symbol=symbol, timeframe="8h", rows=frame.height,
        inserted=written.inserted, updated=written.updated, unchanged=written.unchanged, quarantined=0,
        filler_rows=0, first_ts=frame["ts"][0] if frame.height else None,
        last_ts=frame["ts"][-1] if frame.height else None, notes=notes,
    )
