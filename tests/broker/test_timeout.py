"""A timeout after the venue accepted an order: exactly one order exists afterwards."""

from __future__ import annotations

import pytest

from quantdesk.core import ManualClock, OrderStatus
from quantdesk.ledger import Ledger
from quantdesk.venue import FaultKind, SimulatedVenue

from .conftest import intent, make_gated

pytestmark = pytest.mark.integration


def venue_orders(venue: SimulatedVenue, cid: str) -> list:
    return [o for o in venue.orders() if o.client_order_id == cid]


def test_timeout_after_accept_leaves_exactly_one_order(venue: SimulatedVenue, ledger: Ledger, broker_clock: ManualClock) -> None:
    gated = make_gated(venue, ledger, broker_clock)
    gated.start()
    venue.inject(FaultKind.ACCEPT_THEN_TIMEOUT, "order", method="POST", delay_s=2.0)

    outcome = gated.submit(intent("qd-timeout-1", price="95"))

    assert outcome.ok, outcome
    assert len(venue_orders(venue, "qd-timeout-1")) == 1
    assert venue.request_count("order", "POST") == 1  # looked up, never re-sent
    row = ledger.order("qd-timeout-1")
    assert row is not None and row.status is OrderStatus.OPEN
    assert row.venue_order_id == str(venue_orders(venue, "qd-timeout-1")[0].order_id)
    # a retry of the same intent is answered from the ledger: still one order at the venue
    again = gated.submit(intent("qd-timeout-1", price="95"))
    assert again.code == "ALREADY_SUBMITTED"
    assert len(venue_orders(venue, "qd-timeout-1")) == 1
    assert venue.request_count("order", "POST") == 1


def test_unanswered_order_stays_in_flight_until_a_lookup_resolves_it(
    venue: SimulatedVenue, ledger: Ledger, broker_clock: ManualClock
) -> None:
    gated = make_gated(venue, ledger, broker_clock)
    gated.start()
    venue.inject(FaultKind.ACCEPT_THEN_TIMEOUT, "order", method="POST", delay_s=2.0)
    venue.inject(FaultKind.SERVER_ERROR, "order", method="GET", status=502, times=3)

    outcome = gated.submit(intent("qd-flight-1", price="95"))

    assert outcome.status is OrderStatus.SENT and "in flight" in (outcome.error or "")
    assert [o.client_order_id for o in ledger.in_flight_orders(venue="sim")] == ["qd-flight-1"]
    assert venue.request_count("order", "POST") == 1  # unknown is never a reason to send again
    # a new intent counts the in-flight one as active (the gate sees it)
    assert gated._context(intent("qd-flight-2", price="95")).active_orders["BTC/USDT"] == 1

    (resolved,) = gated.resolve_in_flight()
    assert resolved.status is OrderStatus.OPEN and not ledger.in_flight_orders(venue="sim")
    assert len(venue_orders(venue, "qd-flight-1")) == 1
