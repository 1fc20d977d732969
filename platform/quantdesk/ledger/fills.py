"""Fills and the positions computed from them (the sum of unique fills)."""

from __future__ import annotations

import threading
from contextlib import nullcontext
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import Connection, bindparam, select
from sqlalchemy.exc import IntegrityError

from quantdesk.core.clock import ensure_utc
from quantdesk.core.errors import LedgerError
from quantdesk.core.money import to_decimal
from quantdesk.core.types import Side
from quantdesk.ledger.records import FillRecord, OrderRecord, PositionRecord
from quantdesk.ledger.rows import parse_enum, to_fill
from quantdesk.ledger.schema import fills, orders
from quantdesk.ledger.state import LedgerState

__all__ = ["LedgerFills", "positive"]

Money = Decimal | int | str | float


def positive(value: Money, what: str, key: str) -> Decimal:
    """Return `value` as a Decimal, or raise LedgerError unless it is a finite number > 0."""
    amount = to_decimal(value)
    if not amount.is_finite() or amount <= 0:
        raise LedgerError(f"{what} of {key!r} must be a positive number, got {value!r}")
    return amount


# built once: a fill is recorded with every order (see ledger.py on prebuilt statements)
_FILL_BY_TRADE = select(fills).where(fills.c.venue == bindparam("v"), fills.c.trade_id == bindparam("t"))
_ORDER_BY_CID = select(orders).where(orders.c.client_order_id == bindparam("cid"))
_ORDER_BY_VID = select(orders).where(orders.c.venue == bindparam("v"), orders.c.venue_order_id == bindparam("vid"))
_INSERT_FILL = fills.insert()


