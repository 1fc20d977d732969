"""The order statements of the ledger, built once (see `Ledger`).

Executing a prebuilt statement with a parameter dict skips SQLAlchemy's per-call construction
and coercion, which cost more than these indexed reads and writes (most of an order's cost in
replay before).
"""

from __future__ import annotations

from sqlalchemy import bindparam, func, literal, or_, select

from quantdesk.core.types import OrderStatus
from quantdesk.ledger.fills import _ORDER_BY_CID
from quantdesk.ledger.schema import order_events, orders

__all__: list[str] = []  # private to the ledger package

_OPEN = (OrderStatus.OPEN, OrderStatus.PARTIALLY_FILLED)
_IN_FLIGHT = (OrderStatus.PENDING, OrderStatus.SENT)
_ORDER_BY_CID_FOR_UPDATE = _ORDER_BY_CID.with_for_update()
_INSERT_ORDER = orders.insert()
_INSERT_EVENT = order_events.insert()
_UPDATE_ORDER = orders.update().where(orders.c.id == bindparam("oid"))
# The venue is compared as an expression (`venue || ''`) on purpose: given a plain column,
# SQLite's planner walks the venue index, i.e. every order ever sent there (a pre-trade read
# that grew with history: 0.3 ms at 2,000 orders); this way it searches the status index,
# which holds only the few working orders.
_ACTIVE_BY_SYMBOL = (
    select(orders.c.symbol, func.count())
    .where(
        or_(*(orders.c.status == literal(s.value) for s in (*_OPEN, *_IN_FLIGHT))),
        orders.c.venue.concat("") == bindparam("venue"),
    )
    .group_by(orders.c.symbol)
)
