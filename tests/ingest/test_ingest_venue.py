"""Integration: the real ccxt.binance client (URLs rewritten by make_exchange) against the simulated venue."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import polars as pl
import pytest

from quantdesk.core.clock import ManualClock
from quantdesk.core.errors import ExchangeUnavailableError, IngestError
from quantdesk.core.settings import VenueConfig
from quantdesk.ingest import RetryPolicy, ingest, make_exchange
from quantdesk.lake import Lake
from quantdesk.venue import FaultKind, SimulatedVenue

pytestmark = pytest.mark.integration

T0 = datetime(2024, 1, 1, tzinfo=UTC)
BARS = 2_500  # three pages of Binance's 1000-candle maximum


def _candles(n: int = BARS, seed: int = 7) -> pl.DataFrame:
    rng = np.random.default_rng(seed)
    close = 40_000 * np.exp(np.cumsum(rng.normal(0, 1e-3, n)))
    open_ = np.concatenate([[40_000.0], close[:-1]])
    spread = np.abs(rng.normal(0, 5, n))
    return pl.DataFrame(
        {
            "ts": pl.datetime_range(
                T0, T0 + timedelta(minutes=n - 1), "1m", time_zone="UTC", eager=True
            ),
            "open": open_.round(2),
            "high": (np.maximum(open_, close) + spread).round(2),
            "low": (np.minimum(open_, close) - spread).round(2),
            "close": close.round(2),
            "volume": rng.uniform(1, 10, n).round(4),
        }
    ).with_columns(pl.col("ts").dt.cast_time_unit("ms"))


class _Sleeps(list[float]):
    """A fake sleep that records how long it was asked to wait."""

    def __call__(self, seconds: float) -> None:
        self.append(seconds)


@pytest.fixture
def source() -> pl.DataFrame:
    return _candles()


@pytest.fixture
def clock() -> ManualClock:
    # Half-way through the last bar: the venue shows it, but it is still open.
    return ManualClock(T0 + timedelta(minutes=BARS - 1, seconds=30))


@pytest.fixture
def venue(source: pl.DataFrame, clock: ManualClock):
    with SimulatedVenue({"BTC/USDT": source}, clock=clock) as running:
        yield running


@pytest.fixture
def lake(tmp_path: Path, clock: ManualClock) -> Lake:
    return Lake(tmp_path / "lake", clock=clock)


def _run(
    venue: SimulatedVenue, lake: Lake, clock: ManualClock, sleeps: _Sleeps | None = None, **kwargs
):
    exchange = make_exchange(
        VenueConfig(exchange="binance", api_url=venue.url),
        timeout_ms=kwargs.pop("timeout_ms", 5_000),
    )
    policy = RetryPolicy(
        max_attempts=kwargs.pop("max_attempts", 5),
        initial_backoff_s=0.01,
        sleep=_Sleeps() if sleeps is None else sleeps,
    )
    return ingest(
        exchange,
        "BTC/USDT",
        "1m",
        T0,
        lake=lake,
        clock=clock,
        retry=policy,
        lake_exchange="sim",
        **kwargs,
    )


def _klines_starts(venue: SimulatedVenue) -> list[int]:
    return [int(r.params["startTime"]) for r in venue.request_log if r.path.endswith("/klines")]


def test_paginates_and_drops_the_open_candle(
    venue: SimulatedVenue, lake: Lake, clock: ManualClock, source: pl.DataFrame
) -> None:
    [report] = _run(venue, lake, clock)
    assert report.fetched == BARS - 1  # the last bar is still open at the clock's time
    assert report.pages == 3 and venue.request_count("klines") == 3
    assert report.inserted == BARS - 1 and report.quarantined == 0
    stored = lake.candles("BTC/USDT", "1m", exchange="sim")
    assert stored.equals(source.head(BARS - 1))


def test_resumes_after_the_last_stored_candle(
    venue: SimulatedVenue, lake: Lake, clock: ManualClock
) -> None:
    [first] = _run(venue, lake, clock, until=T0 + timedelta(minutes=1_500))
    assert (first.fetched, first.resumed_from) == (1_500, None)
    [second] = _run(venue, lake, clock)
    assert second.resumed_from == T0 + timedelta(minutes=1_499)
    assert second.fetched == BARS - 1 - 1_500 and second.unchanged == 0
    resumed_start = int((T0 + timedelta(minutes=1_500)).timestamp() * 1000)
    assert _klines_starts(venue)[-1] == resumed_start  # the second run needed one request
    assert lake.candles("BTC/USDT", "1m", exchange="sim").height == BARS - 1


def test_retries_network_errors_and_honours_retry_after(
    venue: SimulatedVenue, lake: Lake, clock: ManualClock
) -> None:
    venue.inject(FaultKind.RATE_LIMIT, "klines", retry_after_s=3)
    venue.inject(FaultKind.SERVER_ERROR, "klines", status=503)
    venue.inject(FaultKind.TIMEOUT, "klines", delay_s=3.0)
    sleeps = _Sleeps()
    # 1.5 s: a loaded 2-core CI box can take longer than 0.4 s to answer a healthy request
    [report] = _run(venue, lake, clock, sleeps, timeout_ms=1500)
    assert report.fetched == BARS - 1
    assert venue.request_count("klines") == 3 + 3  # every fault cost exactly one extra request
    assert len(sleeps) == 3 and 3.0 in sleeps  # Retry-After wins over the 10 ms backoff
    assert sorted(sleeps)[:2] == pytest.approx([0.02, 0.04])  # exponential backoff for the others


def test_gives_up_after_the_configured_attempts(
    venue: SimulatedVenue, lake: Lake, clock: ManualClock
) -> None:
    venue.inject(FaultKind.SERVER_ERROR, "klines", status=502, times=10)
    with pytest.raises(ExchangeUnavailableError, match="after 3 attempts"):
        _run(venue, lake, clock, max_attempts=3)
    assert venue.request_count("klines") == 3


def test_malformed_payload_is_not_retried_and_a_rerun_resumes(
    venue: SimulatedVenue, lake: Lake, clock: ManualClock
) -> None:
    _run(venue, lake, clock, until=T0 + timedelta(minutes=1_000))
    venue.inject(FaultKind.MALFORMED, "klines")
    sleeps = _Sleeps()
    with pytest.raises(IngestError, match="malformed"):
        _run(venue, lake, clock, sleeps)
    assert sleeps == [] and venue.request_count("klines") == 2
    [report] = _run(venue, lake, clock)
    assert report.resumed_from == T0 + timedelta(minutes=999)
    assert lake.candles("BTC/USDT", "1m", exchange="sim").height == BARS - 1


def test_unknown_symbol_fails_without_retries(
    venue: SimulatedVenue, lake: Lake, clock: ManualClock
) -> None:
    exchange = make_exchange(VenueConfig(exchange="binance", api_url=venue.url))
    with pytest.raises(IngestError, match="no market 'BTC/USDC'"):
        ingest(
            exchange,
            ["BTC/USDC"],
            "1m",
            T0,
            lake=lake,
            clock=clock,
            retry=RetryPolicy(sleep=_Sleeps()),
        )
    assert venue.request_count("klines") == 0
