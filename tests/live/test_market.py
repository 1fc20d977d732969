"""The in-memory candle window equals what the lake holds, bar after bar, gaps and late bars included."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import polars as pl
import pytest

from tests.live.conftest import candles

STEP_MS = 60_000
WINDOW = 50


class FakeVenue:
    """The venue's closed candles from a frame; `withheld` bars are not published (yet)."""

    def __init__(self, frame: pl.DataFrame, clock: Any, history_bars: int = 120) -> None:
        self.frame = frame
        self.clock = clock
        self.history_bars = history_bars
        self.withheld: set[int] = set()
        self.calls = 0

    def fetch(self, symbol: str, since_ms: int, until_ms: int) -> tuple[np.ndarray, np.ndarray]:
        self.calls += 1
        now = self.clock.now_ms()
        until_ms = min(until_ms, now - now % STEP_MS)
        ts = pl.col("ts").cast(pl.Int64)
        rows = self.frame.filter((ts >= since_ms) & (ts < until_ms) & ~ts.is_in(sorted(self.withheld)))
        values = np.vstack([rows[c].to_numpy() for c in ("open", "high", "low", "close", "volume")])
        return rows["ts"].cast(pl.Int64).to_numpy().astype(np.float64), values


class CountingLake:
    """A lake whose `candles` reads are counted (the hot path should not read Parquet)."""

    def __init__(self, lake: Any) -> None:
        self.inner, self.reads = lake, 0

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)

    def candles(self, *args: Any, **kwargs: Any) -> pl.DataFrame:
        self.reads += 1
        return self.inner.candles(*args, **kwargs)


def _ms(frame: pl.DataFrame, i: int) -> int:
    return int(frame["ts"][i].timestamp() * 1000)


@pytest.fixture
def setup(tmp_path: Path) -> dict[str, Any]:
    from quantdesk.core.clock import ManualClock
    from quantdesk.lake import Lake

    frame = candles(600, seed=11)
    clock = ManualClock(_ms(frame, 200))
    lake = Lake(tmp_path / "lake", clock=clock)
    lake.write(frame.head(200), exchange="sim", symbol="BTC/USDT", timeframe="1m")  # history before the run
    return {"frame": frame, "clock": clock, "lake": lake}


def _lake_window(lake: Any, bar_ms: int) -> pl.DataFrame:
    start = bar_ms - (WINDOW - 1) * STEP_MS
    return lake.candles("BTC/USDT", "1m", start=start, end=bar_ms + STEP_MS, exchange="sim")


def test_window_equals_the_lake_over_many_bars_with_gaps_late_bars_and_other_writers(setup: dict[str, Any]) -> None:
    from quantdesk.live.market import LakeMarket

    frame, clock, lake = setup["frame"], setup["clock"], setup["lake"]
    counting = CountingLake(lake)
    venue = FakeVenue(frame.filter(~pl.col("ts").cast(pl.Int64).is_in([_ms(frame, i) for i in range(300, 305)])),
                      clock)
    market = LakeMarket(counting, exchange="sim", symbols=("BTC/USDT",), timeframe="1m", updater=venue)
    late = _ms(frame, 350)
    steady_reads = []
    for i in range(200, 520):
        bar_ms = _ms(frame, i)
        clock.set(bar_ms + STEP_MS)  # the bar just closed
        if i == 350:
            venue.withheld.add(late)  # published a moment late: the first look misses it
        before = counting.reads
        market.refresh(bar_ms)
        seen = market.window(bar_ms, WINDOW)["BTC/USDT"]
        if i == 350:
            assert seen["ts"].cast(pl.Int64)[-1] != bar_ms  # stale: the runner fails closed on this
            venue.withheld.discard(late)
            market.refresh(bar_ms)  # the runner's retry
            seen = market.window(bar_ms, WINDOW)["BTC/USDT"]
        if i == 400:  # another writer (an operator's `quantdesk ingest`) fills the venue's gap late
            lake.write(frame.slice(300, 5), exchange="sim", symbol="BTC/USDT", timeframe="1m")
        if i == 450:  # and another corrects a bar inside the window
            fixed = frame.slice(430, 1).with_columns(pl.col("volume") * 2)
            lake.write(fixed, exchange="sim", symbol="BTC/USDT", timeframe="1m")
        if i in (400, 450):
            seen = market.window(bar_ms, WINDOW)["BTC/USDT"]
        market.flush()
        if i > 205 and i not in (400, 450):
            steady_reads.append(counting.reads - before)
        # what the decision saw is what the lake holds once the bar is written
        assert seen.equals(_lake_window(lake, bar_ms)), f"bar {i}"
        assert seen.equals(market.window(bar_ms, WINDOW)["BTC/USDT"])
    assert sum(steady_reads) == 0  # no Parquet read on the hot path while nobody else writes
    held = lake.candles("BTC/USDT", "1m", exchange="sim")
    assert held["ts"].is_unique().all() and len(held) == 520
    assert held.filter(pl.col("ts") == frame["ts"][430])["volume"].item() == frame["volume"][430] * 2


