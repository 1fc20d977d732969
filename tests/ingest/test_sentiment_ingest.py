"""Market sentiment through the real ccxt `binanceusdm` client against the simulated venue.

The venue derives taker buy volume, open interest and the long/short account ratio from its
candles by the rules in `quantdesk.venue.sentiment`; the tests recompute the taker split from the
candles independently, check that what ingest stores is what the venue answered over HTTP, and
that a second ingest fetches only the new points.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import polars as pl
import pytest
from typer.testing import CliRunner

from quantdesk.cli import app
from quantdesk.core.clock import ManualClock
from quantdesk.core.errors import IngestError
from quantdesk.core.settings import VenueConfig
from quantdesk.ingest import RetryPolicy, ingest_sentiment
from quantdesk.lake import Lake, list_series
from quantdesk.venue import SimulatedVenue

pytestmark = pytest.mark.integration

SYMBOL = "BTC/USDT:USDT"
T0 = datetime(2024, 1, 1, tzinfo=UTC)
DAYS = 40
NOW = T0 + timedelta(days=35, hours=0, minutes=30)  # mid-bar: the 00:00 bar of day 35 is still forming
RETRY = RetryPolicy(max_attempts=2, initial_backoff_s=0.01)


def _candles() -> pl.DataFrame:
    rng = np.random.default_rng(27)
    n = DAYS * 24
    close = 40_000 * np.exp(np.cumsum(rng.normal(0, 4e-3, n)))
    open_ = np.concatenate([[40_000.0], close[:-1]])
    wick = np.abs(rng.normal(0, 40, n))
    return pl.DataFrame({
        "ts": pl.datetime_range(T0, T0 + timedelta(hours=n - 1), "1h", time_zone="UTC", eager=True),
        "open": open_.round(1), "high": (np.maximum(open_, close) + wick).round(1),
        "low": (np.minimum(open_, close) - wick).round(1), "close": close.round(1),
        "volume": rng.uniform(50, 500, n).round(3),
    }).with_columns(pl.col("ts").dt.cast_time_unit("ms"))


@pytest.fixture
def venue() -> Iterator[SimulatedVenue]:
    candles = _candles()
    with SimulatedVenue({"BTC/USDT": candles}, clock=ManualClock(NOW), timeframe="1h",
                        perpetuals={SYMBOL: {"candles": candles}}) as running:
        yield running


def _ingest(venue: SimulatedVenue, lake: Lake, since: str = "2024-01-01") -> dict[str, object]:
    reports = ingest_sentiment(VenueConfig(exchange="binanceusdm", api_url=venue.url), SYMBOL, "1h", since,
                               lake=lake, clock=ManualClock(datetime(2030, 1, 1, tzinfo=UTC)), retry=RETRY,
                               lake_exchange="binanceusdm")
    return {r.kind: r for r in reports}


def _series(lake: Lake, name: str) -> pl.DataFrame:
    return lake.numeric.read(name, exchange="binanceusdm", symbol=SYMBOL)


def test_sentiment_ingest_stores_what_the_venue_serves_and_resumes(venue: SimulatedVenue, tmp_path: Path) -> None:
    lake = Lake(tmp_path / "lake")
    first = _ingest(venue, lake)
    oi, ls, taker = first["open_interest"], first["long_short_ratio"], first["taker_volume"]
    # statistics: 30 days before the venue's clock (Binance's window), hourly snapshots up to the clock
    assert oi.note and "keeps open interest for 30 days" in oi.note and oi.period == "1h"
    assert oi.first_ts == datetime(2024, 1, 6, 1, tzinfo=UTC) and oi.last_ts == datetime(2024, 2, 5, tzinfo=UTC)
    assert (oi.fetched, ls.fetched) == (720, 720)
    # taker volume: every closed bar from --since (klines are not limited to 30 days); the forming bar is not stored
    assert (taker.first_ts, taker.last_ts, taker.fetched) == (T0, datetime(2024, 2, 4, 23, tzinfo=UTC), 35 * 24)

    candles = _candles().filter(pl.col("ts") < datetime(2024, 2, 5, tzinfo=UTC))
    span = candles["high"] - candles["low"]
    share = 0.5 + 0.4 * ((candles["close"] - candles["open"]) / span).fill_nan(0.0)
    expected_buy = (candles["volume"] * share).round(6)
    buy, sell = _series(lake, "taker_buy_volume_1h"), _series(lake, "taker_sell_volume_1h")
    assert buy["ts"].equals(candles["ts"]) and buy["value"].to_list() == expected_buy.to_list()
    assert np.allclose(buy["value"] + sell["value"], candles["volume"], rtol=0, atol=1e-6)
    assert np.allclose(_series(lake, "taker_buy_share_1h")["value"], share.to_numpy(), atol=1e-6)

    book = venue.api.usdm.perpetuals[SYMBOL].sentiment
    stored_oi = _series(lake, "open_interest")
    at = np.searchsorted(book.ts, stored_oi["ts"].dt.epoch("ms").to_numpy())
    assert stored_oi["value"].to_list() == [float(f"{v:.8f}") for v in book.oi_amount[at]]
    ratio = _series(lake, "long_short_ratio")["value"].to_numpy()
    assert np.allclose(ratio, book.long_account[at] / (1 - book.long_account[at]), atol=1e-4)
    assert _series(lake, "open_interest_value").height == 720

    # resume: five more hours on the venue; only the new points are asked for and stored
    venue.advance(by=timedelta(hours=5))
    before = venue.request_count("openInterestHist")
    second = _ingest(venue, lake)
    assert venue.request_count("openInterestHist") - before == 1
    assert [second[k].fetched for k in ("open_interest", "long_short_ratio", "taker_volume")] == [5, 5, 5]
    assert second["open_interest"].resumed_from == datetime(2024, 2, 5, tzinfo=UTC)
    assert second["taker_volume"].resumed_from == datetime(2024, 2, 4, 23, tzinfo=UTC)
    assert (second["taker_volume"].inserted, second["taker_volume"].updated) == (5, 0)
    third = _ingest(venue, lake)
    assert [third[k].fetched for k in ("open_interest", "long_short_ratio", "taker_volume")] == [0, 0, 0]
    assert _series(lake, "open_interest").height == 725


def test_sentiment_of_a_spot_symbol_is_refused_naming_the_perpetual(venue: SimulatedVenue, tmp_path: Path) -> None:
    with pytest.raises(IngestError, match=r"no market 'BTC/USDT': did you mean BTC/USDT:USDT"):
        ingest_sentiment(VenueConfig(exchange="binanceusdm", api_url=venue.url), "BTC/USDT", "1h", "2024-01-01",
                         lake=Lake(tmp_path / "l"), retry=RETRY)


def test_cli_ingest_sentiment(venue: SimulatedVenue, quantdesk_home: Path) -> None:
    (quantdesk_home / "quantdesk.toml").write_text(f'[venues.usdm]\nexchange = "binanceusdm"\napi_url = "{venue.url}"\n')
    out = CliRunner().invoke(app, ["ingest", "--exchange", "usdm", "--symbol", SYMBOL, "--timeframe", "1h",
                                   "--since", "2024-02-01", "--sentiment", "--json"])
    assert out.exit_code == 0, out.output
    payload = json.loads(out.stdout)
    assert [r["kind"] for r in payload["sentiment"]] == ["open_interest", "long_short_ratio", "taker_volume"]
    assert payload["sentiment"][2]["series"] == ["taker_buy_volume_1h", "taker_sell_volume_1h", "taker_buy_share_1h"]
    assert payload["reports"][0]["symbol"] == SYMBOL  # the candles themselves, as without --sentiment
    assert [name for _e, _s, name in list_series(Lake(), "usdm", SYMBOL)] == [
        "long_short_ratio", "open_interest", "open_interest_value", "taker_buy_share_1h", "taker_buy_volume_1h",
        "taker_sell_volume_1h"]
