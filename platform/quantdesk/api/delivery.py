"""Deliver what an API action put in the outbox, off the request: the answer never waits for a channel.

The CLI drains the outbox right after its command (`cli._notify.deliver_pending`); the API
server asks one background thread to drain after each action instead. Requests that come
while it drains ask for one more pass, never a second thread. Whatever is not delivered stays
pending in the ledger for the next pass, `quantdesk notify drain` or the monitor flow.
"""

from __future__ import annotations

import logging
import threading
import time

from quantdesk.ledger import Ledger

__all__ = ["OutboxDrain"]

log = logging.getLogger("quantdesk.api")
BATCH_S = 0.2


class OutboxDrain:
    """Drain the ledger's notification outbox in one background thread, on request."""

    def __init__(self, ledger: Ledger) -> None:
        self._ledger = ledger
        self._lock = threading.Lock()
        self._wanted = False
        self._running = False

    def kick(self) -> None:
        """Ask for a drain soon (returns at once)."""
        with self._lock:
            self._wanted = True
            if self._running:
                return
            self._running = True
        threading.Thread(target=self._loop, name="api-outbox", daemon=True).start()

    def _loop(self) -> None:
        while True:
            time.sleep(BATCH_S)  # a burst of actions shares one pass (and the requests keep the CPU meanwhile)
            with self._lock:
                if not self._wanted:
                    self._running = False
                    return
                self._wanted = False
            self._drain_once()

    def _drain_once(self) -> None:
        try:
            from quantdesk.core.clock import SystemClock
            from quantdesk.core.settings import get_settings
            from quantdesk.ledger.outbox import LedgerOutbox
            from quantdesk.live.notifications import desk_notifier, desk_router
            from quantdesk.notify.delivery import drain_outbox

            settings = get_settings()
            section = settings.notify or {}
            drain_outbox(LedgerOutbox(self._ledger), desk_notifier(self._ledger, settings), now=SystemClock().now(),
                         templates=section.get("templates") or {}, route=desk_router(self._ledger, settings))
        except Exception as e:  # noqa: BLE001 - delivery is retried later; the action is stored
            log.warning("notifications not delivered now (%s); `quantdesk notify drain` retries", type(e).__name__)