def test_window_without_updater_reads_new_bars_written_by_someone_else(setup: dict[str, Any]) -> None:
    from quantdesk.live.market import LakeMarket

    frame, clock, lake = setup["frame"], setup["clock"], setup["lake"]
    market = LakeMarket(lake, exchange="sim", symbols=("BTC/USDT",), timeframe="1m")
    bar_ms = _ms(frame, 200)
    clock.set(bar_ms + STEP_MS)
    assert market.window(bar_ms, WINDOW)["BTC/USDT"]["ts"].cast(pl.Int64)[-1] == _ms(frame, 199)  # not yet there
    lake.write(frame.slice(200, 1), exchange="sim", symbol="BTC/USDT", timeframe="1m")
    assert market.window(bar_ms, WINDOW)["BTC/USDT"].equals(_lake_window(lake, bar_ms))


def test_candle_window_upsert_matches_a_sorted_unique_merge() -> None:
    from quantdesk.live.window import CandleWindow

    rng = np.random.default_rng(3)
    window = CandleWindow(loaded_from_ms=0, capacity=8)
    expected: dict[int, np.ndarray] = {}
    for _ in range(200):
        ts = np.unique(rng.integers(0, 400, size=rng.integers(1, 6))) * STEP_MS
        values = rng.uniform(1, 2, size=(5, len(ts)))
        window.upsert(ts, values)
        # rows older than what the window holds are ignored, as the lake's older rows are not its business
        expected.update({int(t): values[:, k] for k, t in enumerate(ts) if t >= window.loaded_from_ms})
        if rng.uniform() < 0.2:
            cut = int(rng.integers(0, 200)) * STEP_MS
            window.trim(cut)
            expected = {t: v for t, v in expected.items() if t >= window.loaded_from_ms}
    got = window.frame(0, 10**12)
    keys = sorted(expected)
    assert got["ts"].cast(pl.Int64).to_list() == keys
    np.testing.assert_array_equal(got["close"].to_numpy(), [expected[t][3] for t in keys])


def test_rows_the_fast_check_calls_clean_are_rows_the_lake_keeps() -> None:
    from quantdesk.lake.validation import normalise, validate
    from quantdesk.live.feed import clean_rows, rows_frame

    rng = np.random.default_rng(5)
    base = 28_333_333 * STEP_MS  # on the 1m grid
    now_ms = base + STEP_MS
    clean = refused = 0
    for _ in range(400):
        n = int(rng.integers(1, 4))
        ts = (base - 10 * STEP_MS + STEP_MS * np.cumsum(rng.integers(1, 4, n))).astype(np.float64)
        close = rng.uniform(90, 110, n)
        values = np.vstack([close, close * 1.01, close * 0.99, close, rng.uniform(0, 5, n)])
        k = int(rng.integers(0, 9))  # break one rule (or none) the way a venue might
        j = int(rng.integers(0, n))
        if k == 1:
            values[int(rng.integers(0, 4)), j] = rng.choice([np.nan, 0.0, -1.0, np.inf])
        elif k == 2:
            values[1, j] = values[2, j] * 0.5  # high below low
        elif k == 3:
            values[4, j] = rng.choice([np.nan, -1.0])
        elif k == 4:
            ts[j] += 1_000  # off the grid
        elif k == 5:
            ts[j] = now_ms  # still open
        elif k == 6:
            ts[j] = np.nan
        elif k == 7 and n > 1:
            ts[-1] = ts[0]  # a repeated open time
        good, bad = validate(normalise(rows_frame(ts, values)), tf_ms=STEP_MS, offset_ms=0, now_ms=now_ms)
        if clean_rows(ts, values, tf_ms=STEP_MS, offset_ms=0, now_ms=now_ms):
            clean += 1
            assert bad.is_empty() and len(good) == n
        else:
            refused += 1
    assert clean > 50 and refused > 50


