"""`quantdesk venue serve`: run the simulated Binance venue on lake candles."""

from __future__ import annotations

from typing import Annotated

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
    json_output: JsonOption = False,
) -> None:
    """Serve a local Binance-compatible REST venue (market data, orders, faults) on lake candles.

    Example: quantdesk venue serve --port 8899 --lake-exchange synthetic --symbol BTC/USDT --speed 60
    """
    import threading
    import time

    from quantdesk.core.clock import ManualClock
    from quantdesk.core.errors import ConfigError, DataError
    from quantdesk.core.timeframes import parse_time, timeframe_ms
    from quantdesk.lake import Lake, closed_candles
    from quantdesk.venue import FillPolicy, SimulatedVenue

    if speed < 0:
        raise ConfigError(
            f"--speed {speed} is negative: use 0 (frozen) or a positive factor like 1 or 60"
        )
    lake = Lake()
    symbols = symbol or lake.symbols(lake_exchange)
    if not symbols:
        raise DataError(
            f"no candles for exchange {lake_exchange!r} in the lake at {lake.location}: run `quantdesk sample` "
            "(synthetic data) or `quantdesk ingest`, or pick another --lake-exchange"
        )
    candles = {}
    with progress("loading candles", len(symbols), enabled=not json_output) as advance:
        for name in symbols:
            frame = closed_candles(lake.candles(name, timeframe, exchange=lake_exchange))
            if frame.height == 0:
                raise DataError(
                    f"no {timeframe} candles for {name} on {lake_exchange}: check --symbol or ingest it first"
                )
            candles[name] = frame.select("ts", "open", "high", "low", "close", "volume")
            advance(1)
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
        balances={name.split("/")[1]: quote_balance for name in symbols},
        host=host,
        port=port,
    )
    venue.start()
    test_credentials = api_key == _TEST_KEY and api_secret == _TEST_SECRET
    hint = (
        f"quantdesk venue add sim --exchange binance --api-url {venue.url} "
        "--key-env QUANTDESK_SIM_API_KEY --secret-env QUANTDESK_SIM_API_SECRET"
    )
    info = {
        "url": venue.url,
        "symbols": symbols,
        "start": clock.now().isoformat(),
        "speed": speed,
        "admin": f"{venue.url}/_admin/",
        "add_venue": hint,
    }
    if test_credentials:
        info["test_credentials"] = {"api_key": api_key, "api_secret": api_secret}
    if json_output:
        emit(info)
    else:
        console.print(
            f"simulated venue on [bold]{venue.url}[/] ({', '.join(symbols)}; market time {info['start']}, speed {speed}x)",
            highlight=False,
        )
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
        while not stop.wait(0.2):
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
        venue.stop()


def sys_flush() -> None:
    """Flush stdout so a parent process reading the URL sees it at once."""
    import sys

    sys.stdout.flush()
