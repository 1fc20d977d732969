"""Reconciliation: make the ledger agree with the venue, or say precisely why it cannot.

The venue is the authority on what it has: orders it knows and the ledger does not are
adopted (`external=True`), statuses and filled quantities that differ are corrected,
missing fills are recorded (idempotently), in-flight orders are resolved by lookup, and a
balance snapshot is stored. Anything that cannot be fixed is listed in `unresolved`, and
the gated broker refuses to trade until `agreed` is True.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any

from quantdesk.broker.types import Balance, Broker, BrokerFill, BrokerOrder
from quantdesk.core.errors import BrokerError, LedgerError, OrderNotFoundError
from quantdesk.core.types import OrderStatus
from quantdesk.ledger import Ledger

__all__ = ["ReconcileReport", "reconcile"]

_SOURCE = "reconcile"


@dataclass(frozen=True, slots=True, kw_only=True)
class ReconcileReport:
    """What reconciliation found and changed; `agreed` says whether trading may start."""

    venue: str
    agreed: bool
    adopted_orders: tuple[str, ...] = ()
    corrected_orders: tuple[str, ...] = ()
    closed_orders: tuple[str, ...] = ()
    recorded_fills: tuple[str, ...] = ()
    unresolved: tuple[str, ...] = ()
    open_orders: int = 0
    balances: dict[str, Decimal] = field(default_factory=dict)

    @property
    def changed(self) -> bool:
        return bool(self.adopted_orders or self.corrected_orders or self.closed_orders or self.recorded_fills)


def reconcile(
    ledger: Ledger,
    broker: Broker,
    *,
    venue: str | None = None,
    account: str = "default",
    since: datetime | None = None,
    symbols: tuple[str, ...] | list[str] = (),
) -> ReconcileReport:
    """Compare the ledger with the venue (open orders, fills since `since`, balances) and fix the ledger."""
    venue = venue or broker.name
    known_symbols = set(symbols) | {o.symbol for o in ledger.orders(venue=venue, account=account)}
    adopted: list[str] = []
    corrected: list[str] = []
    closed: list[str] = []
    unresolved: list[str] = []

    try:
        venue_open = {o.client_order_id: o for o in broker.open_orders()}
    except BrokerError as e:
        # without the venue's open orders nothing can be compared: refuse to agree
        return ReconcileReport(venue=venue, agreed=False, unresolved=(f"open orders: fetching them failed ({e})",))
    known_symbols |= {o.symbol for o in venue_open.values()}
    if hasattr(broker, "track_symbols"):
        broker.track_symbols(sorted(known_symbols))

    # 1. every order the ledger thinks is working or in flight: ask the venue
    working = ledger.in_flight_orders(venue=venue) + ledger.open_orders(venue=venue)
    for row in working:
        if row.account != account:
            continue
        remote = venue_open.get(row.client_order_id)
        if remote is None:
            try:
                remote = broker.fetch_order(row.client_order_id, row.symbol)
            except OrderNotFoundError:
                _close_missing(ledger, row, closed)
                continue
            except BrokerError as e:
                unresolved.append(f"order {row.client_order_id}: lookup failed ({e})")
                continue
        if _apply(ledger, row, remote, unresolved):
            corrected.append(row.client_order_id)

    # 2. open orders at the venue that the ledger does not know: adopt them
    for cid, remote in venue_open.items():
        known = ledger.order(cid)
        if known is None:
            _adopt(ledger, remote, venue=venue, account=account)
            adopted.append(cid)
        elif known.status.is_final:
            unresolved.append(f"order {cid}: the ledger says {known.status}, the venue says it is {remote.status}")

    # 3. fills: record every venue trade the ledger lacks, adopting unknown orders
    have = {f.trade_id for f in ledger.fills(venue=venue, account=account)}
    try:
        remote_fills = broker.fills_since(since)
    except BrokerError as e:
        remote_fills = []
        unresolved.append(f"fills: fetching the venue's trades failed ({e})")
    recorded: list[str] = []
    for fill in remote_fills:
        if fill.trade_id in have:
            continue
        fill_cid = _order_for_fill(ledger, broker, fill, venue=venue, account=account, adopted=adopted)
        ledger.record_fill(
            venue=venue, account=account, trade_id=fill.trade_id, symbol=fill.symbol, side=fill.side,
            qty=fill.qty, price=fill.price, ts=fill.ts, fee=fill.fee, fee_currency=fill.fee_currency,
            client_order_id=fill_cid, venue_order_id=fill.venue_order_id,
        )
        have.add(fill.trade_id)
        recorded.append(fill.trade_id)

    # 4. balances: a snapshot for dashboards and later comparisons
    balances: dict[str, Balance] = {}
    try:
        balances = broker.balances()
    except BrokerError as e:
        unresolved.append(f"balances: fetching them failed ({e})")
    if balances:
        ledger.record_balances(
            venue=venue, account=account,
            totals={a: b.total for a, b in balances.items()},
            free={a: b.free for a, b in balances.items()},
            used={a: b.used for a, b in balances.items()},
        )

    # 5. agreement: the same working orders on both sides
    ledger_open = {o.client_order_id for o in ledger.open_orders(venue=venue) + ledger.in_flight_orders(venue=venue)
                   if o.account == account}  # another account's orders are another reconciliation's
    for cid in sorted(ledger_open ^ set(venue_open)):
        message = f"order {cid}: open on one side only after reconciliation"
        if message not in unresolved:
            unresolved.append(message)
    return ReconcileReport(
        venue=venue,
        agreed=not unresolved,
        adopted_orders=tuple(dict.fromkeys(adopted)),
        corrected_orders=tuple(corrected),
        closed_orders=tuple(closed),
        recorded_fills=tuple(recorded),
        unresolved=tuple(unresolved),
        open_orders=len(venue_open),
        balances={a: b.total for a, b in balances.items()},
    )


def _apply(ledger: Any, row: Any, remote: BrokerOrder, unresolved: list[str]) -> bool:
    """Move the ledger row to the venue's state; return whether anything changed."""
    filled = max(remote.filled_qty, row.filled_qty)
    same = (
        row.status == remote.status
        and row.filled_qty == filled
        and (remote.venue_order_id is None or row.venue_order_id == remote.venue_order_id)
    )
    if same:
        return False
    try:
        ledger.update_order(
            row.client_order_id, remote.status, venue_order_id=remote.venue_order_id, filled_qty=filled,
            avg_price=remote.average_price, source=_SOURCE,
            payload={"reason": "venue state differs from ledger", "ledger_status": str(row.status)},
        )
    except LedgerError as e:
        unresolved.append(f"order {row.client_order_id}: cannot apply the venue's {remote.status} ({e})")
        return False
    return True


