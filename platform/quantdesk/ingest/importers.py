"""Read candle files into candle-contract frames: freqtrade, Binance public data, generic CSV/Parquet.

Each reader returns `ImportedCandles` (frame plus what the file says about itself); nothing
here touches the lake. Unknown formats, empty files and files whose rows do not fit the
declared timeframe are refused with an `ImportFormatError` that says what to do.
"""

from __future__ import annotations

import gzip
import io
import json
import re
import zipfile
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path

import polars as pl

from quantdesk.core.errors import ImportFormatError
from quantdesk.core.timeframes import timeframe_ms

__all__ = [
    "ImportFormat",
    "ImportedCandles",
    "infer_timeframe",
    "parse_binance_name",
    "parse_freqtrade_name",
    "is_funding_file",
    "read_candle_file",
    "read_funding_file",
    "to_utc_ms",
]

PRICE_COLUMNS = ("open", "high", "low", "close", "volume")
_TS_ALIASES = ("ts", "timestamp", "date", "datetime", "time", "open_time", "opentime")
_TF = r"\d+[smhdwM]"
_FREQTRADE_NAME = re.compile(
    rf"^(?P<base>[A-Za-z0-9]+)_(?P<quote>[A-Za-z0-9]+)(?:_(?P<settle>[A-Za-z0-9]+))?-(?P<tf>{_TF})"
    r"(?:-(?P<ctype>spot|futures|mark|index|premiumIndex|funding_rate))?\.(?:json|json\.gz|feather)$"
)
_BINANCE_NAME = re.compile(
    rf"^(?P<pair>[A-Z0-9]+)-(?P<tf>{_TF})-\d{{4}}-\d{{2}}(?:-\d{{2}})?\.(?:csv|zip)$"
)
_QUOTES = (
    "USDT",
    "FDUSD",
    "USDC",
    "BUSD",
    "TUSD",
    "BTC",
    "ETH",
    "BNB",
    "EUR",
    "TRY",
    "BRL",
    "DAI",
    "USD",
)


class ImportFormat(StrEnum):
    FREQTRADE_JSON = "freqtrade-json"
    FREQTRADE_FEATHER = "freqtrade-feather"
    BINANCE_CSV = "binance-csv"
    CSV = "csv"
    PARQUET = "parquet"


@dataclass(frozen=True, slots=True, kw_only=True)
class ImportedCandles:
    """A parsed file: candle-contract `frame` plus the symbol and timeframe it holds."""

    frame: pl.DataFrame
    format: ImportFormat
    symbol: str
    timeframe: str
    candle_type: str = "spot"
    filler_rows: int = 0
    notes: tuple[str, ...] = ()


def parse_freqtrade_name(name: str) -> tuple[str, str, str] | None:
    """Return `(symbol, timeframe, candle_type)` from a freqtrade file name, or None."""
    m = _FREQTRADE_NAME.match(name)
    if not m:
        return None
    symbol = f"{m['base']}/{m['quote']}" + (f":{m['settle']}" if m["settle"] else "")
    return symbol, m["tf"], m["ctype"] or ("futures" if m["settle"] else "spot")


def parse_binance_name(name: str) -> tuple[str | None, str] | None:
    """Return `(unified symbol or None, timeframe)` from a Binance public-data file name, or None."""
    m = _BINANCE_NAME.match(name)
    if not m:
        return None
    pair = m["pair"]
    quote = next((q for q in _QUOTES if pair.endswith(q) and len(pair) > len(q)), None)
    return (f"{pair[: -len(quote)]}/{quote}" if quote else None), m["tf"]


