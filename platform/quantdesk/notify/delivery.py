"""Deliver the outbox: retries with back-off, bursts folded into digests, every outcome recorded.

The sender runs off the trading path (a CLI command after its write, `quantdesk notify drain`,
or the monitor flow) and reads the outbox through the `Outbox` protocol (the ledger's
`LedgerOutbox` satisfies it). A message is marked sent only after apprise took it; a failure
is retried with exponential back-off up to `max_attempts`, then marked failed with its error.
More than `digest_after` due messages of one event type go out as one digest.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Protocol

from quantdesk.notify.notifier import Notification, NotificationLevel, Notifier
from quantdesk.notify.templates import render

__all__ = ["DeliveryReport", "Outbox", "OutboxItem", "drain_outbox"]


class OutboxItem(Protocol):
    """A stored message as the sender reads it."""

    @property
    def id(self) -> int: ...
    @property
    def event_type(self) -> str: ...
    @property
    def level(self) -> str: ...
    @property
    def payload(self) -> dict[str, Any]: ...
    @property
    def attempts(self) -> int: ...


class Outbox(Protocol):
    """Where messages wait: due ones to read, outcomes to record."""

    def due(self, now: datetime, limit: int = 1000) -> Sequence[OutboxItem]: ...

    def mark(self, ids: Sequence[int], *, status: str, at: datetime, error: str | None = None,
             next_attempt_at: datetime | None = None, digest_id: int | None = None, attempted: bool = True) -> None: ...


@dataclass(frozen=True, slots=True, kw_only=True)
class DeliveryReport:
    """What one drain did."""

    sent: int = 0
    digested: int = 0
    retrying: int = 0
    failed: int = 0
    skipped: int = 0


_RANK = {"info": 0, "success": 0, "warning": 1, "error": 2}


def _backoff(attempts: int) -> timedelta:
    return timedelta(seconds=min(600, 5 * 2 ** attempts))


def drain_outbox(
    outbox: Outbox, notifier: Notifier, *, now: datetime, templates: Mapping[str, Mapping[str, str]] | None = None,
    digest_after: int = 5, max_attempts: int = 6, route: Callable[[str, str], Notifier] | None = None,
) -> DeliveryReport:
    """Send every due message once (or as part of a digest); return what happened.

    `route(event_type, level)` picks the channels of each message (subscriptions); without it
    every message goes to `notifier`. A message no channel wants is marked skipped, with why.
    """
    due = list(outbox.due(now))
    if not due:
        return DeliveryReport()
    pick = route or (lambda _event, _level: notifier)
    quiet = [m.id for m in due if not notifier.wants(m.level)]
    outbox.mark(quiet, status="skipped", at=now, error=f"below min_level {notifier.min_level.value}", attempted=False)
    groups: dict[str, list[OutboxItem]] = defaultdict(list)
    for item in due:
        if notifier.wants(item.level):
            groups[item.event_type].append(item)
    counts = {"sent": 0, "digested": 0, "retrying": 0, "failed": 0, "skipped": len(quiet)}
    for event_type, items in groups.items():
        batches: list[list[OutboxItem]] = [items] if len(items) > digest_after else [[i] for i in items]
        for batch in batches:
            head = batch[0]
            level = max((m.level for m in batch), key=lambda v: _RANK.get(v, 0))
            ids = [m.id for m in batch]
            target = pick(event_type, level)
            if not target.enabled:
                outbox.mark(ids, status="skipped", at=now, error="no notification channel configured or subscribed",
                            attempted=False)
                counts["skipped"] += len(ids)
                continue
            if len(batch) > 1:
                title, body = render(event_type, {}, templates, events=[m.payload for m in batch])
            else:
                title, body = render(event_type, head.payload, templates)
            ok = target.send(Notification(level=NotificationLevel(level), title=title, body=body))
            if ok:
                outbox.mark([head.id], status="sent", at=now, digest_id=head.id if len(batch) > 1 else None)
                outbox.mark(ids[1:], status="digested", at=now, digest_id=head.id)
                counts["sent"] += 1
                counts["digested"] += len(ids) - 1
            elif head.attempts + 1 >= max_attempts:
                outbox.mark(ids, status="failed", at=now, error=target.last_error or "a channel refused it")
                counts["failed"] += len(ids)
            else:
                outbox.mark(ids, status="pending", at=now, error=target.last_error or "a channel refused it",
                            next_attempt_at=now + _backoff(head.attempts))
                counts["retrying"] += len(ids)
    return DeliveryReport(**counts)
