"""`VenueClock`: the runner's time from the venue's server time (ccxt `fetch_time`), not the local clock.

The unit tests drive a fake venue on a fake wall clock, so every figure is exact; the
integration tests read the simulated venue's market clock through the real ccxt client.
"""

from __future__ import annotations

import ccxt
import pytest

from quantdesk.core.errors import ConfigError, VenueError
from quantdesk.live.venue_clock import VenueClock

T0_MS = 1_711_756_800_000  # 2024-03-30 00:00 UTC: a venue's market clock in the past


class Wall:
    """A local monotonic clock the test moves by hand (seconds)."""

    def __init__(self) -> None:
        self.s = 1000.0

    def __call__(self) -> float:
        return self.s


class FakeVenue:
    """A venue whose server time runs `speed` times the wall clock from `start_ms` (a ccxt-like client)."""

    id = "fake"

    def __init__(self, wall: Wall, *, start_ms: int = T0_MS, speed: float = 60.0) -> None:
        self.wall, self.start_ms, self.speed, self.wall0 = wall, start_ms, speed, wall.s
        self.calls = 0
        self.down = False

    def fetch_time(self) -> int:
        self.calls += 1
        if self.down:
            raise ccxt.NetworkError("connection refused")
        return int(self.start_ms + (self.wall.s - self.wall0) * 1000 * self.speed)

    def restart(self, start_ms: int) -> None:
        self.start_ms, self.wall0 = start_ms, self.wall.s


def _clock(venue: FakeVenue, wall: Wall, **kw: object) -> VenueClock:
    return VenueClock(venue, wall=wall, start=False, **kw)  # type: ignore[arg-type]


def test_follows_a_venue_running_sixty_times_the_wall_clock_between_samples() -> None:
    wall = Wall()
    venue = FakeVenue(wall, speed=60.0)
    clock = _clock(venue, wall)
    assert clock.now_ms() == T0_MS  # the first sample, taken in the constructor
    wall.s += 1.0
    clock.sample()
    assert clock.rate == pytest.approx(60.0)
    calls = venue.calls
    wall.s += 0.5  # between samples: no request, the line moves on at the venue's rate
    assert clock.now_ms() == T0_MS + 90_000
    assert venue.calls == calls


def test_an_exchange_at_real_time_is_followed_whatever_the_local_clock_says() -> None:
    wall = Wall()
    wall.s = 5_000_000.0  # the local monotonic reading is arbitrary: only differences count
    venue = FakeVenue(wall, start_ms=1_780_000_000_000, speed=1.0)
    clock = _clock(venue, wall)
    for _ in range(3):
        wall.s += 1.0
        clock.sample()
    wall.s += 0.25
    assert clock.rate == pytest.approx(1.0)
    assert clock.now_ms() == venue.fetch_time()


def test_time_never_runs_backwards_when_the_venue_restarts_behind_what_it_said() -> None:
    wall = Wall()
    venue = FakeVenue(wall)
    clock = _clock(venue, wall)
    for _ in range(3):
        wall.s += 1.0
        clock.sample()
    said = clock.now_ms()
    venue.restart(T0_MS)  # a restarted simulated venue starts again at the same market time
    wall.s += 1.0
    clock.sample()
    assert clock.now_ms() == said  # it holds (ledger times stay ordered) ...
    wall.s += 1.0
    clock.sample()
    wall.s += 3.0
    clock.sample()
    assert clock.now_ms() > said  # ... until the venue's time passes what it said before
    assert clock.now_ms() == venue.fetch_time()


def test_a_venue_moved_forward_is_followed_at_once() -> None:
    wall = Wall()
    venue = FakeVenue(wall)
    clock = _clock(venue, wall)
    for _ in range(3):
        wall.s += 1.0
        clock.sample()
    venue.restart(venue.fetch_time() + 3_600_000)  # an operator advanced the venue by an hour
    wall.s += 1.0
    clock.sample()
    assert clock.now_ms() == venue.fetch_time()


def test_a_venue_that_does_not_answer_is_a_one_line_error_naming_it() -> None:
    wall = Wall()
    venue = FakeVenue(wall)
    venue.down = True
    with pytest.raises(VenueError, match=r"cannot read the time of venue 'fake'.*quantdesk venue serve"):
        _clock(venue, wall)


def test_while_the_venue_is_unreachable_the_clock_keeps_its_rate() -> None:
    wall = Wall()
    venue = FakeVenue(wall)
    clock = _clock(venue, wall)
    wall.s += 1.0
    clock.sample()
    venue.down = True
    with pytest.raises(VenueError):
        clock.sample()
    wall.s += 2.0
    venue.down = False
    assert clock.now_ms() == venue.fetch_time()


def test_a_venue_that_is_not_configured_is_named_with_the_fix(quantdesk_home: object) -> None:
    with pytest.raises(ConfigError, match=r"--venue-clock follows venue 'nowhere'.*quantdesk venue add"):
        VenueClock.for_venue("nowhere")


@pytest.mark.integration
def test_the_simulated_venue_serves_its_market_clock_as_server_time() -> None:
    """Through the real ccxt client: fetch_time is the venue's market time, not the wall clock."""
    from quantdesk.core.clock import ManualClock
    from quantdesk.venue import SimulatedVenue, binance_client
    from tests.live.conftest import candles

    frame = candles(300)
    market = ManualClock(int(frame["ts"][200].timestamp() * 1000) + 30_000)
    with SimulatedVenue({"BTC/USDT": frame}, clock=market) as venue:
        clock = VenueClock(binance_client(venue), start=False)
        assert clock.sample() == market.now_ms()
        venue.advance(by=5 * 60_000)
        assert clock.sample() == market.now_ms()
        assert abs(clock.now_ms() - market.now_ms()) < 60_000  # market time, not the wall clock (years ahead)


@pytest.mark.integration
def test_clock_from_env_builds_a_venue_clock_for_a_configured_venue(quantdesk_home: object) -> None:
    from pathlib import Path

    from quantdesk.core.clock import ManualClock
    from quantdesk.live.schedule import clock_from_env
    from quantdesk.venue import SimulatedVenue
    from tests.live.conftest import candles

    frame = candles(300)
    market = ManualClock(int(frame["ts"][100].timestamp() * 1000))
    with SimulatedVenue({"BTC/USDT": frame}, clock=market) as venue:
        Path(str(quantdesk_home), "quantdesk.toml").write_text(
            f'[venues.sim]\nexchange = "binance"\napi_url = "{venue.url}"\n')
        clock = clock_from_env("venue:sim")
        try:
            assert isinstance(clock, VenueClock) and clock.now_ms() >= market.now_ms()
            assert clock.now_ms() - market.now_ms() < 86_400_000  # market time, not the wall clock (years ahead)
        finally:
            clock.close()