def to_utc_ms(series: pl.Series) -> pl.Series:
    """Return `series` as Datetime(ms, UTC); integers are read as s, ms, µs or ns by magnitude."""
    dtype = series.dtype
    if dtype == pl.String:
        try:
            series = series.str.strip_chars().str.to_datetime(time_zone="UTC")
        except pl.exceptions.PolarsError:
            series = series.cast(pl.Float64, strict=False)
            dtype = series.dtype
    if dtype.is_numeric():
        peak = float(series.abs().max() or 0)  # type: ignore[arg-type]
        divisor = (
            1_000_000 if peak >= 1e17 else 1_000 if peak >= 1e14 else 1 if peak >= 1e11 else None
        )
        if dtype.is_integer():  # exact integer arithmetic: ns values exceed float64's precision
            ints = series.cast(pl.Int64)
            ms = ints * 1000 if divisor is None else ints // divisor
        else:
            ms = (
                series.cast(pl.Float64) * 1000
                if divisor is None
                else series.cast(pl.Float64) / divisor
            ).round(0)
        series = ms.cast(pl.Int64).cast(pl.Datetime("ms"))
    if not isinstance(series.dtype, pl.Datetime):
        raise ImportFormatError(
            f"cannot read column {series.name!r} ({series.dtype}) as timestamps"
        )
    if series.dtype.time_zone is None:  # type: ignore[union-attr]
        series = series.dt.replace_time_zone("UTC")
    return series.dt.convert_time_zone("UTC").dt.cast_time_unit("ms").alias("ts")


def _candles(frame: pl.DataFrame, mapping: dict[str, str] | None = None) -> pl.DataFrame:
    mapping = dict(mapping or {})
    columns = {c.lower().strip(): c for c in frame.columns}
    for target in ("ts", *PRICE_COLUMNS):
        if target in mapping:
            continue
        aliases = _TS_ALIASES if target == "ts" else (target, target[0])
        found = next((columns[a] for a in aliases if a in columns), None)
        if found is None:
            raise ImportFormatError(
                f"no column for {target!r} among {frame.columns}: map it, e.g. --map {target}=<column>"
            )
        mapping[target] = found
    missing = [src for src in mapping.values() if src not in frame.columns]
    if missing:
        raise ImportFormatError(
            f"mapped column(s) {missing} not in the file; it has {frame.columns}"
        )
    out = pl.DataFrame(
        [to_utc_ms(frame[mapping["ts"]])]
        + [frame[mapping[c]].cast(pl.Float64, strict=False).alias(c) for c in PRICE_COLUMNS]
    )
    return out.sort("ts")


def _read_bytes(path: Path) -> bytes:
    if not path.is_file():
        raise ImportFormatError(f"{path} does not exist or is not a file; check the path")
    data = path.read_bytes()
    if path.name.endswith(".gz"):
        data = gzip.decompress(data)
    if not data.strip():
        raise ImportFormatError(f"{path.name} is empty (0 bytes of candles): nothing to import")
    return data


def _freqtrade_json(path: Path) -> pl.DataFrame:
    try:
        rows = json.loads(_read_bytes(path))
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise ImportFormatError(
            f"{path.name} is not valid JSON ({e}); expected [[ts, o, h, l, c, v], ...]"
        ) from e
    if isinstance(rows, dict):  # pandas orient="columns": {"date": {"0": ms, ...}, "open": {...}}
        return _candles(
            pl.DataFrame({k: list(v.values()) for k, v in rows.items() if isinstance(v, dict)})
        )
    if not isinstance(rows, list) or not rows:
        raise ImportFormatError(
            f"{path.name} holds no candles (empty JSON array): nothing to import"
        )
    if any(not isinstance(r, list) or len(r) < 6 for r in rows):
        raise ImportFormatError(
            f"{path.name}: rows must be [ts, open, high, low, close, volume] arrays"
        )
    columns = list(zip(*[r[:6] for r in rows], strict=True))
    raw = pl.DataFrame(
        {"ts": pl.Series(columns[0], dtype=pl.Float64)}
        | {
            name: pl.Series(
                [float("nan") if v is None else float(v) for v in col], dtype=pl.Float64
            )
            for name, col in zip(PRICE_COLUMNS, columns[1:], strict=True)
        }
    )
    return _candles(raw)


def _binance_csv(data: bytes, name: str) -> pl.DataFrame:
    first = data.split(b"\n", 1)[0].decode(errors="replace")
    has_header = not first.split(",")[0].strip().lstrip("-").isdigit()
    raw = pl.read_csv(io.BytesIO(data), has_header=has_header, infer_schema_length=0)
    if raw.width < 6:
        raise ImportFormatError(f"{name}: expected 12 kline columns, found {raw.width}")
    raw = raw.select(raw.columns[:6])
    raw.columns = ["ts", *PRICE_COLUMNS]
    return _candles(raw.with_columns(pl.col("ts").cast(pl.Int64)))