def test_venue_candles_pages_through_a_ccxt_client_and_bad_rows_never_reach_memory(setup: dict[str, Any]) -> None:
    from quantdesk.live.feed import VenueCandles
    from quantdesk.live.market import LakeMarket

    frame, clock, lake = setup["frame"], setup["clock"], setup["lake"]

    class Client:  # what VenueCandles needs of a ccxt exchange
        id, has, timeframes, features = "fake", {"fetchOHLCV": True}, {"1m": "1m"}, {}
        rows = [[_ms(frame, i), *[float(frame[c][i]) for c in ("open", "high", "low", "close", "volume")]]
                for i in range(len(frame))]

        def load_markets(self) -> dict[str, Any]:
            return {"BTC/USDT": {"symbol": "BTC/USDT", "type": "spot"}}

        def fetch_ohlcv(self, symbol: str, timeframe: str, since: int = 0, limit: int = 500) -> list[list[Any]]:
            out = [list(r) for r in self.rows if r[0] >= since][:7]  # small pages
            for r in out:
                if r[0] == _ms(frame, 230):
                    r[2] = r[3] / 2  # high below low: the lake quarantines it
            return out

    venue = VenueCandles(Client(), timeframe="1m", clock=clock, history_bars=40)
    market = LakeMarket(lake, exchange="sim", symbols=("BTC/USDT",), timeframe="1m", updater=venue)
    clock.set(_ms(frame, 200) + STEP_MS)
    market.refresh(_ms(frame, 200))
    clock.set(_ms(frame, 240) + STEP_MS)  # 40 bars at once: several pages
    market.refresh(_ms(frame, 240))
    seen = market.window(_ms(frame, 240), WINDOW)["BTC/USDT"]
    market.flush()
    assert frame["ts"][230] not in seen["ts"].to_list() and seen["ts"][-1] == frame["ts"][240]
    assert seen.equals(_lake_window(lake, _ms(frame, 240)))
    assert len(lake.quarantine()) == 1


def test_runner_on_the_in_memory_window_fails_closed_while_the_venue_withholds_the_bar(
        setup: dict[str, Any], flip_strategy: str) -> None:
    from quantdesk.broker import GatedBroker, PaperBroker
    from quantdesk.ledger import Ledger
    from quantdesk.live import Runner, RunSpec
    from quantdesk.live.market import LakeMarket
    from quantdesk.risk import RiskConfig, RiskGate

    frame, clock, lake = setup["frame"], setup["clock"], setup["lake"]
    venue = FakeVenue(frame, clock)
    market = LakeMarket(lake, exchange="sim", symbols=("BTC/USDT",), timeframe="1m", updater=venue)
    spec = RunSpec(name="flip-mem", strategy=flip_strategy, params={"period": 1}, symbols=("BTC/USDT",),
                   timeframe="1m", capital=10_000.0, window_bars=WINDOW)
    with Ledger(f"sqlite:///{lake.root.parent / 'ledger.db'}", clock=clock) as ledger:
        gated = GatedBroker(PaperBroker(name="paper", clock=clock), ledger,
                            RiskGate(RiskConfig.from_dict({}), clock, ledger), venue="paper", clock=clock)
        runner = Runner(spec, ledger=ledger, gated=gated, market=market, clock=clock, reconcile_every_bar=False,
                        stale_retries=2, sleep=lambda _s: None)
        runner.start()
        outcomes = []
        for i in range(200, 206):
            clock.set(_ms(frame, i) + STEP_MS)
            if i == 203:
                venue.withheld.add(_ms(frame, i))  # never published in time
            outcomes.append(runner.step(_ms(frame, i)))
        assert [o.ok for o in outcomes] == [True, True, True, False, True, True]
        assert outcomes[3].skipped == "RUNNER_STALE_DATA" and not outcomes[3].orders
        assert sum(len(o.orders) for o in outcomes) >= 3  # period 1: the target flips every bar
        assert [e.code for e in ledger.risk_events(deployment="flip-mem")] == ["RUNNER_STALE_DATA"]
        # the lake holds what the venue published, the withheld bar missing, as memory did
        held = lake.candles("BTC/USDT", "1m", start=frame["ts"][200], exchange="sim")["ts"].to_list()
        assert held == [frame["ts"][i] for i in (200, 201, 202, 204, 205)]
