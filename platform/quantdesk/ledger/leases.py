"""Rows of `runner_leases`: exactly one runner per deployment at any moment.

A lease names its holder (host, pid and a random token) and expires at a wall-clock time.
Taking a lease succeeds when there is none, when the caller already holds it, or when the
previous holder stopped renewing (its lease expired: SIGKILL, a lost machine); the takeover
is audited. All checks run in one write transaction (SQLite's write lock, PostgreSQL's
row lock or primary key), so two runners starting together cannot both win.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import delete, select, update
from sqlalchemy.exc import IntegrityError

from quantdesk.core.errors import LeaseHeldError
from quantdesk.ledger.base import LedgerBase
from quantdesk.ledger.registry import _audit
from quantdesk.ledger.schema import runner_leases

__all__ = ["LeaseRecord", "acquire_lease", "lease_of", "release_lease", "renew_lease"]


@dataclass(frozen=True, slots=True, kw_only=True)
class LeaseRecord:
    """Who runs a deployment and until when their lease holds without a renewal."""

    deployment: str
    holder: str
    acquired_at: datetime
    renewed_at: datetime
    expires_at: datetime

    def alive(self, now: datetime) -> bool:
        return self.expires_at > now


def _wall_now() -> datetime:
    # leases measure real time even when the runner trades on a scaled market clock
    return datetime.now(UTC)


def _record(row: object) -> LeaseRecord:
    m = row._mapping  # type: ignore[attr-defined]
    return LeaseRecord(deployment=m["deployment"], holder=m["holder"], acquired_at=m["acquired_at"],
                       renewed_at=m["renewed_at"], expires_at=m["expires_at"])


def lease_of(ledger: LedgerBase, deployment: str) -> LeaseRecord | None:
    """Return the lease row of `deployment` (alive or expired), or None."""
    with ledger._read() as c:
        row = c.execute(select(runner_leases).where(runner_leases.c.deployment == deployment)).first()
    return None if row is None else _record(row)


def acquire_lease(ledger: LedgerBase, deployment: str, holder: str, *, ttl_s: float,
                  now: datetime | None = None) -> LeaseRecord:
    """Take (or keep) `deployment`'s lease for `ttl_s` seconds; LeaseHeldError while another holds it."""
    now = now or _wall_now()
    t = runner_leases
    expires = now + timedelta(seconds=ttl_s)
    try:
        with ledger._write() as c:
            row = c.execute(select(t).where(t.c.deployment == deployment).with_for_update()).first()
            if row is None:
                c.execute(t.insert().values(deployment=deployment, holder=holder, acquired_at=now, renewed_at=now,
                                            expires_at=expires))
            else:
                current = _record(row)
                if current.holder != holder and current.alive(now):
                    raise LeaseHeldError(
                        f"deployment {deployment!r} already has a runner ({current.holder}, lease renewed "
                        f"{current.renewed_at:%Y-%m-%d %H:%M:%S} UTC, valid until {current.expires_at:%H:%M:%S}); "
                        "stop it first (`quantdesk stop` or SIGTERM), or wait for its lease to expire if it died")
                c.execute(update(t).where(t.c.deployment == deployment).values(
                    holder=holder, acquired_at=now if current.holder != holder else current.acquired_at,
                    renewed_at=now, expires_at=expires))
                if current.holder != holder:
                    _audit(ledger, c, (holder, "runner.lease.taken_over",
                                       {"deployment": deployment, "previous_holder": current.holder,
                                        "previous_expired_at": current.expires_at.isoformat()}))
    except IntegrityError as e:  # another runner inserted the row between our read and insert
        raise LeaseHeldError(f"deployment {deployment!r} was just taken by another runner; stop it first") from e
    found = lease_of(ledger, deployment)
    assert found is not None
    return found


def renew_lease(ledger: LedgerBase, deployment: str, holder: str, *, ttl_s: float,
                now: datetime | None = None) -> bool:
    """Extend `holder`'s lease; False when it is no longer theirs (another runner took it over)."""
    now = now or _wall_now()
    t = runner_leases
    with ledger._write() as c:
        done = c.execute(update(t).where(t.c.deployment == deployment, t.c.holder == holder).values(
            renewed_at=now, expires_at=now + timedelta(seconds=ttl_s)))
    return done.rowcount == 1


def release_lease(ledger: LedgerBase, deployment: str, holder: str) -> bool:
    """Give the lease up (a clean stop); False when `holder` did not hold it."""
    t = runner_leases
    with ledger._write() as c:
        done = c.execute(delete(t).where(t.c.deployment == deployment, t.c.holder == holder))
    return done.rowcount == 1
