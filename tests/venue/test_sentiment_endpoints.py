"""The venue's sentiment endpoints in Binance's shapes: nothing after the clock, bad periods refused."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import ccxt
import numpy as np
import polars as pl
import pytest

from quantdesk.core.clock import ManualClock
from quantdesk.core.settings import VenueConfig
from quantdesk.ingest import make_exchange
from quantdesk.venue import SimulatedVenue

pytestmark = pytest.mark.integration

T0 = datetime(2024, 1, 1, tzinfo=UTC)
NOW = T0 + timedelta(hours=30, minutes=20)  # the 06:00 bar of day 2 is forming


def _candles(n: int = 48) -> pl.DataFrame:
    rng = np.random.default_rng(3)
    close = 100 * np.exp(np.cumsum(rng.normal(0, 0.01, n)))
    open_ = np.concatenate([[100.0], close[:-1]])
    return pl.DataFrame({"ts": [T0 + timedelta(hours=i) for i in range(n)], "open": open_,
                         "high": np.maximum(open_, close) + 0.5, "low": np.minimum(open_, close) - 0.5,
                         "close": close, "volume": rng.uniform(10, 20, n)}).with_columns(
        pl.col("ts").dt.cast_time_unit("ms"))


@pytest.fixture
def exchange() -> Iterator[ccxt.Exchange]:
    with SimulatedVenue({"ETH/USDT": _candles()}, clock=ManualClock(NOW), timeframe="1h",
                        perpetuals={"ETH/USDT:USDT": {"candles": _candles()}}) as venue:
        yield make_exchange(VenueConfig(exchange="binanceusdm", api_url=venue.url))


def test_statistics_stop_at_the_clock_and_the_forming_bar_shows_no_taker_volume(exchange: ccxt.Exchange) -> None:
    since = int(T0.timestamp() * 1000)
    interest = exchange.fetch_open_interest_history("ETH/USDT:USDT", "1h", since=since, limit=500,
                                                    params={"until": since + 47 * 3_600_000})
    stamps = [row["timestamp"] for row in interest]
    assert stamps[-1] == int((T0 + timedelta(hours=30)).timestamp() * 1000)  # the snapshot at the forming bar's open
    assert stamps[0] == since + 3_600_000  # the first bar has no closed bar before it: no snapshot
    ratios = exchange.fetch_long_short_ratio_history("ETH/USDT:USDT", "1h", since=since, limit=500)
    assert all(r["longShortRatio"] > 0 for r in ratios) and len(ratios) == len(interest)
    klines = exchange.fapiPublicGetKlines({"symbol": "ETHUSDT", "interval": "1h", "startTime": since, "limit": 100})
    assert len(klines) == 31 and klines[-1][9] == "0" and float(klines[-2][9]) > 0
    four_hours = exchange.fapiPublicGetKlines({"symbol": "ETHUSDT", "interval": "4h", "startTime": since, "limit": 1})
    assert float(four_hours[0][9]) == pytest.approx(sum(float(k[9]) for k in klines[:4]), rel=1e-12)


def test_a_period_binance_does_not_offer_is_refused(exchange: ccxt.Exchange) -> None:
    with pytest.raises(ccxt.BadRequest):
        exchange.fapiDataGetOpenInterestHist({"symbol": "ETHUSDT", "period": "7m"})
    with pytest.raises(ccxt.BadSymbol):
        exchange.fapiDataGetGlobalLongShortAccountRatio({"symbol": "NOPEUSDT", "period": "1h"})
