"""The candle lake: Parquet under hive partitions, queried with polars and DuckDB.

`Lake` is the one entry point (`from quantdesk import Lake`). Layout and rules are in
`quantdesk.lake.layout` (paths) and `quantdesk.lake.validation` (quarantine reasons).
"""

from quantdesk.lake.funding import FundingRates, mark_symbol
from quantdesk.lake.layout import decode_symbol, encode_symbol
from quantdesk.lake.resample import closed_candles
from quantdesk.lake.sample import SAMPLE_EXCHANGE, generate_candles, write_sample
from quantdesk.lake.series import NumericSeries, SeriesWrite, list_series, read_series, write_series
from quantdesk.lake.spread import cross_venue
from quantdesk.lake.store import Lake, WriteReport
from quantdesk.lake.validation import QuarantineReason

__all__ = [
    "SAMPLE_EXCHANGE",
    "FundingRates",
    "Lake",
    "NumericSeries",
    "QuarantineReason",
    "SeriesWrite",
    "WriteReport",
    "closed_candles",
    "cross_venue",
    "decode_symbol",
    "encode_symbol",
    "generate_candles",
    "list_series",
    "mark_symbol",
    "read_series",
    "write_sample",
    "write_series",
]