def _close_missing(ledger: Any, row: Any, closed: list[str]) -> None:
    """The venue certainly has no such order: an unsent intent is rejected, a lost one expired."""
    in_flight = row.status in (OrderStatus.PENDING, OrderStatus.SENT)
    status = OrderStatus.REJECTED if in_flight else OrderStatus.EXPIRED
    ledger.update_order(
        row.client_order_id, status, source=_SOURCE,
        payload={"reason": "the venue has no order with this client order id"},
    )
    closed.append(row.client_order_id)


def _adopt(ledger: Any, remote: BrokerOrder, *, venue: str, account: str) -> None:
    ledger.record_intent(
        client_order_id=remote.client_order_id, venue=venue, symbol=remote.symbol, side=remote.side,
        order_type=remote.order_type, qty=remote.qty, price=remote.price, account=account,
        external=True, status=remote.status, venue_order_id=remote.venue_order_id,
        filled_qty=remote.filled_qty, avg_price=remote.average_price, source=_SOURCE,
        payload={"reason": "known at the venue, not in the ledger"},
    )


def _order_for_fill(
    ledger: Any, broker: Broker, fill: BrokerFill, *, venue: str, account: str, adopted: list[str]
) -> str | None:
    """Return the client order id a fill belongs to, adopting its order when the ledger lacks it."""
    if fill.client_order_id and ledger.order(fill.client_order_id) is not None:
        return fill.client_order_id
    if fill.venue_order_id:
        row = ledger.order_by_venue_id(venue, fill.venue_order_id)
        if row is not None:
            return row.client_order_id
        lookup = getattr(broker, "fetch_order_by_venue_id", None)
        if lookup is not None:
            try:
                remote = lookup(fill.venue_order_id, fill.symbol)
            except BrokerError:
                return fill.client_order_id
            if remote.client_order_id and ledger.order(remote.client_order_id) is None:
                _adopt(ledger, remote, venue=venue, account=account)
                adopted.append(remote.client_order_id)
            return remote.client_order_id or None
    return fill.client_order_id
