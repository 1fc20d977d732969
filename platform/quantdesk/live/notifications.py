"""The runner's messages: the outbox delivered on a thread of its own, so no channel delays a bar.

Every order event and every fail-closed skip is audited, and its message lands in the ledger's
outbox in the same transaction. `OutboxSender` drains it every `interval_s` through its own
ledger connection; a channel that hangs holds up only this thread, never a decision or an order.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Mapping
from typing import Any

from quantdesk.core.clock import Clock
from quantdesk.ledger.base import LedgerBase
from quantdesk.ledger.outbox import LedgerOutbox
from quantdesk.notify import Notifier
from quantdesk.notify.delivery import drain_outbox

__all__ = ["OutboxSender", "desk_notifier", "desk_router"]

log = logging.getLogger(__name__)


def desk_notifier(ledger: LedgerBase, settings: Any = None) -> Notifier:
    """Return the sender's notifier: `[notify] urls` plus the channels stored encrypted in the ledger."""
    from quantdesk.core.settings import get_settings
    from quantdesk.identity.channels import channel_urls

    settings = settings or get_settings()
    section = settings.notify or {}
    urls = [*section.get("urls", []), *channel_urls(ledger)]  # type: ignore[arg-type]
    return Notifier(urls, min_level=section.get("min_level", "info"))


def desk_router(ledger: LedgerBase, settings: Any = None) -> Callable[[str, str], Notifier]:
    """Return `route(event_type, level) -> Notifier`: `[notify] urls` plus the stored channels that want it."""
    from quantdesk.core.settings import get_settings
    from quantdesk.identity.channels import channel_router

    settings = settings or get_settings()
    section = settings.notify or {}
    broadcast = list(section.get("urls", []))
    stored = channel_router(ledger)  # type: ignore[arg-type]
    cache: dict[tuple[str, ...], Notifier] = {}

    def route(event_type: str, level: str) -> Notifier:
        urls = tuple(broadcast + stored(event_type, level))
        if urls not in cache:
            cache[urls] = Notifier(urls, min_level=section.get("min_level", "info"))
        return cache[urls]

    return route


class OutboxSender:
    """Deliver the outbox in the background until stopped (then once more)."""

    def __init__(self, ledger: LedgerBase, notifier: Notifier, clock: Clock, *,
                 templates: Mapping[str, Mapping[str, str]] | None = None, interval_s: float = 5.0,
                 routed: bool = False) -> None:
        self._ledger = ledger
        self._notifier = notifier
        self._clock = clock
        self._templates = dict(templates or {})
        self._interval_s = interval_s
        self._routed = routed  # subscriptions and stored channels; False: only `notifier`
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="quantdesk-outbox", daemon=True)

    def start(self) -> OutboxSender:
        self._thread.start()
        return self

    def stop(self, timeout_s: float = 30.0) -> None:
        """Stop after one last drain (bounded by `timeout_s`: what is left waits for the next process)."""
        self._stop.set()
        self._thread.join(timeout_s)

    def _drain(self, outbox: LedgerOutbox) -> None:
        try:
            drain_outbox(outbox, self._notifier, now=self._clock.now(), templates=self._templates,
                         route=desk_router(outbox.ledger) if self._routed else None)
        except Exception as e:  # noqa: BLE001 - the next round retries; a runner must not die of a channel
            log.warning("outbox delivery failed (%s); retrying in %.0f s", type(e).__name__, self._interval_s)

    def _loop(self) -> None:
        ledger = self._ledger.reopen()
        try:
            outbox = LedgerOutbox(ledger)
            while not self._stop.wait(self._interval_s):
                self._drain(outbox)
            self._drain(outbox)
        finally:
            ledger.close()
