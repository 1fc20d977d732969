"""DuckDB views over the lake: `candles` (every series), `quarantine` and `series` (numeric series)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

from quantdesk.core.errors import LakeError
from quantdesk.lake.layout import QUARANTINE_DIR, SeriesFile
from quantdesk.lake.storage import LakePath, Storage

if TYPE_CHECKING:
    import duckdb

__all__ = ["SqlView"]

_EMPTY_CANDLES = (
    "select null::varchar as exchange, null::varchar as symbol, null::varchar as timeframe, "
    "null::timestamptz as ts, null::double as open, null::double as high, null::double as low, "
    "null::double as close, null::double as volume where false"
)
_EMPTY_QUARANTINE = (
    "select null::varchar as exchange, null::varchar as symbol, null::varchar as timeframe, "
    "null::timestamptz as ts, null::double as open, null::double as high, null::double as low, "
    "null::double as close, null::double as volume, null::varchar as reason, "
    "null::timestamptz as quarantined_at where false"
)


_EMPTY_SERIES = (
    "select null::varchar as exchange, null::varchar as symbol, null::varchar as name, "
    "null::timestamptz as ts, null::double as value where false"
)
_SERIES_DIR = "_series"  # quantdesk.lake.series.SERIES_DIR (not imported: series imports storage, storage nothing)


_HIVE = (
    "hive_partitioning = true, hive_types_autocast = false, "
    "hive_types = {'exchange': varchar, 'symbol': varchar, 'timeframe': varchar}"
)


def _literal(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def _candles_sql(listing: Mapping[tuple[str, str, str], tuple[SeriesFile, ...]], storage: Storage) -> str:
    # One read_parquet over an explicit file list: no globbing, and DuckDB percent-decodes
    # the hive values (symbol=BTC%2FUSDT -> BTC/USDT). Keys stay strings (no autocast).
    paths = [storage.url(f.path) for _key, files in sorted(listing.items()) for f in files]
    if not paths:
        return _EMPTY_CANDLES
    return (
        "select exchange, symbol, timeframe, ts, open, high, low, close, volume "
        f"from read_parquet([{', '.join(_literal(p) for p in paths)}], {_HIVE})"
    )


def _quarantine_sql(root: LakePath, storage: Storage) -> str:
    base = root / QUARANTINE_DIR
    files = storage.parquet_files_under(base)
    if not files:
        return _EMPTY_QUARANTINE
    pattern = "[" + ", ".join(_literal(storage.url(p)) for p in files) + "]"
    return (
        "select exchange, symbol, timeframe, ts, open, high, low, close, volume, reason, quarantined_at "
        f"from read_parquet({pattern}, {_HIVE})"
    )


def _series_sql(root: LakePath, storage: Storage) -> str:
    files = [p for p in storage.parquet_files_under(root / _SERIES_DIR) if p.parent.name.startswith("name=")]
    if not files:
        return _EMPTY_SERIES
    pattern = "[" + ", ".join(_literal(storage.url(p)) for p in files) + "]"
    hive = ("hive_partitioning = true, hive_types_autocast = false, "
            "hive_types = {'exchange': varchar, 'symbol': varchar, 'name': varchar}")
    return f"select exchange, symbol, name, ts, value from read_parquet({pattern}, {hive})"


class SqlView:
    """One in-process DuckDB connection whose views follow the lake's files."""

    def __init__(self) -> None:
        self._connection: duckdb.DuckDBPyConnection | None = None
        self._signature: object = None

    def query(
        self,
        query: str,
        listing: Mapping[tuple[str, str, str], tuple[SeriesFile, ...]],
        root: LakePath,
        storage: Storage,
    ) -> duckdb.DuckDBPyRelation:
        """Refresh the views if the set of files changed, then run `query`."""
        import duckdb

        if self._connection is None:
            self._connection = duckdb.connect(":memory:")
            self._connection.execute("set TimeZone = 'UTC'")
            storage.register(self._connection)
        candles = _candles_sql(listing, storage)
        quarantine = _quarantine_sql(root, storage)
        series = _series_sql(root, storage)
        signature = (candles, quarantine, series)
        if signature != self._signature:
            self._connection.execute(f"create or replace view candles as {candles}")
            self._connection.execute(f"create or replace view quarantine as {quarantine}")
            self._connection.execute(f"create or replace view series as {series}")
            self._signature = signature
        try:
            return self._connection.sql(query)
        except duckdb.Error as e:
            raise LakeError(f"DuckDB refused the query ({e}); the views are `candles`, `quarantine` and `series`") from e
