"""Implied cross markets for the simulated venue: ETH/BTC from ETH/USDT and BTC/USDT candles.

A triangular scanner needs three markets that close a cycle; the lake usually holds USDT
pairs only. A cross's candle is the ratio of its legs' candles sharing a quote: open and
close are exact ratios (so the three books agree up to their spreads and offsets); high and
low are the envelope of open and close (the legs' extremes need not coincide in time);
volume is the base leg's.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal

import polars as pl

from quantdesk.core.errors import ConfigError
from quantdesk.venue.market import MarketSpec

__all__ = ["cross_spec", "implied_cross"]


def cross_spec(cross: str, candles: Mapping[str, pl.DataFrame]) -> MarketSpec:
    """Return filters for a cross: the tick from its price, the lot step of its base's own market.

    `MarketSpec.for_price` would give ETH/BTC (0.05) a lot of 1 ETH, as for a cheap coin; the
    cross trades its base in that base's steps (ETH/USDT's), and its minimum notional is
    about 5 USDT in the quote asset, as Binance sets them.
    """
    base, quote = cross.split("/")
    price = float(candles[cross]["close"][-1])
    by_price = MarketSpec.for_price(cross, price)
    for symbol, frame in candles.items():
        if symbol.startswith(base + "/") and symbol != cross:
            step = MarketSpec.for_price(symbol, float(frame["close"][-1])).step_size
            quote_leg = candles.get(f"{quote}/{symbol.split('/')[1]}")
            quote_price = float(quote_leg["close"][-1]) if quote_leg is not None else 1.0
            min_notional = Decimal(repr(5 / quote_price)).quantize(by_price.tick_size)
            return MarketSpec(symbol=cross, tick_size=by_price.tick_size, step_size=step, min_qty=step,
                              min_notional=max(min_notional, by_price.tick_size))
    return by_price


def implied_cross(cross: str, candles: Mapping[str, pl.DataFrame]) -> pl.DataFrame:
    """Return candles of `cross` (BASE/QUOTE) from the BASE/X and QUOTE/X candles in `candles`."""
    base, _, quote = cross.partition("/")
    if not base or not quote:
        raise ConfigError(f"--cross {cross!r} is not BASE/QUOTE, e.g. ETH/BTC")
    for symbol in candles:
        leg_quote = symbol.split("/")[1]
        numerator, denominator = f"{base}/{leg_quote}", f"{quote}/{leg_quote}"
        if numerator in candles and denominator in candles:
            top, bottom = candles[numerator], candles[denominator]
            joined = top.join(bottom, on="ts", suffix="_q")
            opened, closed = pl.col("open") / pl.col("open_q"), pl.col("close") / pl.col("close_q")
            return joined.select(
                "ts", opened.alias("open"), pl.max_horizontal(opened, closed).alias("high"),
                pl.min_horizontal(opened, closed).alias("low"), closed.alias("close"), pl.col("volume")
            ).sort("ts")
    raise ConfigError(f"--cross {cross} needs {base}/X and {quote}/X among the served symbols "
                      f"({', '.join(sorted(candles))}); add them with --symbol")
