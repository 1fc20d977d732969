"""The gated brokers the API trades through: one per venue, built as the CLI builds it, kept warm.

`quantdesk order` builds `open_gated(venue)` (ccxt client, ledger, risk gate), reconciles
(`start()`) and submits; the API does the same once per venue and keeps the started broker,
so an order pays the gate, the ledger and the venue, not a reconciliation. Orders on one venue
pass one at a time (a ccxt client is not thread-safe, and a retried order must find its first
attempt written). Before each use the gate re-reads the trading states, so a halt from any
door stops the next API order, not one a second later. A broker whose venue failed is dropped
and built (and reconciled) again on the next order.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from quantdesk.core.errors import BrokerError, QuantdeskError

__all__ = ["Brokers"]

Opener = Callable[[str], Any]  # venue name -> an unstarted GatedBroker


class Brokers:
    """Started gated brokers by venue, each used by one request at a time."""

    def __init__(self, opener: Opener) -> None:
        self._opener = opener
        self._lock = threading.Lock()
        self._venue_locks: dict[str, threading.Lock] = {}
        self._started: dict[str, Any] = {}

    def _venue_lock(self, venue: str) -> threading.Lock:
        with self._lock:
            return self._venue_locks.setdefault(venue, threading.Lock())

    @contextmanager
    def use(self, venue: str, actor: str) -> Iterator[Any]:
        """Yield the venue's started gated broker acting as `actor` (its audit entries name them)."""
        with self._venue_lock(venue):
            gated = self._started.get(venue)
            if gated is None:
                gated = self._opener(venue)
                gated.actor = actor
                gated.start()  # nothing is sent until ledger and venue agree
                self._started[venue] = gated
            gated.actor = actor
            gated.gate.refresh_state()
            try:
                yield gated
            except (BrokerError, OSError):
                self._started.pop(venue, None)  # reconcile again before the next order
                raise
            except QuantdeskError:
                raise
            except Exception:
                self._started.pop(venue, None)
                raise

    def close(self) -> None:
        """Forget every broker (their ledger is the API's, closed by its owner)."""
        with self._lock:
            self._started.clear()
