"""Rows of `login_failures` and `login_lockouts` (revision 0013): refused logins and locked keys.

A key is `(kind, key)`: ("user", a registered name), ("user", "unknown user") for every name
that is not registered, or ("address", a client address). `record_refusal` writes the refused
login's audit entry, counts it against each key and locks a key that reached the limit, all in
one transaction, so two server processes (or the CLI and a dashboard) share one budget and a
lockout is audited (and so notified) once, by whichever attempt crossed the line.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import and_, delete, func, or_, select
from sqlalchemy.exc import IntegrityError

from quantdesk.ledger.audit import append_entry
from quantdesk.ledger.base import LedgerBase
from quantdesk.ledger.registry import AuditSpec
from quantdesk.ledger.schema import login_failures, login_lockouts

__all__ = ["LoginKey", "Lockout", "active_lockouts", "clear_failures", "record_refusal"]

LoginKey = tuple[str, str]  # (kind, key)


@dataclass(frozen=True, slots=True, kw_only=True)
class Lockout:
    """A key refused every login until `until` (UTC)."""

    kind: str
    key: str
    until: datetime


def _matching(keys: Sequence[LoginKey]):  # type: ignore[no-untyped-def]  # a SQL expression
    return or_(*(and_(login_lockouts.c.kind == kind, login_lockouts.c.key == key) for kind, key in keys))


def active_lockouts(ledger: LedgerBase, keys: Sequence[LoginKey], *, now: datetime) -> list[Lockout]:
    """Return the lockouts of `keys` still running at `now`."""
    if not keys:
        return []
    query = select(login_lockouts).where(_matching(keys)).where(login_lockouts.c.until > now)
    with ledger._read() as c:
        return [Lockout(kind=r.kind, key=r.key, until=r.until) for r in c.execute(query).all()]


def record_refusal(
    ledger: LedgerBase,
    keys: Sequence[LoginKey],
    *,
    now: datetime,
    window: timedelta,
    max_failures: int,
    lockout: timedelta,
    audit: AuditSpec,
    lock_audit: Callable[[Lockout, int], AuditSpec],
) -> list[Lockout]:
    """Audit a refused login, count it against `keys`, and lock each key that reached `max_failures`.

    Return the lockouts this refusal started (each audited with `lock_audit(lockout, count)`).
    Two processes locking the same key at once (PostgreSQL): the loser's transaction is retried
    once, and then finds the lockout already running.
    """
    try:
        return _record_refusal(ledger, keys, now=now, window=window, max_failures=max_failures, lockout=lockout,
                               audit=audit, lock_audit=lock_audit)
    except IntegrityError:
        return _record_refusal(ledger, keys, now=now, window=window, max_failures=max_failures, lockout=lockout,
                               audit=audit, lock_audit=lock_audit)


def _record_refusal(
    ledger: LedgerBase,
    keys: Sequence[LoginKey],
    *,
    now: datetime,
    window: timedelta,
    max_failures: int,
    lockout: timedelta,
    audit: AuditSpec,
    lock_audit: Callable[[Lockout, int], AuditSpec],
) -> list[Lockout]:
    started: list[Lockout] = []
    with ledger._write() as c:
        append_entry(c, ts=now, actor=audit[0], action=audit[1], payload=audit[2])
        # refusals older than the window no longer count: drop them so the table stays small
        c.execute(delete(login_failures).where(login_failures.c.at <= now - window))
        if keys:
            c.execute(login_failures.insert(), [{"kind": kind, "key": key, "at": now} for kind, key in keys])
        for kind, key in keys:
            running = c.execute(
                select(login_lockouts.c.until).where(_matching([(kind, key)])).with_for_update()
            ).first()
            if running is not None and running.until > now:
                continue  # already locked: audited when it started
            count = c.execute(
                select(func.count()).select_from(login_failures).where(
                    login_failures.c.kind == kind, login_failures.c.key == key, login_failures.c.at > now - window
                )
            ).scalar_one()
            if count < max_failures:
                continue
            locked = Lockout(kind=kind, key=key, until=now + lockout)
            if running is not None:
                c.execute(login_lockouts.update().where(_matching([(kind, key)])).values(locked_at=now, until=locked.until))
            else:
                c.execute(login_lockouts.insert().values(kind=kind, key=key, locked_at=now, until=locked.until))
            # the budget starts afresh after the lockout: these refusals are spent
            c.execute(delete(login_failures).where(login_failures.c.kind == kind, login_failures.c.key == key))
            actor, action, payload = lock_audit(locked, int(count))
            append_entry(c, ts=now, actor=actor, action=action, payload=payload)
            started.append(locked)
    return started


def clear_failures(ledger: LedgerBase, keys: Sequence[LoginKey]) -> None:
    """Forget the refused logins counted against `keys` (after a successful login)."""
    if not keys:
        return
    with ledger._write() as c:
        c.execute(delete(login_failures).where(
            or_(*(and_(login_failures.c.kind == kind, login_failures.c.key == key) for kind, key in keys))))
