"""Switchable faults: "the next N requests to endpoint X misbehave like this".

A test (or the admin endpoint of a CLI-run venue) arms a fault; the HTTP handler asks
the `FaultBook` for each request whether a fault applies and consumes one shot of it.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field, replace
from enum import StrEnum

__all__ = ["Fault", "FaultBook", "FaultKind"]


class FaultKind(StrEnum):
    """How a request misbehaves."""

    RATE_LIMIT = "rate_limit"  # HTTP 429, code -1003, Retry-After header
    IP_BAN = "ip_ban"  # HTTP 418, code -1003, Retry-After header
    SERVER_ERROR = "server_error"  # HTTP 5xx (status), plain-text body like a gateway
    TIMEOUT = "timeout"  # sleep `delay_s`, never process: "drop before accept"
    ACCEPT_THEN_TIMEOUT = "accept_then_timeout"  # process (e.g. create the order), then sleep
    MALFORMED = "malformed"  # HTTP 200 with a truncated JSON body
    TIMESTAMP_SKEW = "timestamp_skew"  # HTTP 400, code -1021
    INSUFFICIENT_BALANCE = "insufficient_balance"  # HTTP 400, code -2010


@dataclass(frozen=True, slots=True, kw_only=True)
class Fault:
    """One armed fault.

    `endpoint` matches the request path's last part after `/api/v3/` (``"klines"``,
    ``"order"``, ``"ticker/24hr"``) or the whole path; None matches every endpoint.
    `method` (``"POST"``) narrows it further. `times` is how many matching requests
    it hits before it disarms itself.
    """

    kind: FaultKind
    endpoint: str | None = None
    method: str | None = None
    times: int = 1
    retry_after_s: int = 1
    status: int = 500
    delay_s: float = 2.0

    def __post_init__(self) -> None:
        if self.times < 1:
            raise ValueError(
                f"Fault.times must be >= 1, got {self.times}: arm at least one request"
            )
        if self.kind is FaultKind.SERVER_ERROR and not 500 <= self.status <= 599:
            raise ValueError(f"SERVER_ERROR needs a 5xx status, got {self.status}")

    def matches(self, method: str, path: str) -> bool:
        """Return whether this fault applies to a request `method path`."""
        if self.method is not None and self.method.upper() != method.upper():
            return False
        if self.endpoint is None:
            return True
        endpoint = self.endpoint.strip("/")
        stripped = path.strip("/")
        return stripped == endpoint or stripped.endswith("/" + endpoint)


@dataclass(slots=True)
class FaultBook:
    """Thread-safe list of armed faults, consumed one shot per matching request."""

    _faults: list[Fault] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def arm(self, fault: Fault) -> None:
        """Arm `fault`; faults fire in the order they were armed."""
        with self._lock:
            self._faults.append(fault)

    def take(self, method: str, path: str) -> Fault | None:
        """Return the first fault that matches the request and use up one of its shots."""
        with self._lock:
            for i, fault in enumerate(self._faults):
                if fault.matches(method, path):
                    if fault.times <= 1:
                        del self._faults[i]
                    else:
                        self._faults[i] = replace(fault, times=fault.times - 1)
                    return fault
        return None

    def clear(self) -> None:
        """Disarm every fault."""
        with self._lock:
            self._faults.clear()

    def pending(self) -> list[Fault]:
        """Return the armed faults (a copy)."""
        with self._lock:
            return list(self._faults)
