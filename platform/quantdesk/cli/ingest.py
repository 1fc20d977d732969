"""`quantdesk ingest` (candles from a ccxt exchange or venue) and `quantdesk import` (candle files)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from quantdesk.cli import app
from quantdesk.cli._common import JsonOption, console, emit, handle_errors, progress


@app.command("ingest")
@handle_errors
def ingest_command(
    exchange: Annotated[
        str,
        typer.Option("--exchange", help="ccxt exchange id or a venue name from quantdesk.toml."),
    ],
    symbol: Annotated[
        list[str],
        typer.Option(
            "--symbol", help="Unified symbol, repeatable: --symbol BTC/USDT --symbol ETH/USDT."
        ),
    ],
    since: Annotated[
        str, typer.Option("--since", help="Start (ISO date/time, UTC), e.g. 2024-01-01.")
    ],
    timeframe: Annotated[
        str, typer.Option("--timeframe", help="Candle timeframe, e.g. 1m, 5m, 1h.")
    ] = "1m",
    until: Annotated[
        str | None,
        typer.Option("--until", help="End, exclusive (default: the last closed candle)."),
    ] = None,
    max_attempts: Annotated[
        int, typer.Option("--max-attempts", min=1, help="Attempts per request on network errors.")
    ] = 6,
    futures_data: Annotated[
        bool,
        typer.Option("--futures-data", help="Perpetuals: also fetch mark-price candles (stored as SYMBOL@mark) "
                     "and the funding-rate history (the lake's funding table)."),
    ] = False,
    sentiment: Annotated[
        bool,
        typer.Option("--sentiment", help="Perpetuals: also fetch open interest, the long/short account ratio and "
                     "taker buy/sell volume into the lake's series (Binance keeps the statistics 30 days)."),
    ] = False,
    json_output: JsonOption = False,
) -> None:
    """Fetch candles through ccxt into the lake, resuming after the newest stored candle.

    Example: quantdesk ingest --exchange binance --symbol BTC/USDT --symbol ETH/USDT --timeframe 1m --since 2024-01-01
    Perpetuals: quantdesk ingest --exchange binanceusdm --symbol XRP/USDT:USDT --timeframe 1h --since 2024-01-01 --futures-data
    Sentiment: quantdesk ingest --exchange binanceusdm --symbol XRP/USDT:USDT --timeframe 1h --since 2024-01-01 --sentiment
    """
    from quantdesk.core.clock import SystemClock
    from quantdesk.core.timeframes import parse_time, timeframe_ms
    from quantdesk.ingest import IngestProgress, RetryPolicy, ingest

    clock = SystemClock()
    start, end = parse_time(since), parse_time(until) or clock.now()
    slots = (
        max(0, int((end - start).total_seconds() * 1000) // timeframe_ms(timeframe)) if start else 0
    )
    total = slots * len(symbol) * (2 if futures_data else 1) or None
    with progress(
        f"ingest {exchange} {timeframe}", total=total, enabled=not json_output
    ) as advance:
        seen: dict[str, int] = {}

        def on_progress(event: IngestProgress) -> None:
            # The bar counts candle slots over all symbols; each symbol reports its own total.
            step = event.done - seen.get(event.symbol, 0)
            seen[event.symbol] = event.done
            if step > 0:
                advance(step)

        reports = ingest(
            exchange,
            symbol,
            timeframe,
            since,
            until,
            clock=clock,
            progress=on_progress,
            retry=RetryPolicy(max_attempts=max_attempts),
        )
        funding_reports = []
        if futures_data:
            from quantdesk.ingest import ingest_funding

            seen.clear()
            reports += ingest(exchange, symbol, timeframe, since, until, clock=clock, progress=on_progress,
                              retry=RetryPolicy(max_attempts=max_attempts), price="mark")
            funding_reports = ingest_funding(exchange, symbol, since, until, clock=clock,
                                             retry=RetryPolicy(max_attempts=max_attempts))
        sentiment_reports = []
        if sentiment:
            from quantdesk.ingest import ingest_sentiment

            sentiment_reports = ingest_sentiment(exchange, symbol, timeframe, since, until, clock=clock,
                                                 retry=RetryPolicy(max_attempts=max_attempts))
    from quantdesk.ops.data_events import record_quarantined

    if record_quarantined(reports, actor="cli:ingest"):  # people hear about rejected rows (data_quarantined)
        from quantdesk.cli._notify import deliver_pending

        deliver_pending()
    if json_output:
        emit({"reports": reports, **({"funding": funding_reports} if futures_data else {}),
              **({"sentiment": sentiment_reports} if sentiment else {})})
        return
    for r in reports:
        resumed = f", resumed after {r.resumed_from:%Y-%m-%d %H:%M}" if r.resumed_from else ""
        console.print(
            f"{r.exchange} {r.symbol} {r.timeframe}: fetched {r.fetched} in {r.pages} pages{resumed}; "
            f"inserted {r.inserted}, updated {r.updated}, unchanged {r.unchanged}, quarantined {r.quarantined}",
            highlight=False,
        )
    for f in funding_reports:
        resumed = f", resumed after {f.resumed_from:%Y-%m-%d %H:%M}" if f.resumed_from else ""
        console.print(f"{f.exchange} {f.symbol} funding: fetched {f.fetched} settlements in {f.pages} pages{resumed}; "
                      f"inserted {f.inserted}, updated {f.updated}, unchanged {f.unchanged}", highlight=False)
    for s in sentiment_reports:
        resumed = f", resumed after {s.resumed_from:%Y-%m-%d %H:%M}" if s.resumed_from else ""
        note = f" ({s.note})" if s.note else ""
        console.print(f"{s.exchange} {s.symbol} {s.kind} ({s.period}): fetched {s.fetched} points in {s.pages} pages"
                      f"{resumed}; inserted {s.inserted}, updated {s.updated}, unchanged {s.unchanged} "
                      f"-> {', '.join(s.series)}{note}", highlight=False, soft_wrap=True)


def _parse_mapping(items: list[str] | None) -> dict[str, str] | None:
    from quantdesk.core.errors import ConfigError

    if not items:
        return None
    mapping: dict[str, str] = {}
    for item in ",".join(items).split(","):
        target, sep, source = item.partition("=")
        if (
            not sep
            or target.strip() not in ("ts", "open", "high", "low", "close", "volume")
            or not source.strip()
        ):
            raise ConfigError(
                f"--map {item!r} is not TARGET=COLUMN with TARGET one of ts, open, high, low, close, volume; "
                "e.g. --map ts=open_time,close=c"
            )
        mapping[target.strip()] = source.strip()
    return mapping


@app.command("import")
@handle_errors
def import_command(
    path: Annotated[
        Path,
        typer.Argument(
            help="A candle file: freqtrade .json/.json.gz/.feather, Binance kline .csv/.zip, or .csv/.parquet."
        ),
    ],
    exchange: Annotated[
        str | None,
        typer.Option(
            "--exchange",
            help="Lake exchange to store under (default: binance for Binance files, else 'imported').",
        ),
    ] = None,
    symbol: Annotated[
        str | None, typer.Option("--symbol", help="Unified symbol (default: from the file name).")
    ] = None,
    timeframe: Annotated[
        str | None,
        typer.Option(
            "--timeframe", help="Timeframe (default: from the file name or the row spacing)."
        ),
    ] = None,
    mapping: Annotated[
        list[str] | None,
        typer.Option("--map", help="Column mapping for generic files: ts=open_time,open=o,..."),
    ] = None,
    drop_fillers: Annotated[
        bool,
        typer.Option(
            "--drop-fillers", help="Drop synthetic gap fillers (volume 0, flat at previous close)."
        ),
    ] = False,
    series: Annotated[
        str | None,
        typer.Option("--series", help="Import one numeric column as the lake series NAME (not candles): "
                     "a sentiment score, an on-chain count... Needs --symbol."),
    ] = None,
    column: Annotated[
        str | None, typer.Option("--column", help="With --series: the column holding the values (default: NAME).")
    ] = None,
    time_column: Annotated[
        str, typer.Option("--time-column", help="With --series: the timestamp column (ISO text or epoch ms/s).")
    ] = "ts",
    json_output: JsonOption = False,
) -> None:
    """Import a candle file into the lake, or with --series one numeric column as a series.

    Example: quantdesk import ../shared/data/freqtrade-testdata/ETH_BTC-5m.json --exchange binance
    Example: quantdesk import fear_greed.csv --series fear_greed --column value --time-column date --symbol BTC/USDT
    """
    if series is not None:
        _import_series(path, series, column, time_column, exchange, symbol, timeframe, mapping, json_output)
        return
    from quantdesk.ingest import import_file

    report = import_file(
        path,
        exchange=exchange,
        symbol=symbol,
        timeframe=timeframe,
        mapping=_parse_mapping(mapping),
        drop_fillers=drop_fillers,
    )
    if json_output:
        emit(report)
        return
    console.print(
        f"{report.path} ({report.format}) -> {report.exchange} {report.symbol} {report.timeframe}: "
        f"{report.rows} rows, inserted {report.inserted}, updated {report.updated}, "
        f"unchanged {report.unchanged}, quarantined {report.quarantined}",
        highlight=False,
    )
    for note in report.notes:
        console.print(f"  note: {note}", highlight=False)


def _import_series(path: Path, name: str, column: str | None, time_column: str, exchange: str | None,
                   symbol: str | None, timeframe: str | None, mapping: list[str] | None, json_output: bool) -> None:
    from quantdesk.core.errors import ConfigError
    from quantdesk.ingest.series_import import import_series

    if timeframe is not None or mapping:
        raise ConfigError("--series imports one column with its timestamps: drop --timeframe and --map, "
                          "name the columns with --column and --time-column")
    if symbol is None:
        raise ConfigError("--series needs --symbol: a series belongs to a market (e.g. --symbol BTC/USDT)")
    report = import_series(path, name=name, column=column or name, time_column=time_column, symbol=symbol,
                           exchange=exchange or "imported")
    if json_output:
        emit(report)
        return
    span = f" from {report.first_ts:%Y-%m-%d %H:%M} to {report.last_ts:%Y-%m-%d %H:%M}" if report.first_ts else ""
    console.print(f"{report.path} column {report.column} -> series {report.name} of {report.exchange} "
                  f"{report.symbol}: {report.rows} points{span}, inserted {report.inserted}, "
                  f"updated {report.updated}, unchanged {report.unchanged}", highlight=False, soft_wrap=True)


@app.command("stream")
@handle_errors
def stream_command(
    exchange: Annotated[str, typer.Option("--exchange", help="A venue name from quantdesk.toml or a ccxt id.")],
    symbol: Annotated[list[str], typer.Option("--symbol", help="Unified symbol, repeatable.")],
    timeframe: Annotated[str, typer.Option("--timeframe", help="Candle timeframe, e.g. 1m.")] = "1m",
    since: Annotated[str | None, typer.Option("--since", help="Backfill start for a new series (default: 100 bars ago).")] = None,
    bars: Annotated[int | None, typer.Option("--bars", min=1, help="Stop after this many new bars per symbol (default: run until Ctrl-C or SIGTERM).")] = None,
    venue_clock: Annotated[bool, typer.Option("--venue-clock", help="Take time from the venue's server time "
                                              "(a simulated venue's market clock), not this machine's clock.")] = False,
    json_output: JsonOption = False,
) -> None:
    """Write closed candles to the lake as the venue's WebSocket stream delivers them (ccxt pro).

    REST fills the lake up to now first, and again after any reconnect or gap, so the lake ends up
    exactly as `quantdesk ingest` would leave it; a stream quiet for 3 bars is reopened.
    Example: quantdesk stream --exchange binance --symbol BTC/USDT --symbol ETH/USDT --timeframe 1m
    Example: quantdesk stream --exchange sim --symbol BTC/USDT --bars 3 --venue-clock   (a simulated venue)
    """
    import signal
    import threading
    from datetime import UTC, datetime

    from quantdesk.live.schedule import clock_from_env
    from quantdesk.live.stream import CandleStream
    from quantdesk.live.venue_clock import VenueClock

    def printer(sym: str, ts: int) -> None:
        console.print(f"{sym} {timeframe} bar {datetime.fromtimestamp(ts / 1000, UTC):%Y-%m-%d %H:%M} UTC stored",
                      highlight=False)

    stop = threading.Event()
    clock = VenueClock.for_venue(exchange) if venue_clock else clock_from_env()
    previous = signal.signal(signal.SIGTERM, lambda *_: stop.set())
    try:
        report = CandleStream(exchange, symbol, timeframe, since=since, on_bar=None if json_output else printer,
                              clock=clock).run(stop=stop, max_bars=bars)
    except KeyboardInterrupt:
        return
    finally:
        signal.signal(signal.SIGTERM, previous)
        if isinstance(clock, VenueClock):
            clock.close()
    if json_output:
        emit({"written": report.written, "reconnects": report.reconnects, "backfills": report.backfills,
              "stale_events": report.stale_events})
