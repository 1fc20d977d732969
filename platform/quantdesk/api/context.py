"""What every route shares in one server process: the ledger, the limits, the brokers, the event hub."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from quantdesk.api.brokers import Brokers
from quantdesk.api.config import ApiConfig
from quantdesk.api.delivery import OutboxDrain
from quantdesk.api.events import ChangeHub
from quantdesk.api.limits import TokenBuckets
from quantdesk.ledger import Ledger

__all__ = ["ApiContext", "Cached"]


class Cached:
    """A value recomputed at most every `ttl_s` seconds (the lake's coverage scans every series)."""

    def __init__(self, compute: Callable[[], Any], ttl_s: float) -> None:
        self._compute = compute
        self._ttl_s = ttl_s
        self._lock = threading.Lock()
        self._value: tuple[float, Any] | None = None

    def get(self) -> Any:
        """Return the value, computing it when it is missing or older than the TTL."""
        with self._lock:
            now = time.monotonic()
            if self._value is None or now - self._value[0] > self._ttl_s:
                self._value = (now, self._compute())
            return self._value[1]


@dataclass(slots=True, kw_only=True)
class ApiContext:
    """The server's shared state (one per app)."""

    ledger: Ledger
    config: ApiConfig
    brokers: Brokers
    hub: ChangeHub
    drain: OutboxDrain
    token_buckets: TokenBuckets
    address_buckets: TokenBuckets
    lake: Any = None  # a quantdesk.lake.Lake, opened on first use
    coverage: Cached | None = field(default=None)
