"""The ledger: source of truth for orders, fills, positions, risk events and the audit log."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace
from datetime import datetime
from decimal import Decimal
from types import SimpleNamespace
from typing import Any, Required, TypedDict

from sqlalchemy import Connection, func, select
from sqlalchemy.exc import IntegrityError

from quantdesk.core.clock import Clock
from quantdesk.core.errors import LedgerError
from quantdesk.core.money import to_decimal
from quantdesk.core.orders import OrderIntent
from quantdesk.core.types import OrderStatus, OrderType, Side
from quantdesk.ledger._types import canonical_json
from quantdesk.ledger.fills import _ORDER_BY_CID, LedgerFills, positive
from quantdesk.ledger.order_sql import (
    _ACTIVE_BY_SYMBOL,
    _IN_FLIGHT,
    _INSERT_EVENT,
    _INSERT_ORDER,
    _OPEN,
    _ORDER_BY_CID_FOR_UPDATE,
    _UPDATE_ORDER,
)
from quantdesk.ledger.records import OrderEventRecord, OrderRecord, PretradeView
from quantdesk.ledger.rows import check_transition, parse_enum, to_event, to_order
from quantdesk.ledger.schema import order_events, orders

__all__ = ["IntentRow", "Ledger"]

Money = Decimal | int | str | float


class IntentRow(TypedDict, total=False):
    """One order intent for `Ledger.record_intents`: `record_intent`'s keyword arguments."""

    client_order_id: Required[str]
    venue: Required[str]
    symbol: Required[str]
    side: Required[Side | str]
    order_type: Required[OrderType | str]
    qty: Required[Money]
    price: Money | None
    account: str
    deployment: str | None
    external: bool
    status: OrderStatus | str
    venue_order_id: str | None
    filled_qty: Money
    avg_price: Money | None
    source: str
    payload: Mapping[str, object] | None