class LedgerFills(LedgerState):
    """Venue trades, unique per (venue, trade id), and positions as their sum."""

    # -- fills and positions -------------------------------------------------------------------
    def record_fill(
        self,
        *,
        venue: str,
        trade_id: str,
        symbol: str,
        side: Side | str,
        qty: Money,
        price: Money,
        ts: datetime,
        fee: Money = 0,
        fee_currency: str | None = None,
        account: str = "default",
        client_order_id: str | None = None,
        venue_order_id: str | None = None,
        order: OrderRecord | None = None,
    ) -> FillRecord:
        """Store one venue trade; return its row.

        Idempotent by (venue, trade_id): a repeat returns the stored fill; LedgerError if it
        differs in symbol, side, qty or price. The order link is found by client order id,
        else by venue order id; fills of unknown orders are kept unlinked. `order`: the
        order's row when the caller holds it (read in the same transaction), which skips the
        lookup.
        """
        if not trade_id:
            raise LedgerError(f"a fill on {venue!r} needs the venue's trade id")
        side_ = parse_enum(Side, side, "side")
        wanted = dict(
            symbol=symbol,
            side=side_.value,
            qty=positive(qty, "qty", trade_id),
            price=positive(price, "price", trade_id),
        )
        for attempt in range(2):
            try:
                with self._write() as c:
                    row = c.execute(_FILL_BY_TRADE, {"v": venue, "t": trade_id}).first()
                    if row is not None:
                        _check_same_fill(venue, trade_id, row, wanted)
                        return to_fill(row)
                    found: Any = order
                    if found is None and client_order_id is not None:
                        found = c.execute(_ORDER_BY_CID, {"cid": client_order_id}).first()
                    if found is None and venue_order_id is not None:
                        found = c.execute(_ORDER_BY_VID, {"v": venue, "vid": venue_order_id}).first()
                    if found is not None:  # the order row is authoritative for the account
                        account, client_order_id = found.account, found.client_order_id
                        venue_order_id = venue_order_id or found.venue_order_id
                    now = self._now()
                    self._ensure_account(c, venue, account, now)
                    fill_id = c.execute(
                        _INSERT_FILL,
                        dict(
                            venue=venue,
                            account=account,
                            trade_id=trade_id,
                            order_id=None if found is None else found.id,
                            client_order_id=client_order_id,
                            venue_order_id=venue_order_id,
                            fee=to_decimal(fee),
                            fee_currency=fee_currency,
                            ts=ts,
                            recorded_at=now,
                            **wanted,
                        ),
                    ).inserted_primary_key[0]
                    # the row as it now reads back (the column types keep these values exactly)
                    return FillRecord(
                        id=fill_id, venue=venue, account=account, trade_id=trade_id,
                        order_id=None if found is None else found.id, client_order_id=client_order_id,
                        venue_order_id=venue_order_id, symbol=symbol, side=side_, qty=wanted["qty"],
                        price=wanted["price"], fee=to_decimal(fee), fee_currency=fee_currency,
                        ts=ensure_utc(ts).astimezone(UTC), recorded_at=now)
            except IntegrityError:  # PostgreSQL: another process stored the same trade first
                if attempt:
                    raise LedgerError(
                        f"cannot record fill {venue}/{trade_id}: conflicting writes"
                    ) from None
        raise AssertionError("unreachable")

    def fills(
        self,
        *,
        venue: str | None = None,
        account: str | None = None,
        symbol: str | None = None,
        client_order_id: str | None = None,
        since: datetime | None = None,
        limit: int | None = None,
        deployment: str | None = None,
        after_id: int | None = None,
    ) -> list[FillRecord]:
        """Return fills matching every given filter, by trade time (newest `limit` if set).

        `deployment`: only fills of that deployment's orders (on `venue`, when given).
        `after_id`: only fills stored after the fill with this id (fill ids only grow).
        """
        if (after_id is not None and deployment is not None and venue is not None and account is not None
                and symbol is None and client_order_id is None and since is None and limit is None):
            # the live runner's per-bar question, on a statement built once
            with self._read() as c:
                return self._deployment_fills_after(c, deployment, venue, account, after_id)
        if client_order_id is not None and all(v is None for v in (venue, account, symbol, since, limit, deployment,
                                                                    after_id)):
            with self._read() as c:  # an order's fills: the runner books them after each decision
                return [to_fill(r) for r in c.execute(_FILLS_OF_ORDER, {"cid": client_order_id}).all()]
        query = select(fills)
        if after_id is not None:
            query = query.where(fills.c.id > after_id)
        if deployment is not None:
            # a correlated EXISTS looks each candidate fill's order up by its unique client order id;
            # `IN (subquery)` scanned every order of every deployment on each call
            mine = select(orders.c.id).where(
                orders.c.client_order_id == fills.c.client_order_id, orders.c.deployment == deployment
            )
            if venue is not None:
                mine = mine.where(orders.c.venue == venue)
            query = query.where(mine.exists())
        for column, value in (
            ("venue", venue),
            ("account", account),
            ("symbol", symbol),
            ("client_order_id", client_order_id),
        ):
            if value is not None:
                query = query.where(fills.c[column] == value)
        if since is not None:
            query = query.where(fills.c.ts >= since)
        query = query.order_by(fills.c.ts.desc(), fills.c.id.desc())
        if limit is not None:
            query = query.limit(limit)
        with self._read() as c:
            rows = c.execute(query).all()
        return [to_fill(r) for r in reversed(rows)]

    @staticmethod
    def _deployment_fills_after(
        c: Connection, deployment: str, venue: str, account: str, after_id: int
    ) -> list[FillRecord]:
        params = {"after_id": after_id, "deployment": deployment, "venue": venue, "account": account}
        return [to_fill(r) for r in c.execute(_DEPLOYMENT_FILLS_AFTER, params).all()]

    def position(
        self, symbol: str, *, account: str | None = None, venue: str | None = None
    ) -> Decimal:
        """Return the net quantity of `symbol`: the sum of signed unique fills."""
        return sum(
            (f.signed_qty for f in self.fills(symbol=symbol, account=account, venue=venue)),
            Decimal(0),
        )

    def positions(
        self, *, venue: str | None = None, account: str | None = None
    ) -> list[PositionRecord]:
        """Return one computed position per (venue, account, symbol) that has fills."""
        totals = self._position_totals()
        return [
            PositionRecord(venue=v, account=a, symbol=s, qty=q, cost=cost, fees=fee, fill_count=n)
            for (v, a, s), (q, cost, fee, n) in sorted(totals.items())
            if (venue is None or v == venue) and (account is None or a == account)
        ]

    def _position_totals(
        self, connection: Connection | None = None
    ) -> dict[tuple[str, str, str], list[Any]]:
        """Return the sums of all fills per (venue, account, symbol), reading only new fills.

        `connection`: read inside the caller's transaction (one snapshot with its other reads).

        Fills are append-only (the database refuses UPDATE and DELETE since revision 0012). On
        SQLite writers are serialized, so fill ids grow in commit order and the sums carry
        forward from the last id seen: one indexed read of the fills after it. Sums read inside
        an open write unit are not kept (it may still roll back and its ids be reused).
        PostgreSQL sequences may commit out of order, so there every call sums all fills.
        """
        in_unit = getattr(self._units, "open", None) is not None
        keep = self._engine.dialect.name == "sqlite" and not in_unit
        lock = self.__dict__.setdefault("_positions_lock", threading.Lock())
        with lock:
            cache = self.__dict__.get("_positions_cache") if self._engine.dialect.name == "sqlite" else None
            last_id, totals = cache if cache is not None else (0, {})
            with nullcontext(connection) if connection is not None else self._read() as c:
                rows = c.execute(_POSITION_FILLS_AFTER, {"last_id": last_id}).all()
            if not rows:
                return totals
            totals = dict(totals)
            for r in rows:
                key = (r.venue, r.account, r.symbol)
                old = totals.get(key)
                q, cost, fee, n = old if old is not None else (Decimal(0), Decimal(0), Decimal(0), 0)
                signed = r.qty if r.side == Side.BUY.value else -r.qty
                totals[key] = (q + signed, cost + signed * r.price, fee + r.fee, n + 1)
                last_id = max(last_id, r.id)
            if keep:
                self.__dict__["_positions_cache"] = (last_id, totals)
            return totals


# built once (each decision reads positions): construction cost more than these indexed reads
_POSITION_COLUMNS = (fills.c.id, fills.c.venue, fills.c.account, fills.c.symbol, fills.c.side, fills.c.qty,
                     fills.c.price, fills.c.fee)
_POSITION_FILLS_AFTER = select(*_POSITION_COLUMNS).where(fills.c.id > bindparam("last_id")).order_by(fills.c.id)
_FILLS_OF_ORDER = select(fills).where(fills.c.client_order_id == bindparam("cid")).order_by(fills.c.ts, fills.c.id)
_DEPLOYMENT_FILLS_AFTER = (
    select(fills)
    .where(
        fills.c.id > bindparam("after_id"),
        fills.c.venue == bindparam("venue"),
        fills.c.account == bindparam("account"),
        select(orders.c.id)
        .where(
            orders.c.client_order_id == fills.c.client_order_id,
            orders.c.deployment == bindparam("deployment"),
            orders.c.venue == bindparam("venue"),
        )
        .exists(),
    )
    .order_by(fills.c.ts, fills.c.id)
)


def _check_same_fill(venue: str, trade_id: str, row: Any, wanted: dict[str, Any]) -> None:
    for key, value in wanted.items():
        if getattr(row, key) != value:
            raise LedgerError(
                f"trade {venue}/{trade_id} is already recorded with {key}={getattr(row, key)!r}, not {value!r}: "
                "the venue reported one trade id twice with different contents; reconcile"
            )
