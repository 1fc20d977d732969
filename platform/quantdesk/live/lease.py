"""Hold a deployment's runner lease for as long as a runner runs (`run_deployment` uses it).

`RunnerLease` takes the lease, waiting up to one lease period for a dead runner's lease to
expire (the restart after a SIGKILL), renews it from a background thread every third of the
period, and sets the runner's stop flag if it is ever lost, so two runners never trade one
deployment at once. The period is `QUANTDESK_RUNNER_LEASE_S` (default 30 s).
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
import uuid
from typing import Any

from quantdesk.core.errors import ConfigError, LeaseHeldError
from quantdesk.ledger.leases import acquire_lease, lease_of, release_lease, renew_lease

__all__ = ["LEASE_ENV", "RunnerLease", "lease_seconds"]

log = logging.getLogger(__name__)
LEASE_ENV = "QUANTDESK_RUNNER_LEASE_S"


def lease_seconds() -> float:
    """Return the lease period from `QUANTDESK_RUNNER_LEASE_S` (seconds, default 30)."""
    raw = os.environ.get(LEASE_ENV, "30")
    try:
        value = float(raw)
    except ValueError:
        value = -1.0
    if value < 1:
        raise ConfigError(f"{LEASE_ENV}={raw!r} is not a lease period; use seconds >= 1, e.g. 30")
    return value


class RunnerLease:
    """The lease of one deployment, held by this process while its runner runs."""

    def __init__(self, ledger: Any, deployment: str, *, stop: threading.Event, ttl_s: float | None = None) -> None:
        self.ledger, self.deployment, self.stop = ledger, deployment, stop
        self.ttl_s = ttl_s if ttl_s is not None else lease_seconds()
        self.holder = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        self.lost = False
        self._done = threading.Event()
        self._thread: threading.Thread | None = None

    def acquire(self, *, wait_s: float | None = None) -> RunnerLease:
        """Take the lease, waiting up to `wait_s` (default: one period and a bit) for a dead holder's to lapse."""
        deadline = time.monotonic() + (self.ttl_s + 2 if wait_s is None else wait_s)
        seen: Any = None
        while True:
            try:
                acquire_lease(self.ledger, self.deployment, self.holder, ttl_s=self.ttl_s)
                break
            except LeaseHeldError:
                # a holder that renews is alive: fail now; one that stops renewing lapses: wait for that
                current = lease_of(self.ledger, self.deployment)
                renewed = None if current is None else (current.holder, current.renewed_at)
                alive = seen is not None and renewed is not None and renewed != seen and renewed[0] == seen[0]
                if alive or time.monotonic() >= deadline or self.stop.is_set():
                    raise
                seen = seen or renewed
                time.sleep(min(1.0, self.ttl_s / 4))
        self._thread = threading.Thread(target=self._renew, name=f"lease:{self.deployment}", daemon=True)
        self._thread.start()
        return self

    @property
    def held(self) -> bool:
        """True from a successful `acquire` until `release`."""
        return self._thread is not None and not self._done.is_set()

    def _renew(self) -> None:
        while not self._done.wait(self.ttl_s / 3):
            try:
                kept = renew_lease(self.ledger, self.deployment, self.holder, ttl_s=self.ttl_s)
            except Exception:  # a ledger hiccup: try again next period; the lease lasts three of them
                log.exception("renewing the lease of %s failed", self.deployment)
                continue
            if not kept:
                log.error("the lease of %s was taken by another runner; stopping this one", self.deployment)
                self.lost = True
                self.stop.set()
                return

    def release(self) -> None:
        """Stop renewing and give the lease up."""
        self._done.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
        if not self.lost:
            release_lease(self.ledger, self.deployment, self.holder)

    def __enter__(self) -> RunnerLease:
        return self.acquire()

    def __exit__(self, *exc: object) -> None:
        self.release()
