"""Deliver what a command put in the outbox before it exits (best effort: a later process or the
monitor flow delivers whatever is left, so a command never waits long for a slow channel)."""

from __future__ import annotations

import logging

__all__ = ["deliver_pending"]

log = logging.getLogger(__name__)


DELIVERY_BUDGET_S = 3.0  # a command waits at most this long for its messages; the rest go out later


def deliver_pending(budget_s: float = DELIVERY_BUDGET_S) -> None:
    """Drain the outbox once, for at most `budget_s`; never raise (the command's own work is already stored).

    A channel that hangs must not hold the command: the drain runs in a daemon thread, and
    what it has not delivered when the command exits stays pending for the next process or the
    monitor flow (the outbox never loses a message; a message cut off mid-send may go twice).
    """
    import threading

    worker = threading.Thread(target=_drain, name="deliver-pending", daemon=True)
    worker.start()
    worker.join(budget_s)
    if worker.is_alive():
        log.warning("a notification channel is slow: delivery continues later (`quantdesk notify drain`)")


def _drain() -> None:
    try:
        from quantdesk.core.clock import SystemClock
        from quantdesk.core.settings import get_settings
        from quantdesk.ledger import Ledger
        from quantdesk.ledger.outbox import LedgerOutbox
        from quantdesk.live.notifications import desk_notifier, desk_router
        from quantdesk.notify.delivery import drain_outbox

        settings = get_settings()
        section = settings.notify or {}
        with Ledger() as ledger:
            drain_outbox(LedgerOutbox(ledger), desk_notifier(ledger, settings), now=SystemClock().now(),
                         templates=section.get("templates") or {}, route=desk_router(ledger, settings))
    except Exception as e:  # noqa: BLE001 - delivery is retried later; the command succeeded
        log.warning("notifications not delivered now (%s); `quantdesk notify drain` retries", type(e).__name__)