def _read_table(path: Path, mapping: dict[str, str] | None) -> tuple[ImportFormat, pl.DataFrame]:
    suffix = path.name.lower()
    if suffix.endswith(".parquet"):
        _read_bytes(path)
        return ImportFormat.PARQUET, _candles(pl.read_parquet(path), mapping)
    if suffix.endswith(".zip"):
        with zipfile.ZipFile(path) as archive:
            inner = [n for n in archive.namelist() if n.lower().endswith(".csv")]
            if not inner:
                raise ImportFormatError(
                    f"{path.name} holds no .csv file; expected a Binance kline ZIP"
                )
            data = archive.read(inner[0])
        if not data.strip():
            raise ImportFormatError(f"{path.name} holds an empty CSV: nothing to import")
        return ImportFormat.BINANCE_CSV, _binance_csv(data, path.name)
    data = _read_bytes(path)
    first = data.split(b"\n", 1)[0].decode(errors="replace").split(",")
    if mapping is None and len(first) == 12 and first[0].strip().isdigit():
        return ImportFormat.BINANCE_CSV, _binance_csv(data, path.name)
    if mapping is None and len(first) == 12 and parse_binance_name(path.name):
        return ImportFormat.BINANCE_CSV, _binance_csv(data, path.name)
    raw = pl.read_csv(io.BytesIO(data), infer_schema_length=10_000)
    return ImportFormat.CSV, _candles(raw, mapping)


def infer_timeframe(frame: pl.DataFrame) -> str | None:
    """Return the most common spacing of `frame['ts']` as a timeframe (`1m`, `4h`...), or None."""
    diffs = frame["ts"].cast(pl.Int64).diff().drop_nulls()
    diffs = diffs.filter(diffs > 0)
    if diffs.is_empty():
        return None
    step = int(diffs.mode().min())  # type: ignore[arg-type]
    for unit, ms in (
        ("w", 604_800_000),
        ("d", 86_400_000),
        ("h", 3_600_000),
        ("m", 60_000),
        ("s", 1000),
    ):
        if step % ms == 0:
            return f"{step // ms}{unit}"
    return None


def _check_spacing(frame: pl.DataFrame, timeframe: str, name: str, source: str) -> None:
    actual = infer_timeframe(frame)
    if actual is not None and timeframe_ms(actual) < timeframe_ms(timeframe):
        raise ImportFormatError(
            f"{name}: rows are spaced {actual} apart but the {source} says {timeframe}; "
            f"if the data really is {actual}, import it with --timeframe {actual}"
        )


def _count_fillers(frame: pl.DataFrame) -> pl.Series:
    prev = pl.col("close").shift(1)
    flat = (
        (pl.col("open") == prev)
        & (pl.col("high") == prev)
        & (pl.col("low") == prev)
        & (pl.col("close") == prev)
    )
    return frame.select((flat & (pl.col("volume") == 0)).fill_null(False).alias("filler"))["filler"]


def read_funding_file(path: str | Path, *, symbol: str | None = None) -> tuple[str, pl.DataFrame]:
    """Parse a freqtrade `-funding_rate` file into (symbol, frame of `ts, rate`).

    freqtrade stores the rate in `open` (a fraction per 8 h) and zeros elsewhere; the
    exchange's timestamps (a few ms after the boundary) are kept as stamped.
    """
    path = Path(path)
    named = parse_freqtrade_name(path.name)
    symbol = symbol or (named[0] if named else None)
    if not symbol:
        raise ImportFormatError(f"{path.name}: the file name does not say the symbol; pass --symbol, e.g. --symbol XRP/USDT:USDT")
    if path.name.endswith(".feather"):
        _read_bytes(path)
        frame = _candles(pl.read_ipc(path))
    else:
        frame = _freqtrade_json(path)
    return symbol, frame.select("ts", pl.col("open").alias("rate"))


