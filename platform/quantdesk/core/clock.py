"""Injected clocks: library code never calls `datetime.now()` directly, so replay and tests control time."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta
from typing import Protocol

__all__ = ["Clock", "ManualClock", "SystemClock", "ensure_utc"]


def ensure_utc(value: datetime) -> datetime:
    """Return `value` as a tz-aware UTC datetime; naive datetimes are taken to be UTC."""
    if value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value.astimezone(UTC)


class Clock(Protocol):
    """Anything that tells the current UTC time."""

    def now(self) -> datetime: ...

    def now_ms(self) -> int: ...


class SystemClock:
    """The wall clock, in UTC."""

    def now(self) -> datetime:
        return datetime.now(UTC)

    def now_ms(self) -> int:
        return int(self.now().timestamp() * 1000)


class ManualClock:
    """A clock that moves only when told to; thread-safe, for replay and tests."""

    def __init__(self, start: datetime | int = 0) -> None:
        self._lock = threading.Lock()
        self._ms = start if isinstance(start, int) else int(ensure_utc(start).timestamp() * 1000)

    def now(self) -> datetime:
        return datetime.fromtimestamp(self.now_ms() / 1000, UTC)

    def now_ms(self) -> int:
        with self._lock:
            return self._ms

    def set(self, value: datetime | int) -> None:
        """Jump to `value` (epoch ms or datetime); time may not run backwards."""
        ms = value if isinstance(value, int) else int(ensure_utc(value).timestamp() * 1000)
        with self._lock:
            if ms < self._ms:
                raise ValueError(f"ManualClock cannot go back from {self._ms} to {ms}")
            self._ms = ms

    def advance(self, delta: timedelta | int) -> None:
        """Move forward by `delta` (a timedelta or milliseconds)."""
        ms = delta if isinstance(delta, int) else int(delta.total_seconds() * 1000)
        with self._lock:
            self._ms += ms
