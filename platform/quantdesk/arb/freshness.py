"""Fresh books only: the newest book per (venue, symbol), its age, and the books that may not be used.

A book is usable while it is younger than `max_age_ms` (measured from when this process
received it, on the injected clock: a venue's own timestamps may be skewed or, on the
simulated venue, in market time) and no sequence gap was seen since its last snapshot.
Everything else comes back as a `StaleBook` that names the venue and why, so a scan can say
which venue it could not use instead of pricing on an old book.

`DiffBook` keeps a local book from a snapshot and Binance-style diff events (`U`/`u` update
ids), refusing a gap the way Binance's "manage a local order book" recipe says; ccxt pro does
the same for `watch_order_book` (and raises on a gap), the benchmark and tests replay with it.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from quantdesk.core.clock import Clock, SystemClock
from quantdesk.core.errors import SequenceGapError

__all__ = ["DEFAULT_MAX_AGE_MS", "BookSnapshot", "BookStore", "DiffBook", "StaleBook"]

DEFAULT_MAX_AGE_MS = 1_000


@dataclass(frozen=True, slots=True, kw_only=True)
class BookSnapshot:
    """A book as received: ccxt-shaped levels, when it arrived (ms, this process's clock), its update id."""

    venue: str
    symbol: str
    book: Mapping[str, Any]
    received_ms: int
    nonce: int | None = None
    version: int = 0  # the store's counter: equal versions are the same book


@dataclass(frozen=True, slots=True, kw_only=True)
class StaleBook:
    """A book that may not be used now, and why (`age_ms` None: there is no book at all)."""

    venue: str
    symbol: str
    reason: str
    age_ms: int | None = None


class BookStore:
    """The newest book of each (venue, symbol), handed out only while fresh; thread-safe."""

    def __init__(self, clock: Clock | None = None, *, max_age_ms: int = DEFAULT_MAX_AGE_MS) -> None:
        if max_age_ms <= 0:
            raise ValueError(f"max_age_ms {max_age_ms} must be positive")
        self.clock = clock or SystemClock()
        self.max_age_ms = max_age_ms
        self._books: dict[tuple[str, str], BookSnapshot] = {}
        self._refused: dict[tuple[str, str], str] = {}
        self._version = 0
        self._lock = threading.Lock()

    def put(self, venue: str, symbol: str, book: Mapping[str, Any], *, received_ms: int | None = None,
            nonce: int | None = None) -> BookSnapshot:
        """Store a book that just arrived (a REST snapshot or a stream's spliced book); clear a refusal."""
        received = self.clock.now_ms() if received_ms is None else received_ms
        with self._lock:
            self._version += 1
            snapshot = BookSnapshot(venue=venue, symbol=symbol, book=book, received_ms=received, nonce=nonce,
                                    version=self._version)
            self._books[(venue, symbol)] = snapshot
            self._refused.pop((venue, symbol), None)
        return snapshot

    def refuse(self, venue: str, symbol: str, reason: str) -> None:
        """Mark a book unusable until the next `put` (a sequence gap, a failed fetch, a dropped stream)."""
        with self._lock:
            self._refused[(venue, symbol)] = reason

    def get(self, venue: str, symbol: str, now_ms: int | None = None) -> BookSnapshot | StaleBook:
        """Return the book if it may be used now, else a StaleBook saying why."""
        with self._lock:
            snapshot = self._books.get((venue, symbol))
            refused = self._refused.get((venue, symbol))
        now = self.clock.now_ms() if now_ms is None else now_ms
        age = None if snapshot is None else now - snapshot.received_ms
        if refused is not None:
            return StaleBook(venue=venue, symbol=symbol, reason=refused, age_ms=age)
        if snapshot is None or age is None:
            return StaleBook(venue=venue, symbol=symbol, reason="no book received yet")
        if age > self.max_age_ms:
            return StaleBook(venue=venue, symbol=symbol, age_ms=age,
                             reason=f"no update for {age} ms (older than max_age_ms {self.max_age_ms})")
        return snapshot


class DiffBook:
    """A local order book from a depth snapshot and diff events, refusing any gap in update ids."""

    def __init__(self, snapshot: Mapping[str, Any]) -> None:
        """Start from a REST depth snapshot (`lastUpdateId`, `bids`, `asks`, Binance's shape)."""
        self.last_update = int(snapshot["lastUpdateId"])
        self._bids = {Decimal(str(p)): Decimal(str(q)) for p, q, *_ in snapshot["bids"]}
        self._asks = {Decimal(str(p)): Decimal(str(q)) for p, q, *_ in snapshot["asks"]}
        self._first = True
        self._view: dict[str, list[list[Decimal]]] | None = None

    def apply(self, event: Mapping[str, Any]) -> bool:
        """Apply one diff event (`U`, `u`, `b`, `a`); return False for one the snapshot already holds.

        Raise SequenceGapError when updates are missing: the book is wrong until a new snapshot.
        """
        first, last = int(event["U"]), int(event["u"])
        if last <= self.last_update:
            return False  # older than what the book holds (before the snapshot)
        expected = self.last_update + 1
        if first > expected or (not self._first and first != expected):
            raise SequenceGapError(f"sequence gap: update {first} arrived after {self.last_update} "
                                   f"(expected {expected}); the book needs a new snapshot")
        for side, changes in ((self._bids, event.get("b") or ()), (self._asks, event.get("a") or ())):
            for price, qty, *_ in changes:
                key, size = Decimal(str(price)), Decimal(str(qty))
                if size == 0:
                    side.pop(key, None)
                else:
                    side[key] = size
        self.last_update, self._first, self._view = last, False, None
        return True

    def book(self) -> dict[str, list[list[Decimal]]]:
        """Return the book in ccxt's shape, best first (made once per change)."""
        if self._view is None:
            self._view = {"bids": [[p, self._bids[p]] for p in sorted(self._bids, reverse=True)],
                          "asks": [[p, self._asks[p]] for p in sorted(self._asks)]}
        return self._view


def top(levels: Sequence[Sequence[Any]]) -> float | None:
    """Return the best price of one side as a float (None when the side is empty)."""
    return float(levels[0][0]) if levels else None