def is_funding_file(name: str) -> bool:
    """Return True for a freqtrade funding-rate file name (`..._USDT-8h-funding_rate.feather`)."""
    named = parse_freqtrade_name(name)
    return bool(named and named[2] == "funding_rate")


def read_candle_file(
    path: str | Path,
    *,
    symbol: str | None = None,
    timeframe: str | None = None,
    mapping: dict[str, str] | None = None,
    drop_fillers: bool = False,
) -> ImportedCandles:
    """Parse a candle file; `symbol`/`timeframe` override what its name says.

    Synthetic gap fillers (volume 0 and O=H=L=C=previous close, as older freqtrade data
    has) are counted; `drop_fillers` removes them so the gaps show as gaps.
    """
    path = Path(path)
    name = path.name
    notes: list[str] = []
    named = parse_freqtrade_name(name)
    candle_type = "spot"
    if named and mapping is None:
        fmt = (
            ImportFormat.FREQTRADE_FEATHER
            if name.endswith(".feather")
            else ImportFormat.FREQTRADE_JSON
        )
        if named[2] == "funding_rate":
            raise ImportFormatError(
                f"{name} holds funding rates (rate in `open`, other columns 0), not candles: "
                "read it with read_funding_file (quantdesk import does) into the lake's funding table"
            )
        if fmt is ImportFormat.FREQTRADE_FEATHER:
            _read_bytes(path)
            frame = _candles(pl.read_ipc(path))
        else:
            frame = _freqtrade_json(path)
        candle_type = named[2]
        symbol = symbol or (
            named[0] + ("@" + candle_type if candle_type not in ("spot", "futures") else "")
        )
    elif name.lower().endswith((".json", ".json.gz", ".feather")):
        fmt = (
            ImportFormat.FREQTRADE_FEATHER
            if name.endswith(".feather")
            else ImportFormat.FREQTRADE_JSON
        )
        frame = (
            _candles(pl.read_ipc(path), mapping)
            if name.endswith(".feather")
            else _freqtrade_json(path)
        )
    elif name.lower().endswith((".csv", ".zip", ".parquet")):
        fmt, frame = _read_table(path, mapping)
    else:
        raise ImportFormatError(
            f"unknown file format {name!r}: import reads freqtrade .json/.json.gz/.feather, "
            "Binance kline .csv/.zip and generic .csv/.parquet (with --map)"
        )
    declared = timeframe or (named[1] if named else None)
    if fmt is ImportFormat.BINANCE_CSV and (binance := parse_binance_name(name)):
        symbol = symbol or binance[0]
        declared = declared or binance[1]
    if not symbol:
        raise ImportFormatError(
            f"{name}: the file name does not say the symbol; pass --symbol, e.g. --symbol BTC/USDT"
        )
    if frame.is_empty():
        raise ImportFormatError(f"{name} holds no candles: nothing to import")
    if declared is None:
        declared = infer_timeframe(frame)
        if declared is None:
            raise ImportFormatError(
                f"{name}: cannot tell the timeframe; pass --timeframe, e.g. --timeframe 1m"
            )
        notes.append(f"timeframe {declared} inferred from row spacing")
    _check_spacing(frame, declared, name, "--timeframe" if timeframe else "file name")
    no_volume = frame["volume"].is_nan().fill_null(True)
    if no_volume.any():
        nan_volume = int(no_volume.sum())
        frame = frame.with_columns(pl.col("volume").fill_nan(0.0).fill_null(0.0))
        notes.append(
            f"{nan_volume} rows had no volume (NaN, as mark-price candles do); stored as 0"
        )
    fillers = _count_fillers(frame)
    filler_rows = int(fillers.sum())
    if filler_rows:
        if drop_fillers:
            frame = frame.filter(~fillers)
            notes.append(
                f"dropped {filler_rows} synthetic gap-filler rows (volume 0, flat at previous close)"
            )
        else:
            notes.append(
                f"{filler_rows} rows look like synthetic gap fillers; --drop-fillers removes them"
            )
    return ImportedCandles(
        frame=frame,
        format=fmt,
        symbol=symbol,
        timeframe=declared,
        candle_type=candle_type,
        filler_rows=filler_rows,
        notes=tuple(notes),
    )
