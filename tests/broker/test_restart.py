"""Crashes and downtime: on restart, reconciliation makes the ledger agree with the venue."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

import pytest

from quantdesk.core import ManualClock, OrderStatus, Side
from quantdesk.ledger import Ledger
from quantdesk.venue import FillPolicy, SimulatedVenue, binance_client

from .conftest import CANARY_KEY, CANARY_SECRET, SYMBOL, intent, make_gated

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[2]

# Runs the gated broker in another process; the broker it wraps prints SENT after the venue
# accepted the order and then hangs, so the parent can kill it before the answer is recorded.
CHILD = textwrap.dedent(
    """
    import sys, time
    from datetime import UTC, datetime
    from decimal import Decimal
    from quantdesk.broker import CcxtBroker, GatedBroker
    from quantdesk.core import ManualClock, OrderIntent, OrderType, Side
    from quantdesk.ledger import Ledger
    from quantdesk.risk import RiskConfig, RiskGate
    from quantdesk.venue import binance_client

    url, db_url, key, secret = sys.argv[1:5]

    class HangsAfterSend(CcxtBroker):
        def create_order(self, intent):
            answer = super().create_order(intent)
            print("SENT", answer.client_order_id, flush=True)
            time.sleep(120)
            return answer

    clock = ManualClock(datetime(2024, 1, 1, tzinfo=UTC))
    ledger = Ledger(db_url, migrate=True)
    broker = HangsAfterSend(binance_client(url, api_key=key, api_secret=secret, timeout_ms=2000), name="sim", clock=clock)
    gated = GatedBroker(broker, ledger, RiskGate(RiskConfig.from_dict({}), clock, ledger), venue="sim", clock=clock)
    gated.start()
    gated.submit(OrderIntent(client_order_id="qd-crash-1", deployment="dep", venue="sim", symbol="BTC/USDT",
                             side=Side.BUY, type=OrderType.LIMIT, qty=Decimal("0.2"), price=Decimal("95"),
                             ts=clock.now()))
    """
)


def run_until_sent_then_kill(venue: SimulatedVenue, db_url: str, tmp_path: Path) -> None:
    script = tmp_path / "child.py"
    script.write_text(CHILD)
    env = {**os.environ, "PYTHONPATH": str(REPO / "platform")}
    proc = subprocess.Popen(
        [sys.executable, str(script), venue.url, db_url, CANARY_KEY, CANARY_SECRET],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
    )
    try:
        line = proc.stdout.readline() if proc.stdout else ""
        assert line.startswith("SENT"), f"child did not send: {line!r} {proc.stderr.read() if proc.stderr else ''}"
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
        for stream in (proc.stdout, proc.stderr):
            if stream:
                stream.close()
    assert proc.returncode == -signal.SIGKILL


def test_crash_between_send_and_record_is_adopted_on_restart(
    venue: SimulatedVenue, ledger_url: str, tmp_path: Path, broker_clock: ManualClock
) -> None:
    run_until_sent_then_kill(venue, ledger_url, tmp_path)
    with Ledger(ledger_url) as ledger:
        before = ledger.order("qd-crash-1")
        assert before is not None and before.status is OrderStatus.SENT  # the answer was never recorded

        gated = make_gated(venue, ledger, broker_clock)
        report = gated.start()

        assert report.agreed and "qd-crash-1" in report.corrected_orders
        row = ledger.order("qd-crash-1")
        at_venue = [o for o in venue.orders() if o.client_order_id == "qd-crash-1"]
        assert len(at_venue) == 1  # no duplicate
        assert row.status is OrderStatus.OPEN and row.venue_order_id == str(at_venue[0].order_id)
        # no orphan: every venue order is in the ledger, every ledger order at the venue
        assert {o.client_order_id for o in venue.orders()} == {o.client_order_id for o in ledger.orders(venue="sim")}
        assert [e.to_status for e in ledger.order_history("qd-crash-1")][-1] is OrderStatus.OPEN
        # trading works again, and the same intent is not sent twice
        assert gated.submit(intent("qd-crash-1", price="95")).code == "ALREADY_SUBMITTED"
        assert len([o for o in venue.orders() if o.client_order_id == "qd-crash-1"]) == 1


def test_partial_fills_and_cancel_while_down(venue: SimulatedVenue, ledger: Ledger, broker_clock: ManualClock) -> None:
    venue.set_fill_policy(FillPolicy(fraction_per_bar=0.25))
    gated = make_gated(venue, ledger, broker_clock)
    gated.start()
    placed = gated.submit(intent("qd-part-1", qty="0.4", price="99.5"))
    assert placed.status is OrderStatus.OPEN
    del gated  # the process goes down here

    # while it is down: bars trade through the limit (partial fills), then someone cancels at the venue
    venue.advance(by=timedelta(minutes=2))
    operator = binance_client(venue)
    operator.cancel_order("", SYMBOL, {"origClientOrderId": "qd-part-1"})
    # and someone places an order by hand that the ledger never saw
    operator.create_order(SYMBOL, "limit", "buy", 0.1, 90.0, {"newClientOrderId": "by-hand-1"})

    restarted = make_gated(venue, ledger, broker_clock)
    report = restarted.start()

    assert report.agreed, report.unresolved
    venue_trades = venue.trades(SYMBOL)
    assert len(venue_trades) > 0
    assert sorted(f.trade_id for f in ledger.fills(venue="sim")) == sorted(str(t.trade_id) for t in venue_trades)
    venue_qty = sum((t.qty if t.side == "BUY" else -t.qty for t in venue_trades), Decimal(0))
    assert 0 < venue_qty < Decimal("0.4")
    assert ledger.position(SYMBOL, venue="sim") == venue_qty
    row = ledger.order("qd-part-1")
    assert row.status is OrderStatus.CANCELED and row.filled_qty == venue_qty
    adopted = ledger.order("by-hand-1")
    assert adopted is not None and adopted.external and adopted.status is OrderStatus.OPEN
    assert adopted.side is Side.BUY and "by-hand-1" in report.adopted_orders
    # a second pass finds nothing to change
    again = restarted.reconcile()
    assert again.agreed and not again.changed
