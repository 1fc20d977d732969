"""`quantdesk venue serve`: run the simulated Binance venue on lake candles: REST and WebSocket streams."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from quantdesk.cli._common import JsonOption, console, emit, handle_errors, progress
from quantdesk.cli.venue import venue_app

__all__ = ["venue_serve"]

_TEST_KEY = (
    "quantdesk-sim-key"  # mirrors quantdesk.venue.auth, kept literal so --help stays instant
)
_TEST_SECRET = "quantdesk-sim-secret"  # noqa: S105 - the published test secret


@venue_app.command("serve")
@handle_errors
def venue_serve(
    port: Annotated[int, typer.Option("--port", help="TCP port (0: pick a free one).")] = 8899,
    ws_port: Annotated[
        int,
        typer.Option("--ws-port", help="TCP port of the WebSocket streams (0: a free one; the venue prints its ws_url)."),
    ] = 0,
    host: Annotated[
        str, typer.Option("--host", help="Interface to bind; keep 127.0.0.1 unless you know why.")
    ] = "127.0.0.1",
    lake_exchange: Annotated[
        str, typer.Option("--lake-exchange", help="Lake exchange whose candles feed the venue.")
    ] = "synthetic",
    symbol: Annotated[
        list[str] | None,
        typer.Option(
            "--symbol",
            help="Symbol to list (repeatable); default: all in the lake for --lake-exchange.",
        ),
    ] = None,
    timeframe: Annotated[
        str, typer.Option("--timeframe", help="Candle timeframe replayed.")
    ] = "1m",
    api_key: Annotated[
        str,
        typer.Option(
            "--api-key", envvar="QUANTDESK_SIM_API_KEY", help="API key clients must send."
        ),
    ] = _TEST_KEY,
    api_secret: Annotated[
        str,
        typer.Option(
            "--api-secret",
            envvar="QUANTDESK_SIM_API_SECRET",
            help="HMAC secret clients sign with (the default is a public test secret).",
        ),
    ] = _TEST_SECRET,
    start: Annotated[
        str | None,
        typer.Option(
            "--start",
            help="Market time to start at (ISO); default: one day before the last candle.",
        ),
    ] = None,
    speed: Annotated[
        float,
        typer.Option(
            "--speed",
            help="Market seconds per wall second (0: frozen, move it with POST /_admin/advance).",
        ),
    ] = 1.0,
    quote_balance: Annotated[
        float, typer.Option("--quote-balance", help="Starting free balance of each quote asset.")
    ] = 100_000.0,
    fee_bps: Annotated[
        float, typer.Option("--fee-bps", help="Fee in basis points, charged in the quote asset.")
    ] = 10.0,
    duration_s: Annotated[
        float | None,
        typer.Option(
            "--duration-s", help="Stop after this many wall seconds (default: until Ctrl-C)."
        ),
    ] = None,
    book_levels: Annotated[
        int, typer.Option("--book-levels", help="Levels on each side of the order book (depth, stream).")
    ] = 1,
    spread_bps: Annotated[
        float | None,
        typer.Option("--spread-bps", help="Best bid to best ask in basis points (default: a tick either side)."),
    ] = None,
    price_offset_bps: Annotated[
        list[str] | None,
        typer.Option("--price-offset-bps",
                     help="Move the book's mid by BPS, or SYMBOL=BPS for one symbol (repeatable): venues disagree."),
    ] = None,
    level_qty: Annotated[
        str | None, typer.Option("--level-qty", help="Base quantity on each book level (default 1000).")
    ] = None,
    level_step_bps: Annotated[
        float | None, typer.Option("--level-step-bps", help="Distance between levels in bps (default: one tick).")
    ] = None,
    cross: Annotated[
        list[str] | None,
        typer.Option("--cross", help="Also list an implied cross such as ETH/BTC (from ETH/X and BTC/X; repeatable)."),
    ] = None,
    withdraw_fee: Annotated[
        list[str] | None,
        typer.Option("--withdraw-fee", help="ASSET=FEE the venue reports to fetch_deposit_withdraw_fees (repeatable)."),
    ] = None,
    perpetual: Annotated[
        list[str] | None,
        typer.Option("--perpetual", help="Also serve this USDⓈ-M perpetual (XRP/USDT:USDT, repeatable) for ccxt's "
                     "binanceusdm: its lake candles, SYMBOL@mark, funding, and sentiment derived from the candles."),
    ] = None,
    json_output: JsonOption = False,
) -> None:
    """Serve a local Binance-compatible venue on lake candles: REST (market data, orders, faults)
    and WebSocket streams (klines, trades, diff depth, the signed user data stream).

    Its server time is its market clock: `quantdesk run NAME --venue-clock` follows it.

    Example: quantdesk venue serve --port 8899 --lake-exchange synthetic --symbol BTC/USDT --speed 60

    Two venues that disagree by 30 bps, ten levels deep:
    quantdesk venue serve --port 8901 --book-levels 10 --spread-bps 2 --price-offset-bps 30
    """
    import threading
    import time

    from quantdesk.core.clock import ManualClock
    from quantdesk.core.errors import ConfigError, DataError, VenueError
    from quantdesk.core.timeframes import parse_time, timeframe_ms
    from quantdesk.lake import Lake, closed_candles
    from quantdesk.venue import FillPolicy, SimulatedVenue
    from quantdesk.venue.streams import MarketStreams

    if speed < 0:
        raise ConfigError(
            f"--speed {speed} is negative: use 0 (frozen) or a positive factor like 1 or 60"
        )
    lake = Lake()
    perpetuals = _perpetuals(lake, lake_exchange, timeframe, perpetual or [])
    # perpetuals and mark series are not spot markets; a perpetual's pair trades spot on its candles
    symbols = symbol or [s for s in lake.symbols(lake_exchange) if ":" not in s and "@" not in s] or [
        p.split(":")[0] for p in perpetuals]
    if not symbols:
        raise DataError(
            f"no candles for exchange {lake_exchange!r} in the lake at {lake.location}: run `quantdesk sample` "
            "(synthetic data) or `quantdesk ingest`, or pick another --lake-exchange"
        )
    candles = {}
    with progress("loading candles", len(symbols), enabled=not json_output) as advance:
        for name in symbols:
            if name not in lake.symbols(lake_exchange) and (perp := perpetuals.get(f"{name}:{name.split('/')[-1]}")):
                candles[name] = perp["candles"]
                advance(1)
                continue
            frame = closed_candles(lake.candles(name, timeframe, exchange=lake_exchange))
            if frame.height == 0:
                raise DataError(
                    f"no {timeframe} candles for {name} on {lake_exchange}: check --symbol or ingest it first"
                )
            candles[name] = frame.select("ts", "open", "high", "low", "close", "volume")
            advance(1)
    balances = {name.split("/")[1]: quote_balance for name in symbols}  # a cross's quote is not cash
    book, withdraw_fees, specs = _book_options(candles, book_levels, spread_bps, price_offset_bps, level_qty,
                                               level_step_bps, cross, withdraw_fee)
    symbols = list(candles)
    last_ms = max(int(f["ts"].dt.epoch("ms").max()) for f in candles.values()) + timeframe_ms(
        timeframe
    )
    start_dt = parse_time(start)
    start_ms = int(start_dt.timestamp() * 1000) if start_dt else last_ms - 86_400_000
    clock = ManualClock(start_ms)
    venue = SimulatedVenue(
        candles,
        clock=clock,
        timeframe=timeframe,
        api_key=api_key,
        api_secret=api_secret,
        policy=FillPolicy(fee_bps=fee_bps),
        balances=balances,
        host=host,
        port=port,
        book_shape=book,
        withdraw_fees=withdraw_fees,
        specs=specs,
        perpetuals=perpetuals or None,
    )
    venue.start()
    # a free port unless asked: venues served on neighbouring ports (8901, 8902, ...) must not collide
    streams = MarketStreams(venue, host=host, port=ws_port)
    try:
        streams.start()
    except OSError as e:
        venue.stop()
        raise VenueError(f"cannot serve the WebSocket streams on {host}:{streams.port} ({e.strerror}): "
                         "choose another --ws-port (0 picks a free one)") from e
    test_credentials = api_key == _TEST_KEY and api_secret == _TEST_SECRET
    hint = (
        f"quantdesk venue add sim --exchange binance --api-url {venue.url} --ws-url {streams.url} "
        "--key-env QUANTDESK_SIM_API_KEY --secret-env QUANTDESK_SIM_API_SECRET"
    )
    info = {
        "url": venue.url,
        "ws_url": streams.url,
        "symbols": symbols,
        "perpetuals": list(perpetuals),
        "start": clock.now().isoformat(),
        "speed": speed,
        "admin": f"{venue.url}/_admin/",
        "add_venue": hint,
        "book": {"levels": book.levels, "spread_bps": None if book.spread_bps is None else str(book.spread_bps),
                 "price_offset_bps": str(book.price_offset_bps), "level_qty": str(book.level_qty),
                 "symbol_offsets_bps": {k: str(v) for k, v in book.symbol_offsets_bps.items()}},
    }
    if test_credentials:
        info["test_credentials"] = {"api_key": api_key, "api_secret": api_secret}
    if json_output:
        emit(info)
    else:
        console.print(
            f"simulated venue on [bold]{venue.url}[/] ({', '.join([*symbols, *perpetuals])}; market time "
            f"{info['start']}, speed {speed}x)",
            highlight=False,
        )
        console.print(f"WebSocket streams on [bold]{streams.url}[/] (the venue's ws_url)", highlight=False)
        if test_credentials:
            console.print(
                f"test credentials: api key {api_key}, api secret {api_secret}", highlight=False
            )
        else:
            console.print("credentials: the key and secret you passed (not shown)", highlight=False)
        console.print(f"add it: {hint}", highlight=False)
    sys_flush()
    stop = threading.Event()
    wall_start = time.monotonic()
    try:
        while not stop.wait(0.05):  # market time moves in small steps: at 60x, one second per 50 ms
            elapsed = time.monotonic() - wall_start
            if speed > 0:
                target = start_ms + int(elapsed * speed * 1000)
                if target > clock.now_ms():
                    venue.advance(to=target)
            if duration_s is not None and elapsed >= duration_s:
                break
    except KeyboardInterrupt:
        pass
    finally:
        streams.stop()
        venue.stop()


def _perpetuals(lake: Any, exchange: str, timeframe: str, names: list[str]) -> dict[str, dict[str, Any]]:
    """The data of each --perpetual: trade candles, mark candles (SYMBOL@mark) and funding from the lake."""
    from quantdesk.core.errors import DataError
    from quantdesk.lake import closed_candles, mark_symbol

    out: dict[str, dict[str, Any]] = {}
    stored = set(lake.symbols(exchange))
    for name in names:
        if ":" not in name:
            raise DataError(f"--perpetual {name!r} is not a perpetual: use BASE/QUOTE:SETTLE like XRP/USDT:USDT")
        source = name if name in stored else name.split(":")[0]
        if source not in stored:
            raise DataError(f"no candles for {name} (or {source}) on {exchange} in the lake: import or ingest them "
                            "first, or pick another --lake-exchange")
        columns = ["ts", "open", "high", "low", "close", "volume"]
        data = {"candles": closed_candles(lake.candles(source, timeframe, exchange=exchange)).select(columns)}
        if mark_symbol(name) in stored:
            data["mark"] = closed_candles(lake.candles(mark_symbol(name), timeframe, exchange=exchange)).select(
                columns).with_columns(volume=0.0)
        funding = lake.funding.read(name, exchange=exchange)
        if funding.height:
            data["funding"] = funding
        out[name] = data
    return out


def _book_options(candles: dict, levels: int, spread_bps: float | None, offsets: list[str] | None,
                  level_qty: str | None, level_step_bps: float | None, crosses: list[str] | None,
                  withdraw_fees: list[str] | None) -> tuple[Any, dict[str, str], dict]:
    """The book shape, implied crosses (added to `candles`) and withdrawal fees the options ask for."""
    from decimal import Decimal, InvalidOperation

    from quantdesk.core.errors import ConfigError
    from quantdesk.venue.book_shape import shape_from_options
    from quantdesk.venue.crosses import cross_spec, implied_cross

    shape = shape_from_options(levels=levels, spread_bps=spread_bps, price_offsets=offsets, level_qty=level_qty,
                               level_step_bps=level_step_bps)
    specs = {}
    for name in crosses or []:
        candles[name] = implied_cross(name, candles)
        specs[name] = cross_spec(name, candles)
    fees = {}
    for item in withdraw_fees or []:
        asset, sep, fee = item.partition("=")
        try:
            if not sep or Decimal(fee) < 0:
                raise InvalidOperation
        except InvalidOperation:
            raise ConfigError(f"--withdraw-fee {item!r} is not ASSET=FEE, e.g. BTC=0.0002") from None
        fees[asset.strip()] = fee.strip()
    return shape, fees, specs


def sys_flush() -> None:
    """Flush stdout so a parent process reading the URL sees it at once."""
    import sys

    sys.stdout.flush()
