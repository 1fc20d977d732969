"""Bar closes on an injected clock: when the next bar closes, and waiting for it.

A bar is named by its open time (the candle contract); it closes at `open + timeframe`.
`ScaledClock` runs market time faster than the wall clock, for rehearsals against the
simulated venue (`QUANTDESK_CLOCK=scaled:START_MS:WALL0_MS:SPEED`); `QUANTDESK_CLOCK=venue:NAME`
follows a venue's own server time instead (`quantdesk.live.venue_clock`, what
`quantdesk run --venue-clock` uses).
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime

from quantdesk.core.clock import Clock, SystemClock
from quantdesk.core.errors import ConfigError
from quantdesk.core.timeframes import timeframe_ms

__all__ = ["BarScheduler", "ScaledClock", "clock_from_env", "last_closed_bar_ms"]

CLOCK_ENV = "QUANTDESK_CLOCK"


def last_closed_bar_ms(now_ms: int, step_ms: int) -> int:
    """Return the open time of the newest bar that has closed at `now_ms`."""
    return now_ms - now_ms % step_ms - step_ms


class ScaledClock:
    """Market time that runs `speed` times faster than the wall clock, from `start_ms` at `wall0_ms`."""

    def __init__(self, start_ms: int, wall0_ms: int, speed: float) -> None:
        if speed <= 0:
            raise ConfigError(f"a scaled clock needs a positive speed, got {speed}")
        self.start_ms, self.wall0_ms, self.speed = start_ms, wall0_ms, speed

    def now_ms(self) -> int:
        return self.start_ms + int((time.time() * 1000 - self.wall0_ms) * self.speed)

    def now(self) -> datetime:
        return datetime.fromtimestamp(self.now_ms() / 1000, UTC)

    def spec(self) -> str:
        """Return the `QUANTDESK_CLOCK` value that rebuilds this clock in another process."""
        return f"scaled:{self.start_ms}:{self.wall0_ms}:{self.speed}"


def clock_from_env(value: str | None = None) -> Clock:
    """Return the clock named by `value` or `$QUANTDESK_CLOCK`: `system` (default), `scaled:...` or `venue:NAME`."""
    value = value if value is not None else os.environ.get(CLOCK_ENV, "system")
    if value in ("", "system"):
        return SystemClock()
    kind, _, rest = value.partition(":")
    if kind == "venue" and rest:
        from quantdesk.live.venue_clock import VenueClock

        return VenueClock.for_venue(rest)
    if kind == "scaled":
        try:
            start, wall0, speed = rest.split(":")
            return ScaledClock(int(start), int(wall0), float(speed))
        except ValueError:
            pass
    raise ConfigError(f"{CLOCK_ENV}={value!r} is not a clock: use 'system', 'venue:NAME' or "
                      "'scaled:START_MS:WALL0_MS:SPEED'")


class BarScheduler:
    """Wait for bar closes of one timeframe on `clock`, polling so any clock (scaled, manual) works."""

    def __init__(
        self,
        clock: Clock,
        timeframe: str,
        *,
        sleep: Callable[[float], None] = time.sleep,
        poll_s: float = 0.02,
    ) -> None:
        self.clock = clock
        self.step_ms = timeframe_ms(timeframe)
        self._sleep = sleep
        self.poll_s = poll_s

    def last_closed(self) -> int:
        """Return the open time of the newest closed bar now."""
        return last_closed_bar_ms(self.clock.now_ms(), self.step_ms)

    def wait_after(self, bar_ms: int | None, stop: threading.Event | None = None) -> int | None:
        """Block until a bar newer than `bar_ms` has closed; return its open time (None when stopped)."""
        while stop is None or not stop.is_set():
            newest = self.last_closed()
            if bar_ms is None or newest > bar_ms:
                return newest
            remaining_ms = bar_ms + 2 * self.step_ms - self.clock.now_ms()
            self._sleep(max(0.001, min(self.poll_s, remaining_ms / 1000)))
        return None
