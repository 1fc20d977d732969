"""Export ledger and run tables to CSV, Excel (openpyxl, typed cells) or Parquet.

Kinds: runs, trades, orders, fills, positions, equity, risk-events, audit. Ledger kinds can be
filtered by deployment and time; run kinds read one stored run (`--run`). Money stays exact in
Parquet (Decimal), becomes a number in Excel and CSV; times are timezone-aware UTC in Parquet,
real Excel dates (UTC) in Excel. Files are written to a temporary name and renamed, so a
half-written export never replaces a good one.

Text that a spreadsheet would run as a formula (it begins with `=`, `+`, `-`, `@`, tab or
carriage return: a risk-event reason or an actor's name is free text) is neutralised as
OWASP's "CSV injection" guidance says: a string cell in Excel, prefixed with `'` in CSV.
Numbers and dates keep their types.
"""

from __future__ import annotations

import dataclasses
import json
import os
import tempfile
from datetime import datetime
from decimal import Decimal
from enum import Enum, StrEnum
from pathlib import Path
from typing import Any

import polars as pl

from quantdesk.core.errors import DataError

__all__ = ["EXPORT_KINDS", "ExportFormat", "export_frame", "write_export"]

# OWASP CSV injection: the leading characters that make a spreadsheet evaluate a cell
FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")
_FORMULA_PATTERN = r"^[=+\-@\t\r]"

EXPORT_KINDS = ("runs", "trades", "orders", "fills", "positions", "equity", "risk-events", "audit")


class ExportFormat(StrEnum):
    CSV = "csv"
    XLSX = "xlsx"
    PARQUET = "parquet"


def _plain(value: Any) -> Any:
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, dict | list):
        return json.dumps(value, sort_keys=True, default=str)
    return value


def _records_frame(records: list[Any]) -> pl.DataFrame:
    rows = [{k: _plain(v) for k, v in dataclasses.asdict(r).items()} for r in records]
    if not rows:
        return pl.DataFrame()
    columns = list(rows[0])
    data: dict[str, pl.Series] = {}
    for name in columns:
        values = [r[name] for r in rows]
        if any(isinstance(v, Decimal) for v in values):
            data[name] = pl.Series(name, values, dtype=pl.Decimal(38, 18))
        else:
            data[name] = pl.Series(name, values, strict=False)
    return pl.DataFrame(data)


def _within(frame: pl.DataFrame, column: str, since: datetime | None, until: datetime | None) -> pl.DataFrame:
    if frame.is_empty() or column not in frame.columns:
        return frame
    if since is not None:
        frame = frame.filter(pl.col(column) >= since)
    if until is not None:
        frame = frame.filter(pl.col(column) < until)
    return frame


def export_frame(
    kind: str, *, ledger: Any = None, run_id: str | None = None, deployment: str | None = None,
    since: datetime | None = None, until: datetime | None = None,
) -> pl.DataFrame:
    """Return the table of `kind` (see EXPORT_KINDS) with the filters applied."""
    if kind not in EXPORT_KINDS:
        raise DataError(f"unknown export {kind!r}: choose one of {', '.join(EXPORT_KINDS)}")
    if kind in ("trades", "equity"):
        if run_id is None:
            raise DataError(f"export {kind} reads one stored run: give --run RUN_ID (see `quantdesk runs`)")
        from quantdesk.backtest import load_run

        table = load_run(run_id).table(kind if kind == "equity" else "orders")
        return _within(table, "ts", since, until)
    if kind == "runs":
        from quantdesk.backtest import list_runs

        return _within(list_runs(), "created_at", since, until)
    if ledger is None:
        raise DataError(f"export {kind} reads the ledger: pass ledger=")
    if kind == "orders":
        frame, column = _records_frame(ledger.orders(deployment=deployment, since=since)), "created_at"
    elif kind == "fills":
        frame, column = _records_frame(ledger.fills(deployment=deployment, since=since)), "ts"
    elif kind == "positions":
        frame, column = _records_frame(ledger.positions()), ""
    elif kind == "risk-events":
        frame, column = _records_frame(ledger.risk_events(deployment=deployment, since=since)), "ts"
    else:
        frame, column = _records_frame(ledger.audit_log()), "ts"
    return _within(frame, column, since, until) if column else frame


def _append(ws: Any, values: list[Any]) -> None:
    """Append a row; text that openpyxl would store as a formula (a leading `=`) stays a string cell."""
    ws.append(values)
    for index, value in enumerate(values, start=1):
        if isinstance(value, str) and value.startswith(FORMULA_PREFIXES):
            ws.cell(row=ws.max_row, column=index).data_type = "s"  # written as text, never evaluated


def _csv_safe(frame: pl.DataFrame) -> pl.DataFrame:
    """Prefix with `'` every text value a spreadsheet would evaluate (numbers and dates untouched)."""
    texts = [name for name, dtype in frame.schema.items() if dtype == pl.String]
    return frame.with_columns(
        pl.when(pl.col(n).str.contains(_FORMULA_PATTERN)).then(pl.lit("'") + pl.col(n)).otherwise(pl.col(n)).alias(n)
        for n in texts
    )


def _write_xlsx(frame: pl.DataFrame, path: Path, sheet: str) -> None:
    from openpyxl import Workbook

    book = Workbook()
    ws = book.active
    ws.title = sheet[:31]
    _append(ws, list(frame.columns))
    kinds = frame.schema
    for row in frame.iter_rows():
        cells = []
        for (name, value) in zip(frame.columns, row, strict=True):
            if isinstance(value, datetime):
                value = value.replace(tzinfo=None)  # Excel has no time zones: the header says UTC
            elif isinstance(value, Decimal):
                value = float(value)
            cells.append(value)
            del name
        _append(ws, cells)
    for index, (name, dtype) in enumerate(kinds.items(), start=1):
        if dtype.is_temporal():
            ws.cell(row=1, column=index, value=f"{name} (UTC)")
            for (cell,) in ws.iter_rows(min_row=2, min_col=index, max_col=index):
                cell.number_format = "yyyy-mm-dd hh:mm:ss"
    ws.freeze_panes = "A2"
    book.save(path)


def write_export(frame: pl.DataFrame, path: str | os.PathLike[str], fmt: ExportFormat | str | None = None,
                 *, sheet: str = "export") -> Path:
    """Write `frame` to `path` as csv, xlsx or parquet (from `fmt`, else the file's suffix); return the path."""
    target = Path(path)
    try:
        kind = ExportFormat(fmt or target.suffix.lstrip(".").lower())
    except ValueError:
        raise DataError(f"cannot tell the export format of {target.name!r}: pass --format csv, xlsx or parquet") from None
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", dir=target.parent)
    os.close(fd)
    try:
        if kind is ExportFormat.PARQUET:
            frame.write_parquet(tmp)
        elif kind is ExportFormat.CSV:
            _csv_safe(frame.with_columns(pl.col(pl.Decimal).cast(pl.Float64))).write_csv(tmp)
        else:
            _write_xlsx(frame, Path(tmp), sheet)
        os.replace(tmp, target)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return target
