"""The runner's and the gated broker's one-transaction ledger reads answer what the general reads answer."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest


@pytest.fixture
def ledger(tmp_path: Any) -> Any:
    from quantdesk.ledger import Ledger

    with Ledger(f"sqlite:///{tmp_path / 'ledger.db'}") as ledger:
        yield ledger


def _order(ledger: Any, cid: str, deployment: str, symbol: str, status: str = "sent") -> None:
    ledger.record_intent(client_order_id=cid, venue="paper", symbol=symbol, side="buy", order_type="market",
                         qty="1", deployment=deployment, status=status)


def test_pretrade_equals_the_three_reads_it_replaces(ledger: Any) -> None:
    t0 = datetime(2024, 1, 1, tzinfo=UTC)
    _order(ledger, "a1", "alpha", "BTC/USDT")
    _order(ledger, "a2", "alpha", "ETH/USDT", status="pending")
    _order(ledger, "b1", "beta", "BTC/USDT", status="open")
    ledger.update_order("a1", "filled", filled_qty="1", avg_price="100")
    ledger.record_fill(venue="paper", trade_id="t1", symbol="BTC/USDT", side="buy", qty="1", price="100", ts=t0,
                       client_order_id="a1")
    ledger.record_fill(venue="paper", trade_id="t2", symbol="SOL/USDT", side="sell", qty="2", price="10", ts=t0,
                       account="other")
    for cid in ("a1", "zz"):
        view = ledger.pretrade(cid, venue="paper", account="default")
        assert view.order == ledger.order(cid)
        assert view.positions == {p.symbol: p.qty for p in ledger.positions(venue="paper", account="default")}
        assert view.active_orders == ledger.active_order_counts(venue="paper") == {"ETH/USDT": 1, "BTC/USDT": 1}


def test_deployment_fills_after_an_id_equal_the_general_query(ledger: Any) -> None:
    t0 = datetime(2024, 1, 1, tzinfo=UTC)
    for i in range(12):
        deployment = "alpha" if i % 3 else "beta"
        _order(ledger, f"o{i}", deployment, "BTC/USDT")
        # trade times out of id order, as a late fill would be
        ledger.record_fill(venue="paper", trade_id=f"t{i}", symbol="BTC/USDT", side="buy", qty="1", price="100",
                           ts=t0 + timedelta(minutes=(7 * i) % 12), client_order_id=f"o{i}")
    everything = ledger.fills(venue="paper", account="default", deployment="alpha")
    for after in (0, 3, 7, 100):
        fast = ledger.fills(venue="paper", account="default", deployment="alpha", after_id=after)
        assert fast == [f for f in everything if f.id > after]
        view = ledger.pretrade("o1", venue="paper", account="default", deployment="alpha", fills_after_id=after)
        assert view.fills == fast and view.order == ledger.order("o1")
    assert len(everything) == 8
