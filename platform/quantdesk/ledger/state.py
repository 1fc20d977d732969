"""Snapshots, risk events, trading states and the audit log (the ledger's non-order tables)."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import func, select

from quantdesk.core.errors import LedgerError
from quantdesk.core.types import TradingState
from quantdesk.ledger._types import canonical_json
from quantdesk.ledger.audit import append_entry, row_to_entry, verify_entries
from quantdesk.ledger.base import LedgerBase
from quantdesk.ledger.records import (
    AuditEntry,
    AuditVerification,
    BalanceRecord,
    PositionSnapshotRecord,
    RiskEventRecord,
    TradingStateRecord,
)
from quantdesk.ledger.rows import (
    parse_enum,
    to_balance,
    to_position_snapshot,
    to_risk_event,
    to_trading_state,
)
from quantdesk.ledger.schema import (
    audit_log,
    balance_snapshots,
    position_snapshots,
    risk_events,
    trading_states,
)

__all__ = ["LedgerState"]

Money = Any  # Decimal | int | str | float, converted exactly by DecimalType


class LedgerState(LedgerBase):
    """Everything in the ledger that is not an order or a fill."""

    # -- snapshots ------------------------------------------------------------------------------
    def record_position_snapshot(
        self,
        *,
        venue: str,
        symbol: str,
        qty: Money,
        account: str = "default",
        source: str = "venue",
        ts: datetime | None = None,
    ) -> PositionSnapshotRecord:
        """Store a position as reported by `source` (for reconciliation and dashboards)."""
        values = dict(
            venue=venue, account=account, symbol=symbol, qty=qty, source=source, ts=self._now(ts)
        )
        with self._write() as c:
            new_id = c.execute(position_snapshots.insert().values(**values)).inserted_primary_key[0]
            row = c.execute(
                select(position_snapshots).where(position_snapshots.c.id == new_id)
            ).one()
        return to_position_snapshot(row)

    def latest_position_snapshots(
        self, *, venue: str | None = None, account: str | None = None
    ) -> list[PositionSnapshotRecord]:
        """Return the latest snapshot per (venue, account, symbol)."""
        t = position_snapshots
        latest = select(func.max(t.c.id).label("id")).group_by(t.c.venue, t.c.account, t.c.symbol)
        if venue is not None:
            latest = latest.where(t.c.venue == venue)
        if account is not None:
            latest = latest.where(t.c.account == account)
        with self._read() as c:
            rows = c.execute(
                select(t).where(t.c.id.in_(latest.scalar_subquery())).order_by(t.c.symbol)
            ).all()
        return [to_position_snapshot(r) for r in rows]

    def record_balances(
        self,
        *,
        venue: str,
        totals: Mapping[str, Money],
        free: Mapping[str, Money] | None = None,
        used: Mapping[str, Money] | None = None,
        account: str = "default",
        ts: datetime | None = None,
    ) -> list[BalanceRecord]:
        """Store one balance snapshot (asset -> total, optional free/used) taken at `ts`."""
        at = self._now(ts)
        free, used = free or {}, used or {}
        rows = [
            dict(
                venue=venue,
                account=account,
                asset=a,
                free=free.get(a),
                used=used.get(a),
                total=t,
                ts=at,
            )
            for a, t in sorted(totals.items())
        ]
        with self._write() as c:
            ids = [
                c.execute(balance_snapshots.insert().values(**r)).inserted_primary_key[0]
                for r in rows
            ]
            result = (
                c.execute(select(balance_snapshots).where(balance_snapshots.c.id.in_(ids))).all()
                if ids
                else []
            )
        return sorted((to_balance(r) for r in result), key=lambda b: b.asset)

    def latest_balances(self, *, venue: str, account: str = "default") -> dict[str, BalanceRecord]:
        """Return the latest balance per asset of an account."""
        t = balance_snapshots
        latest = (
            select(func.max(t.c.id))
            .where(t.c.venue == venue, t.c.account == account)
            .group_by(t.c.asset)
        ).scalar_subquery()
        with self._read() as c:
            rows = c.execute(select(t).where(t.c.id.in_(latest))).all()
        return {r.asset: to_balance(r) for r in sorted(rows, key=lambda r: r.asset)}

    # -- risk events -------------------------------------------------------------------------------
    def record_risk_event(
        self,
        *,
        code: str,
        detail: str,
        intent: Mapping[str, object] | None = None,
        approved: bool = False,
        deployment: str | None = None,
        venue: str | None = None,
        symbol: str | None = None,
        ts: datetime | None = None,
    ) -> RiskEventRecord:
        """Store a risk decision (every denial must be stored); `intent` is kept as JSON."""
        if not code:
            raise LedgerError(
                "a risk event needs a decision code, e.g. NOTIONAL_EXCEEDS_MAX_PER_ORDER"
            )
        values = dict(
            ts=self._now(ts),
            approved=approved,
            code=code,
            detail=detail,
            deployment=deployment,
            venue=venue,
            symbol=symbol,
            intent=canonical_json(dict(intent or {})),
        )
        with self._write() as c:
            new_id = c.execute(risk_events.insert().values(**values)).inserted_primary_key[0]
            row = c.execute(select(risk_events).where(risk_events.c.id == new_id)).one()
        return to_risk_event(row)

    def risk_events(
        self,
        *,
        code: str | None = None,
        deployment: str | None = None,
        since: datetime | None = None,
        limit: int | None = None,
    ) -> list[RiskEventRecord]:
        """Return risk events, oldest first (newest `limit` if set)."""
        t = risk_events
        query = select(t)
        if code is not None:
            query = query.where(t.c.code == code)
        if deployment is not None:
            query = query.where(t.c.deployment == deployment)
        if since is not None:
            query = query.where(t.c.ts >= since)
        query = query.order_by(t.c.id.desc())
        if limit is not None:
            query = query.limit(limit)
        with self._read() as c:
            rows = c.execute(query).all()
        return [to_risk_event(r) for r in reversed(rows)]

    # -- trading states ------------------------------------------------------------------------
    def get_trading_state(self, scope: str = "global") -> TradingState:
        """Return the trading state of `scope` (ACTIVE where never set)."""
        return self.trading_state(scope).state

    def trading_state(self, scope: str = "global") -> TradingStateRecord:
        """Return the trading state of `scope` with its reason, actor and time."""
        with self._read() as c:
            row = c.execute(select(trading_states).where(trading_states.c.scope == scope)).first()
        if row is None:
            return TradingStateRecord(
                scope=scope,
                state=TradingState.ACTIVE,
                reason="never set",
                actor="",
                updated_at=None,
            )
        return to_trading_state(row)

    def trading_states(self) -> list[TradingStateRecord]:
        """Return every scope whose state was ever set."""
        with self._read() as c:
            rows = c.execute(select(trading_states).order_by(trading_states.c.scope)).all()
        return [to_trading_state(r) for r in rows]

    def set_trading_state(
        self, scope: str, state: TradingState | str, reason: str, actor: str
    ) -> TradingStateRecord:
        """Set the trading state of `scope` and append an audit entry in the same transaction."""
        new = parse_enum(TradingState, state, "trading state")
        if not scope or not actor:
            raise LedgerError(
                f"a trading state needs a scope and an actor (got scope={scope!r}, actor={actor!r})"
            )
        now = self._now()
        values = dict(state=new.value, reason=reason, actor=actor, updated_at=now)
        with self._write() as c:
            old = c.execute(
                select(trading_states.c.state)
                .where(trading_states.c.scope == scope)
                .with_for_update()
            ).first()
            if old is None:
                c.execute(trading_states.insert().values(scope=scope, **values))
            else:
                c.execute(
                    trading_states.update().where(trading_states.c.scope == scope).values(**values)
                )
            previous = TradingState.ACTIVE.value if old is None else old.state
            append_entry(
                c,
                ts=now,
                actor=actor,
                action="trading_state.set",
                payload={
                    "scope": scope,
                    "state": new.value,
                    "previous": previous,
                    "reason": reason,
                },
            )
            row = c.execute(select(trading_states).where(trading_states.c.scope == scope)).one()
        return to_trading_state(row)

    # -- audit -----------------------------------------------------------------------------------
    def audit(
        self, actor: str, action: str, payload: Mapping[str, object] | None = None
    ) -> AuditEntry:
        """Append an entry to the hash-chained audit log; return it."""
        with self._write() as c:
            return append_entry(c, ts=self._now(), actor=actor, action=action, payload=payload)

    def audit_log(
        self, *, limit: int | None = None, actor: str | None = None, action: str | None = None
    ) -> list[AuditEntry]:
        """Return audit entries by seq (the newest `limit` if set)."""
        query = select(audit_log)
        if actor is not None:
            query = query.where(audit_log.c.actor == actor)
        if action is not None:
            query = query.where(audit_log.c.action == action)
        query = query.order_by(audit_log.c.seq.desc())
        if limit is not None:
            query = query.limit(limit)
        with self._read() as c:
            rows = c.execute(query).all()
        return [row_to_entry(r) for r in reversed(rows)]

    def verify_audit(self) -> AuditVerification:
        """Recompute the chain; return ok or the first bad seq (edited, deleted or reordered)."""
        with self._read() as c:
            return verify_entries(c.execute(select(audit_log).order_by(audit_log.c.seq)))
