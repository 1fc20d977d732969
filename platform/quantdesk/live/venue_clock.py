"""The venue's time as the runner's clock: bars close when the venue says so (`quantdesk run --venue-clock`).

An exchange stamps its candles in its own server time. Following that time instead of the
local clock keeps a runner whose machine clock is off (by seconds, or by the hour of a wrong
time zone) from asking for bars that have not closed yet, or asking late. A simulated venue's
server time is its market clock: it may stand in 2024 and run 60 times faster than the wall
clock (`quantdesk venue serve --speed 60`). Following it, a paper deployment trades the
venue's bars as they close, one a second.

`VenueClock` asks the venue (ccxt `fetch_time`, on a client of its own) every `resync_s` in a
background thread, and answers `now_ms()` without a request: the least-squares line through
the recent samples, so time moves on between samples at the rate the venue's clock is seen
to run (1 for an exchange, the speed for a simulated venue). Time never runs backwards. A
sample far off the line (the venue restarted, or its clock was moved) starts a new line.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from quantdesk.core.errors import ConfigError, VenueError

__all__ = ["VenueClock"]

log = logging.getLogger(__name__)

_WARMUP_SAMPLES = 4  # sampled four times faster until the line has this many points


class VenueClock:
    """Time as the venue tells it (ccxt `fetch_time`), sampled in the background and followed between samples.

    `exchange`: a ccxt client used by this clock only (ccxt clients are not shared across
    threads). The first sample is taken in the constructor, so a venue that does not answer
    is an error at once. `wall`: the local monotonic seconds the samples are placed on.
    """

    def __init__(self, exchange: Any, *, venue: str = "", resync_s: float = 1.0, samples: int = 12,
                 jump_ms: int = 5_000, wall: Callable[[], float] = time.monotonic, start: bool = True) -> None:
        if resync_s <= 0:
            raise ConfigError(f"a venue clock needs a positive resync interval, got {resync_s}")
        self.exchange = exchange
        self.venue = venue or str(getattr(exchange, "id", "venue"))
        self.resync_s = resync_s
        self.jump_ms = jump_ms
        self._wall = wall
        self._points: deque[tuple[float, float]] = deque(maxlen=max(2, samples))  # (wall s, venue ms)
        self._line = (0.0, 0.0, 1000.0)  # (wall s, venue ms, venue ms per wall s) through the points
        self._lock = threading.Lock()
        self._last_ms = 0
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.samples_taken = 0
        self.failures = 0
        self.sample()
        if start:
            self.start()

    @classmethod
    def for_venue(cls, name: str, **options: Any) -> VenueClock:
        """Return the clock of venue `name` (a venue in quantdesk.toml, or a ccxt exchange id).

        Its client carries no keys: the server time is public.
        """
        from quantdesk.ingest.exchange import make_exchange, resolve_venue

        try:
            _, config = resolve_venue(name)
        except ConfigError as e:
            raise ConfigError(f"--venue-clock follows venue {name!r}'s time, and {e}") from None
        config = config.model_copy(update={"key_env": None, "secret_env": None, "password_env": None})
        return cls(make_exchange(config, timeout_ms=5_000), venue=name, **options)

    # -- the Clock protocol ----------------------------------------------------------------------
    def now_ms(self) -> int:
        """Return the venue's time now, in epoch ms, from the samples (no request)."""
        wall = self._wall()
        with self._lock:
            at, venue_ms, rate = self._line
            ms = max(self._last_ms, int(venue_ms + rate * (wall - at)))
            self._last_ms = ms
            return ms

    def now(self) -> datetime:
        return datetime.fromtimestamp(self.now_ms() / 1000, UTC)

    @property
    def rate(self) -> float:
        """How many venue seconds pass per wall second, as the samples show (1.0 until there are two)."""
        with self._lock:
            return self._line[2] / 1000

    # -- sampling ----------------------------------------------------------------------------------
    def sample(self) -> int:
        """Ask the venue for its time now, add it to the line and return it; VenueError when it does not answer."""
        import ccxt

        before = self._wall()
        try:
            server_ms = self.exchange.fetch_time()
        except ccxt.BaseError as e:
            raise VenueError(f"cannot read the time of venue {self.venue!r} ({type(e).__name__}: {e}); "
                             "is it reachable (for a simulated venue: is `quantdesk venue serve` running)?") from e
        if not isinstance(server_ms, int | float):
            raise VenueError(f"venue {self.venue!r} answered its time with {server_ms!r}, not epoch milliseconds")
        wall = (before + self._wall()) / 2  # the answer was made between the two readings
        self._add(wall, float(server_ms))
        self.samples_taken += 1
        return int(server_ms)

    def _add(self, wall: float, venue_ms: float) -> None:
        with self._lock:
            at, base, rate = self._line
            # a jump is judged once two points gave a rate (before, a venue running 60x looks like one)
            off = venue_ms - (base + rate * (wall - at))
            if len(self._points) >= 2 and abs(off) > max(self.jump_ms, rate * self.resync_s):
                log.warning("the time of venue %s jumped (%.0f ms off the expected): following it from here",
                            self.venue, off)
                self._points.clear()  # moved back: now_ms() holds until the venue's time passes what it said
            self._points.append((wall, venue_ms))
            self._line = _fit(self._points, rate)

    def start(self) -> VenueClock:
        """Sample in a background thread until `close()`."""
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name=f"venue-clock:{self.venue}", daemon=True)
            self._thread.start()
        return self

    def _run(self) -> None:
        while not self._stop.wait(self.resync_s / (4 if len(self._points) < _WARMUP_SAMPLES else 1)):
            try:
                self.sample()
                self.failures = 0
            except VenueError as e:  # keep following the line; the runner's stale-data rule guards the bars
                self.failures += 1
                if self.failures == 1:
                    log.warning("%s; following the last known rate meanwhile", e)

    def close(self) -> None:
        """Stop sampling."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10)
            self._thread = None

    def __enter__(self) -> VenueClock:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _fit(points: deque[tuple[float, float]], rate: float) -> tuple[float, float, float]:
    """Return the least-squares line (wall s, venue ms, venue ms per wall s) through `points`.

    One point keeps the previous rate (1000 ms per second at first); a rate below zero is noise
    and reads as a stopped clock.
    """
    n = len(points)
    mean_wall = sum(w for w, _ in points) / n
    mean_venue = sum(v for _, v in points) / n
    spread = sum((w - mean_wall) ** 2 for w, _ in points)
    if n >= 2 and spread > 1e-9:
        rate = max(0.0, sum((w - mean_wall) * (v - mean_venue) for w, v in points) / spread)
    return mean_wall, mean_venue, rate