class Ledger(LedgerFills):
    """Open the ledger database (SQLAlchemy 2 Core) and read/write its tables.

    `url` defaults to `get_settings().database_url` (SQLite in WAL mode under
    QUANTDESK_HOME; PostgreSQL via `QUANTDESK_DB_URL`, driver `postgresql+psycopg://`).
    `migrate=None` migrates an embedded SQLite file on open and only checks a PostgreSQL
    database (shared databases are migrated on purpose with `quantdesk db upgrade`);
    an out-of-date database raises LedgerError naming that command. Money is Decimal
    in and out; times are tz-aware UTC and default to `clock.now()`.
    Open one Ledger per process (after fork, not before).
    """

    def __init__(
        self, url: str | None = None, *, clock: Clock | None = None, migrate: bool | None = None
    ) -> None:
        super().__init__(url, clock=clock, migrate=migrate)

    def __enter__(self) -> Ledger:
        return self

    # -- orders ------------------------------------------------------------------------------
    def record_intent(
        self,
        *,
        client_order_id: str,
        venue: str,
        symbol: str,
        side: Side | str,
        order_type: OrderType | str,
        qty: Money,
        price: Money | None = None,
        account: str = "default",
        deployment: str | None = None,
        external: bool = False,
        status: OrderStatus | str = OrderStatus.PENDING,
        venue_order_id: str | None = None,
        filled_qty: Money = 0,
        avg_price: Money | None = None,
        source: str = "gate",
        payload: Mapping[str, object] | None = None,
    ) -> OrderRecord:
        """Store an order intent before it is sent; return its row.

        Idempotent by `client_order_id`: a second call returns the existing row (never a
        duplicate); LedgerError if the stored order differs in venue, symbol, side, type,
        qty or price. Reconciliation adopts venue-only orders with `external=True` and
        their venue status.
        """
        return self.record_intents([dict(
            client_order_id=client_order_id, venue=venue, symbol=symbol, side=side,
            order_type=order_type, qty=qty, price=price, account=account, deployment=deployment,
            external=external, status=status, venue_order_id=venue_order_id, filled_qty=filled_qty,
            avg_price=avg_price, source=source, payload=payload,
        )])[0]

    def record_intents(
        self, intents: Sequence[IntentRow], *, sent_source: str | None = None
    ) -> list[OrderRecord]:
        """Store several order intents in one transaction (one commit); return their rows in order.

        Each mapping holds `record_intent`'s keyword arguments, with its idempotency and checks;
        all are stored or none. With `sent_source`, each newly stored PENDING order also moves
        to SENT in the same transaction (event PENDING -> SENT from `sent_source`): the intent
        is durable before the caller hands it to the venue, and both stay in flight until the
        venue answers or a lookup resolves them.
        """
        prepared = [self._prepare_intent(**kw) for kw in intents]
        for attempt in range(2):
            try:
                with self._write() as c:
                    return [self._insert_intent(c, p, sent_source) for p in prepared]
            except IntegrityError:  # PostgreSQL: another process inserted one first; read theirs
                if attempt:
                    raise LedgerError(
                        f"cannot record orders {[p['client_order_id'] for p in prepared][:3]}: conflicting writes"
                    ) from None
        raise AssertionError("unreachable")

    @staticmethod
    def _prepare_intent(
        *,
        client_order_id: str,
        venue: str,
        symbol: str,
        side: Side | str,
        order_type: OrderType | str,
        qty: Money,
        price: Money | None = None,
        account: str = "default",
        deployment: str | None = None,
        external: bool = False,
        status: OrderStatus | str = OrderStatus.PENDING,
        venue_order_id: str | None = None,
        filled_qty: Money = 0,
        avg_price: Money | None = None,
        source: str = "gate",
        payload: Mapping[str, object] | None = None,
    ) -> dict[str, Any]:
        if not client_order_id or len(client_order_id) > 64:
            raise LedgerError(f"client order id must be 1-64 characters, got {client_order_id!r}")
        side_ = parse_enum(Side, side, "side")
        type_ = parse_enum(OrderType, order_type, "order type")
        status_ = parse_enum(OrderStatus, status, "order status")
        qty_ = positive(qty, "qty", client_order_id)
        price_ = None if price is None else positive(price, "price", client_order_id)
        if type_ is OrderType.LIMIT and price_ is None:
            raise LedgerError(f"limit order {client_order_id!r} needs a price")
        filled = to_decimal(filled_qty)
        if filled < 0 or filled > qty_:
            raise LedgerError(
                f"filled qty {filled} of {client_order_id!r} must be between 0 and qty {qty_}"
            )
        wanted = dict(venue=venue, account=account, symbol=symbol, side=side_.value,
                      order_type=type_.value, qty=qty_, price=price_)
        return dict(client_order_id=client_order_id, wanted=wanted, status=status_,
                    venue_order_id=venue_order_id, filled=filled, avg_price=avg_price,
                    external=external, deployment=deployment, source=source, payload=payload)

    def _insert_intent(self, c: Connection, p: dict[str, Any], sent_source: str | None) -> OrderRecord:
        client_order_id, wanted = p["client_order_id"], p["wanted"]
        row = c.execute(_ORDER_BY_CID, {"cid": client_order_id}).first()
        if row is not None:
            _check_same_order(client_order_id, row, wanted)
            return to_order(row)
        now = self._now()
        self._ensure_account(c, wanted["venue"], wanted["account"], now)
        status_, filled, avg_price, vid = p["status"], p["filled"], p["avg_price"], p["venue_order_id"]
        sent = sent_source is not None and status_ is OrderStatus.PENDING
        values = dict(client_order_id=client_order_id, status=(OrderStatus.SENT if sent else status_).value,
                      venue_order_id=vid, filled_qty=filled, avg_price=None if avg_price is None else to_decimal(avg_price),
                      external=p["external"], deployment=p["deployment"], created_at=now, updated_at=now, **wanted)
        order_id = c.execute(_INSERT_ORDER, values).inserted_primary_key[0]
        events = [_event(order_id, now, None, status_, p["source"], filled, avg_price, vid, p["payload"])]
        if sent:
            events.append(_event(order_id, now, status_, OrderStatus.SENT, sent_source, filled, avg_price, vid, None))
        c.execute(_INSERT_EVENT, events)  # both events in one executemany
        # the row as it now reads back (the column types keep these values exactly): no reload
        return to_order(SimpleNamespace(id=order_id, **values))

    def record_order_intent(
        self,
        intent: OrderIntent,
        *,
        account: str = "default",
        source: str = "gate",
        payload: Mapping[str, object] | None = None,
    ) -> OrderRecord:
        """Store an `OrderIntent` before it is sent (see `record_intent`); return its row."""
        extra = {"reduce_only": intent.reduce_only, "intent_ts": intent.ts, **(payload or {})}
        return self.record_intent(
            client_order_id=intent.client_order_id,
            venue=intent.venue,
            symbol=intent.symbol,
            side=intent.side,
            order_type=intent.type,
            qty=intent.qty,
            price=intent.price,
            account=account,
            deployment=intent.deployment,
            source=source,
            payload=extra,
        )

    def update_order(
        self,
        client_order_id: str,
        status: OrderStatus | str,
        *,
        venue_order_id: str | None = None,
        filled_qty: Money | None = None,
        avg_price: Money | None = None,
        source: str = "broker",
        payload: Mapping[str, object] | None = None,
    ) -> OrderRecord:
        """Move an order to `status`, appending an order event; return the new row.

        LedgerError for an unknown order, an illegal transition (out of a final state,
        or backwards such as OPEN -> SENT), a filled qty that shrinks or exceeds qty.
        Repeating the current status with nothing new is a no-op. FILLED without a
        filled qty means the whole qty; OPEN with a filled qty > 0 is stored as PARTIALLY_FILLED.
        """
        new = parse_enum(OrderStatus, status, "order status")
        with self._write() as c:
            row = self._order_for_update(c, client_order_id)
            return self._update(c, row, new, venue_order_id, filled_qty, avg_price, source, payload)

    def record_answer(
        self,
        client_order_id: str,
        status: OrderStatus | str,
        *,
        venue_order_id: str | None = None,
        filled_qty: Money = 0,
        avg_price: Money | None = None,
        source: str = "venue",
    ) -> tuple[OrderRecord, bool]:
        """Apply a venue's answer about an order; return the row and whether the answer applied.

        As `update_order` (one read and one write), except that an order already final is
        returned unchanged with False (a late or repeated answer), and a filled qty below the
        stored one keeps the stored one (answers may arrive out of order; fills only grow).
        """
        new = parse_enum(OrderStatus, status, "order status")
        with self._write() as c:
            row = self._order_for_update(c, client_order_id)
            if OrderStatus(row.status).is_final:
                return to_order(row), False
            filled = max(to_decimal(filled_qty), row.filled_qty)
            return self._update(c, row, new, venue_order_id, filled, avg_price, source, None), True

    @staticmethod
    def _order_for_update(c: Connection, client_order_id: str) -> Any:
        row = c.execute(_ORDER_BY_CID_FOR_UPDATE, {"cid": client_order_id}).first()
        if row is None:
            raise LedgerError(
                f"no order with client order id {client_order_id!r} in the ledger: record the intent first"
            )
        return row

    def _update(self, c: Connection, row: Any, new: OrderStatus, venue_order_id: str | None,
                filled_qty: Money | None, avg_price: Money | None, source: str,
                payload: Mapping[str, object] | None) -> OrderRecord:
        """Move the locked order `row` to `new` (the checks of `update_order`); return the new row."""
        client_order_id = row.client_order_id
        current = OrderStatus(row.status)
        if filled_qty is not None:
            filled = to_decimal(filled_qty)
        else:
            filled = row.qty if new is OrderStatus.FILLED else row.filled_qty
        if filled < row.filled_qty or filled > row.qty:
            raise LedgerError(
                f"filled qty of {client_order_id!r} cannot become {filled}: it is {row.filled_qty} "
                f"and may only grow up to qty {row.qty}"
            )
        if new is OrderStatus.OPEN and filled > 0:
            # ccxt calls a working order with fills "open"; the ledger records it as partially filled
            new = OrderStatus.PARTIALLY_FILLED
        check_transition(client_order_id, current, new)
        if venue_order_id and row.venue_order_id and venue_order_id != row.venue_order_id:
            raise LedgerError(
                f"order {client_order_id!r} already has venue order id {row.venue_order_id!r}, "
                f"not {venue_order_id!r}: reconcile with the venue"
            )
        vid = venue_order_id or row.venue_order_id
        avg = row.avg_price if avg_price is None else to_decimal(avg_price)
        if (
            new is current
            and filled == row.filled_qty
            and avg == row.avg_price
            and vid == row.venue_order_id
        ):
            return to_order(row)
        now = self._now()
        c.execute(_UPDATE_ORDER, dict(oid=row.id, status=new.value, filled_qty=filled, avg_price=avg,
                                      venue_order_id=vid, updated_at=now))
        self._append_event(c, row.id, now, current, new, source, filled, avg, vid, payload)
        return replace(to_order(row), status=new, filled_qty=filled, avg_price=avg, venue_order_id=vid,
                       updated_at=now)

    @staticmethod
    def _append_event(
        c: Connection,
        order_id: int,
        ts: datetime,
        old: OrderStatus | None,
        new: OrderStatus,
        source: str,
        filled: Decimal,
        avg: Money | None,
        vid: str | None,
        payload: Mapping[str, object] | None,
    ) -> None:
        c.execute(_INSERT_EVENT, _event(order_id, ts, old, new, source, filled, avg, vid, payload))

    def order(self, client_order_id: str) -> OrderRecord | None:
        """Return the order with this client order id, or None."""
        with self._read() as c:
            row = c.execute(_ORDER_BY_CID, {"cid": client_order_id}).first()
        return None if row is None else to_order(row)

    def pretrade(
        self,
        client_order_id: str,
        *,
        venue: str,
        account: str,
        deployment: str | None = None,
        fills_after_id: int | None = None,
    ) -> PretradeView:
        """Return the stored order of `client_order_id`, positions and active order counts in one read.

        One snapshot for the gated broker's pre-trade reads (`order`, `positions`,
        `active_order_counts`), instead of a transaction each. With `deployment` and
        `fills_after_id`, also that deployment's fills after the id (as `fills(...)` gives them).
        """
        with self._read() as c:
            row = c.execute(_ORDER_BY_CID, {"cid": client_order_id}).first()
            totals = self._position_totals(c)
            active = c.execute(_ACTIVE_BY_SYMBOL, {"venue": venue}).all()
            new = None
            if deployment is not None and fills_after_id is not None:
                new = self._deployment_fills_after(c, deployment, venue, account, fills_after_id)
        positions = {s: q for (v, a, s), (q, *_rest) in totals.items() if v == venue and a == account}
        return PretradeView(client_order_id=client_order_id, order=None if row is None else to_order(row),
                            positions=positions, active_orders={symbol: int(n) for symbol, n in active},
                            fills=new)

    def order_by_venue_id(self, venue: str, venue_order_id: str) -> OrderRecord | None:
        """Return the order the venue knows as `venue_order_id`, or None."""
        with self._read() as c:
            row = c.execute(
                select(orders).where(
                    orders.c.venue == venue, orders.c.venue_order_id == venue_order_id
                )
            ).first()
        return None if row is None else to_order(row)

    def order_history(self, client_order_id: str) -> list[OrderEventRecord]:
        """Return every status transition of the order, oldest first."""
        with self._read() as c:
            rows = c.execute(
                select(order_events)
                .join(orders, orders.c.id == order_events.c.order_id)
                .where(orders.c.client_order_id == client_order_id)
                .order_by(order_events.c.id)
            ).all()
        return [to_event(r, client_order_id) for r in rows]

    def orders(
        self,
        *,
        venue: str | None = None,
        account: str | None = None,
        symbol: str | None = None,
        deployment: str | None = None,
        statuses: Sequence[OrderStatus | str] | None = None,
        since: datetime | None = None,
        limit: int | None = None,
    ) -> list[OrderRecord]:
        """Return orders matching every given filter, oldest first (newest `limit` if set)."""
        query = select(orders)
        for column, value in (
            ("venue", venue),
            ("account", account),
            ("symbol", symbol),
            ("deployment", deployment),
        ):
            if value is not None:
                query = query.where(orders.c[column] == value)
        if statuses is not None:
            query = query.where(
                orders.c.status.in_(
                    [parse_enum(OrderStatus, s, "order status").value for s in statuses]
                )
            )
        if since is not None:
            query = query.where(orders.c.created_at >= since)
        query = query.order_by(orders.c.id.desc())
        if limit is not None:
            query = query.limit(limit)
        with self._read() as c:
            rows = c.execute(query).all()
        return [to_order(r) for r in reversed(rows)]

    def open_orders(
        self, *, venue: str | None = None, symbol: str | None = None, deployment: str | None = None
    ) -> list[OrderRecord]:
        """Return orders the venue acknowledged and that are still working (OPEN, PARTIALLY_FILLED)."""
        return self.orders(venue=venue, symbol=symbol, deployment=deployment, statuses=_OPEN)

    def active_order_counts(self, *, venue: str | None = None) -> dict[str, int]:
        """Return how many open or in-flight orders (OPEN, PARTIALLY_FILLED, PENDING, SENT) each symbol has."""
        with self._read() as c:
            if venue is not None:  # the status index, not the venue's whole history (see _ACTIVE_BY_SYMBOL)
                rows = c.execute(_ACTIVE_BY_SYMBOL, {"venue": venue}).all()
            else:
                rows = c.execute(select(orders.c.symbol, func.count())
                                 .where(orders.c.status.in_([s.value for s in (*_OPEN, *_IN_FLIGHT)]))
                                 .group_by(orders.c.symbol)).all()
        return {symbol: int(n) for symbol, n in rows}

    def in_flight_orders(
        self, *, venue: str | None = None, symbol: str | None = None, deployment: str | None = None
    ) -> list[OrderRecord]:
        """Return orders written but not acknowledged by the venue (PENDING, SENT).

        PENDING counts as in flight because a crash between send and answer leaves the
        order PENDING although the venue may have it: resolve these by lookup.
        """
        return self.orders(venue=venue, symbol=symbol, deployment=deployment, statuses=_IN_FLIGHT)


def _check_same_order(client_order_id: str, row: Any, wanted: dict[str, Any]) -> None:
    for key, value in wanted.items():
        if getattr(row, key) != value:
            raise LedgerError(
                f"client order id {client_order_id!r} is already recorded with {key}={getattr(row, key)!r}, "
                f"not {value!r}: derive a new client order id for a different order"
            )


def _event(order_id: int, ts: datetime, old: OrderStatus | None, new: OrderStatus, source: str, filled: Decimal,
           avg: Money | None, vid: str | None, payload: Mapping[str, object] | None) -> dict[str, Any]:
    """The `order_events` row of one status change."""
    return dict(order_id=order_id, ts=ts, from_status=None if old is None else old.value, to_status=new.value,
                source=source, filled_qty=filled, avg_price=avg, venue_order_id=vid,
                payload=canonical_json(dict(payload or {})) if payload else "{}")
