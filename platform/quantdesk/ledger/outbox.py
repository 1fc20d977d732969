"""The notification outbox in the ledger: events enqueued with the write that makes them happen.

`enqueue_for_audit` runs inside `append_entry`, so every audited event that people should
hear about (a halt from any entry point, a denial, a fill, a promotion decision, a refused
login) gets its outbox row in the same transaction as its audit entry: no event without its
message, no message without its event, even if the process dies right after. `LedgerOutbox`
is what the sender (`quantdesk.notify.delivery`) reads and marks.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, func, or_, select

from quantdesk.ledger._types import canonical_json
from quantdesk.ledger.base import LedgerBase
from quantdesk.ledger.schema import notification_outbox

__all__ = ["LedgerOutbox", "OutboxRecord", "enqueue", "enqueue_for_audit", "event_for"]

_STATE_LEVEL = {"HALTED": "error", "REDUCING": "warning", "ACTIVE": "success"}


def event_for(action: str, payload: Mapping[str, Any]) -> tuple[str, str] | None:
    """Return (event type, level) of an audited action people should hear about, else None."""
    if action == "trading_state.set":
        state = str(payload.get("state", "")).upper()
        kind = {"HALTED": "halt", "ACTIVE": "resume"}.get(state, "trading_state")
        return kind, _STATE_LEVEL.get(state, "warning")
    if action == "order.denied":
        return "denial", "warning"
    if action == "order.submitted" and str(payload.get("status", "")).lower() in ("filled", "partially_filled"):
        return "fill", "info"
    if action in ("order.rejected", "order.in_flight"):
        return action.replace(".", "_"), "warning"
    if action == "monitor.breach":
        return "monitor_breach", "error"
    if action == "report.desk":
        return ("daily_pnl" if payload.get("period") == "daily" else "weekly_report"), "info"
    if action == "runner.skip":
        return "runner_skip", "error"
    if action == "broker.reconcile" and (not payload.get("agreed", True) or payload.get("adopted")):
        return "reconcile", "warning"
    return {
        "promotion.request": ("promotion_requested", "info"),
        "promotion.approve": ("promotion_approved", "success"),
        "promotion.reject": ("promotion_rejected", "warning"),
        "promotion.refuse": ("promotion_refused", "warning"),
        "auth.failed": ("login_refused", "warning"),
        "auth.lockout": ("login_locked", "error"),  # once per lockout, not per refused attempt
        "flow.failed": ("flow_failed", "error"),
        "data.quarantined": ("data_quarantined", "warning"),
        "flow.restarted": ("flow_restarted", "warning"),
        "runner.lease.taken_over": ("runner_restarted", "warning"),
        "risk.var_breach": ("var_breach", "error"),
    }.get(action)


_INSERT_MESSAGE = notification_outbox.insert()  # built once: every filled order enqueues a message


def enqueue(connection: Connection, *, ts: datetime, event_type: str, level: str, payload: Mapping[str, Any]) -> None:
    """Add one pending message inside the caller's transaction."""
    connection.execute(_INSERT_MESSAGE, dict(
        created_at=ts, event_type=event_type, level=level, payload=canonical_json(dict(payload)), status="pending",
        attempts=0, next_attempt_at=None, last_error=None, sent_at=None, digest_id=None))


def enqueue_for_audit(connection: Connection, *, ts: datetime, actor: str, action: str, payload: Mapping[str, Any]) -> None:
    """Enqueue the message of an audited action, if it has one (called by `append_entry`)."""
    found = event_for(action, payload)
    if found is not None:
        enqueue(connection, ts=ts, event_type=found[0], level=found[1], payload={**payload, "actor": actor})


@dataclass(frozen=True, slots=True, kw_only=True)
class OutboxRecord:
    """One message: what happened, and how its delivery went."""

    id: int
    created_at: datetime
    event_type: str
    level: str
    payload: dict[str, Any]
    status: str
    attempts: int
    next_attempt_at: datetime | None
    last_error: str | None
    sent_at: datetime | None
    digest_id: int | None


def _record(row: Any) -> OutboxRecord:
    return OutboxRecord(id=row.id, created_at=row.created_at, event_type=row.event_type, level=row.level,
                        payload=json.loads(row.payload), status=row.status, attempts=row.attempts,
                        next_attempt_at=row.next_attempt_at, last_error=row.last_error, sent_at=row.sent_at,
                        digest_id=row.digest_id)


class LedgerOutbox:
    """The outbox as the sender sees it: what is due, and marks for what happened."""

    def __init__(self, ledger: LedgerBase) -> None:
        self.ledger = ledger

    def due(self, now: datetime, limit: int = 1000) -> list[OutboxRecord]:
        """Return pending messages whose next attempt is due, oldest first."""
        query = (select(notification_outbox)
                 .where(notification_outbox.c.status == "pending")
                 .where(or_(notification_outbox.c.next_attempt_at.is_(None), notification_outbox.c.next_attempt_at <= now))
                 .order_by(notification_outbox.c.id).limit(limit))
        with self.ledger._read() as c:
            return [_record(r) for r in c.execute(query).all()]

    def pending_count(self) -> int:
        """Return how many messages wait for delivery (quantdesk_outbox_pending)."""
        query = select(func.count()).select_from(notification_outbox).where(notification_outbox.c.status == "pending")
        with self.ledger._read() as c:
            return int(c.execute(query).scalar_one())

    def mark(self, ids: Sequence[int], *, status: str, at: datetime, error: str | None = None,
             next_attempt_at: datetime | None = None, digest_id: int | None = None, attempted: bool = True) -> None:
        """Record the outcome of a delivery attempt for `ids` (one transaction)."""
        if not ids:
            return
        values: dict[str, Any] = {"status": status, "last_error": error, "next_attempt_at": next_attempt_at,
                                  "digest_id": digest_id}
        if status in ("sent", "digested"):
            values["sent_at"] = at
        with self.ledger._write() as c:
            stmt = notification_outbox.update().where(notification_outbox.c.id.in_(list(ids))).values(**values)
            if attempted:
                stmt = stmt.values(attempts=notification_outbox.c.attempts + 1)
            c.execute(stmt)

    def history(self, limit: int = 100, event_type: str | None = None) -> list[OutboxRecord]:
        """Return the newest `limit` messages with their delivery status, newest last."""
        query = select(notification_outbox).order_by(notification_outbox.c.id.desc()).limit(limit)
        if event_type:
            query = query.where(notification_outbox.c.event_type == event_type)
        with self.ledger._read() as c:
            return [_record(r) for r in reversed(c.execute(query).all())]
