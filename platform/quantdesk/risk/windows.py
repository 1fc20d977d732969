"""Sliding-window event counters driven by the injected clock (epoch milliseconds)."""

from __future__ import annotations

from collections import deque

__all__ = ["DAY_MS", "SECOND_MS", "FlowCounters", "SlidingWindow"]

SECOND_MS = 1_000
DAY_MS = 86_400_000


class SlidingWindow:
    """Count events in the last `window_ms`: an event at t counts while now - t < window_ms."""

    __slots__ = ("_events", "window_ms")

    def __init__(self, window_ms: int) -> None:
        self.window_ms = window_ms
        self._events: deque[int] = deque()

    def count(self, now_ms: int) -> int:
        """Return how many events happened in (now - window, now]."""
        events = self._events
        horizon = now_ms - self.window_ms
        while events and events[0] <= horizon:
            events.popleft()
        return len(events)

    def add(self, now_ms: int) -> None:
        """Record one event at `now_ms`."""
        self._events.append(now_ms)


class FlowCounters:
    """Orders, cancels and fills per second and per day, for one scope (a symbol, or a deployment)."""

    __slots__ = ("cancels_day", "cancels_second", "fills_day", "fills_second", "orders_day", "orders_second")

    def __init__(self) -> None:
        self.orders_second = SlidingWindow(SECOND_MS)
        self.orders_day = SlidingWindow(DAY_MS)
        self.cancels_second = SlidingWindow(SECOND_MS)
        self.cancels_day = SlidingWindow(DAY_MS)
        self.fills_second = SlidingWindow(SECOND_MS)
        self.fills_day = SlidingWindow(DAY_MS)
