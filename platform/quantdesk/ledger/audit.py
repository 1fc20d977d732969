"""The append-only, hash-chained audit log: append an entry, verify the chain.

Each entry's hash is sha256 over the canonical JSON of (seq, ts, actor, action, payload,
prev_hash); the first entry's prev_hash is 64 zeros. Editing any field, deleting an entry
(a gap in seq) or swapping entries breaks the chain at the first affected seq.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, func, select, text

from quantdesk.core.clock import ensure_utc
from quantdesk.core.errors import LedgerError
from quantdesk.ledger._types import canonical_json
from quantdesk.ledger.records import AuditEntry, AuditVerification
from quantdesk.ledger.schema import audit_log

__all__ = ["GENESIS_HASH", "append_entry", "entry_hash", "row_to_entry", "verify_entries"]

GENESIS_HASH = "0" * 64
# Any constant: appends on PostgreSQL take this transaction lock so the chain never forks.
_PG_AUDIT_LOCK = 7_301_448_212
# built once: the append runs with every order (see ledger.py on prebuilt statements)
_LAST_ENTRY = select(audit_log.c.seq, audit_log.c.hash).order_by(audit_log.c.seq.desc()).limit(1)
_INSERT_ENTRY = audit_log.insert()
_PG_LOCK = text("SELECT pg_advisory_xact_lock(:key)")


def _ts_text(ts: datetime) -> str:
    # Millisecond precision: both backends store at least that, so the hash survives a round trip.
    return ensure_utc(ts).isoformat(timespec="milliseconds")


def entry_hash(
    *, seq: int, ts: datetime, actor: str, action: str, payload_json: str, prev_hash: str
) -> str:
    """Return the sha256 hex digest that chains an entry to its predecessor."""
    body = canonical_json(
        {
            "seq": seq,
            "ts": _ts_text(ts),
            "actor": actor,
            "action": action,
            "payload": json.loads(payload_json),
            "prev_hash": prev_hash,
        }
    )
    return hashlib.sha256(body.encode()).hexdigest()


def _canonical_entry_hash(
    *, seq: int, ts: datetime, actor: str, action: str, payload_json: str, prev_hash: str
) -> str:
    """`entry_hash` for a payload already in canonical form: the body is assembled around it.

    Canonical JSON sorts keys (action, actor, payload, prev_hash, seq, ts) and its nested payload
    is exactly `payload_json`, so this is the same text `entry_hash` builds after a parse and a
    re-serialisation (a property test holds the two equal); an append saves both.
    """
    body = (f'{{"action":{_text(action)},"actor":{_text(actor)},"payload":{payload_json},'
            f'"prev_hash":{_text(prev_hash)},"seq":{int(seq)},"ts":{_text(_ts_text(ts))}}}')
    return hashlib.sha256(body.encode()).hexdigest()


def _text(value: str) -> str:
    return json.dumps(value, ensure_ascii=False)


def append_entry(
    connection: Connection,
    *,
    ts: datetime,
    actor: str,
    action: str,
    payload: Mapping[str, Any] | None,
) -> AuditEntry:
    """Append one entry inside the caller's write transaction; return it."""
    if not actor or not action:
        raise LedgerError(
            f"an audit entry needs an actor and an action (got actor={actor!r}, action={action!r})"
        )
    if connection.dialect.name == "postgresql":
        connection.execute(_PG_LOCK, {"key": _PG_AUDIT_LOCK})
    # Truncate to ms before storing so the stored time and the hashed time are identical.
    ts = ensure_utc(ts).replace(microsecond=ensure_utc(ts).microsecond // 1000 * 1000)
    last = connection.execute(_LAST_ENTRY).first()
    seq, prev_hash = (1, GENESIS_HASH) if last is None else (last.seq + 1, last.hash)
    payload_json = canonical_json(dict(payload or {}))
    loaded = json.loads(payload_json)  # the payload as read back: one parse for the outbox and the entry
    digest = _canonical_entry_hash(
        seq=seq, ts=ts, actor=actor, action=action, payload_json=payload_json, prev_hash=prev_hash
    )
    connection.execute(
        _INSERT_ENTRY,
        dict(seq=seq, ts=ts, actor=actor, action=action, payload=payload_json, prev_hash=prev_hash, hash=digest),
    )
    # The message people should get about this event, in the same transaction (never lost).
    from quantdesk.ledger.outbox import enqueue_for_audit

    enqueue_for_audit(connection, ts=ts, actor=actor, action=action, payload=loaded)  # it copies
    return AuditEntry(
        seq=seq,
        ts=ts,
        actor=actor,
        action=action,
        payload=loaded,
        prev_hash=prev_hash,
        hash=digest,
    )


def row_to_entry(row: Any) -> AuditEntry:
    """Convert an `audit_log` row to an AuditEntry."""
    return AuditEntry(
        seq=row.seq,
        ts=row.ts,
        actor=row.actor,
        action=row.action,
        payload=json.loads(row.payload),
        prev_hash=row.prev_hash,
        hash=row.hash,
    )


def verify_entries(rows: Iterable[Any]) -> AuditVerification:
    """Check rows given in seq order: consecutive seqs from 1, links and hashes."""
    expected_seq, prev_hash, checked = 1, GENESIS_HASH, 0
    for row in rows:
        if row.seq != expected_seq:
            return _bad(
                checked,
                expected_seq,
                f"entry {expected_seq} is missing (next present is {row.seq}): deleted",
            )
        if row.prev_hash != prev_hash:
            return _bad(
                checked,
                row.seq,
                "prev_hash does not match the previous entry's hash: entries deleted or reordered",
            )
        try:
            digest = entry_hash(
                seq=row.seq,
                ts=row.ts,
                actor=row.actor,
                action=row.action,
                payload_json=row.payload,
                prev_hash=row.prev_hash,
            )
        except (ValueError, TypeError) as e:
            return _bad(checked, row.seq, f"payload is not valid JSON ({e}): edited")
        if digest != row.hash:
            return _bad(checked, row.seq, "hash does not match the entry's content: edited")
        checked += 1
        expected_seq, prev_hash = row.seq + 1, row.hash
    return AuditVerification(
        ok=True, checked=checked, head_hash=None if checked == 0 else prev_hash
    )


def _bad(checked: int, seq: int, reason: str) -> AuditVerification:
    return AuditVerification(
        ok=False, checked=checked, first_bad_seq=seq, reason=f"audit entry {seq}: {reason}"
    )


def count_entries(connection: Connection) -> int:
    """Return how many entries the log holds."""
    return int(connection.execute(select(func.count()).select_from(audit_log)).scalar_one())
