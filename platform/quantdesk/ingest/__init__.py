"""Getting data in: ccxt ingest into the lake, and file imports (freqtrade, Binance public data, CSV/Parquet).

Heavy: imports ccxt and polars. The CLI imports this inside command functions only.
"""

from quantdesk.ingest.exchange import check_exchange_id, make_exchange, resolve_venue
from quantdesk.ingest.fetch import RetryPolicy, fetch_ohlcv_pages, ohlcv_to_frame
from quantdesk.ingest.funding import FundingIngestReport, ingest_funding
from quantdesk.ingest.importers import ImportedCandles, ImportFormat, read_candle_file
from quantdesk.ingest.importing import ImportReport, import_file
from quantdesk.ingest.sentiment import SentimentIngestReport, ingest_sentiment
from quantdesk.ingest.series_import import SeriesImportReport, import_series
from quantdesk.ingest.service import IngestProgress, IngestReport, ingest

__all__ = [
    "FundingIngestReport",
    "ImportFormat",
    "ImportReport",
    "ImportedCandles",
    "IngestProgress",
    "IngestReport",
    "RetryPolicy",
    "SentimentIngestReport",
    "SeriesImportReport",
    "check_exchange_id",
    "fetch_ohlcv_pages",
    "import_file",
    "import_series",
    "ingest",
    "ingest_funding",
    "ingest_sentiment",
    "make_exchange",
    "ohlcv_to_frame",
    "read_candle_file",
    "resolve_venue",
]
