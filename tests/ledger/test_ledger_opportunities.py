"""Arbitrage episodes in the ledger (revision 0015): one row and one outbox message per episode, both backends."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from quantdesk.ledger import Ledger
from quantdesk.ledger.opportunities import EVENT_TYPE, LedgerOpportunities
from quantdesk.ledger.outbox import LedgerOutbox
from quantdesk.notify.templates import render

AT = datetime(2024, 3, 1, 12, tzinfo=UTC)
KEY = "cross_venue:BTC/USDT|buy:BTC/USDT@a,sell:BTC/USDT@b"


def record(key: str = KEY, edge: str = "28.5", at: datetime = AT) -> dict[str, Any]:
    return {"key": key, "kind": "cross_venue", "scope": key.split("|")[0], "summary": "buy a, sell b: 28.5 bps",
            "detected_at": at, "legs": [{"venue": "a", "symbol": "BTC/USDT", "side": "buy", "qty": "0.5",
                                         "avg_price": "30000.1", "fee": "15.00005"}],
            "size": "0.5", "size_unit": "base", "size_currency": "BTC", "edge_bps": edge,
            "profit_quote": "42.123456789", "quote_currency": "USDT", "book_age_ms": 37,
            "book_ages": {"a BTC/USDT": 37, "b BTC/USDT": 12}, "transfer_cost": "0", "transfer_cost_source": "x"}


def messages(ledger: Ledger) -> list[Any]:
    return LedgerOutbox(ledger).history(event_type=EVENT_TYPE)


def test_an_episode_is_stored_with_its_message_once_while_open(ledger: Ledger) -> None:
    store = LedgerOpportunities(ledger)
    assert store.open(record()) is True
    assert store.open(record(edge="31.25", at=AT + timedelta(seconds=1))) is False  # seen again: no new message
    store.touch(KEY, seen_at=AT + timedelta(seconds=2), edge_bps=Decimal("29"), observations=7)
    [row] = store.history()
    assert row.is_open and row.observations == 7 and row.best_edge_bps == Decimal("31.25")
    assert row.edge_bps == Decimal("28.5") and row.last_edge_bps == Decimal("29")
    assert row.profit_quote == Decimal("42.123456789") and row.size == Decimal("0.5")  # exact on both backends
    assert row.legs[0]["avg_price"] == "30000.1" and row.book_ages == {"a BTC/USDT": 37, "b BTC/USDT": 12}
    [message] = messages(ledger)
    assert message.payload["key"] == KEY and message.status == "pending"
    title, body = render(EVENT_TYPE, message.payload)
    assert title == "Arbitrage 28.50 bps: cross_venue" and "never sends orders" in body


def test_closing_ends_the_episode_and_a_return_is_a_new_one(ledger: Ledger) -> None:
    store = LedgerOpportunities(ledger)
    other = "cross_venue:ETH/USDT|buy:ETH/USDT@a,sell:ETH/USDT@b"
    store.open(record())
    store.open(record(key=other))
    assert store.close_missing("cross_venue:BTC/USDT", [], at=AT + timedelta(seconds=5)) == [KEY]
    assert store.close_missing("cross_venue:BTC/USDT", [], at=AT + timedelta(seconds=6)) == []
    assert store.open(record(at=AT + timedelta(seconds=9))) is True
    rows = store.history()
    assert [(r.key, r.is_open) for r in rows] == [(KEY, True), (other, True), (KEY, False)]
    assert rows[2].ended_at == AT + timedelta(seconds=5)
    assert len(messages(ledger)) == 3
    assert [r.key for r in store.history(open_only=True)] == [KEY, other]


def test_two_processes_opening_the_same_opportunity_send_one_message(db_url: str) -> None:
    results: list[bool] = []
    barrier = threading.Barrier(4)

    def worker() -> None:
        with Ledger(db_url) as ledger:
            barrier.wait()
            results.append(LedgerOpportunities(ledger).open(record()))

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(results) == [False, False, False, True]
    with Ledger(db_url) as ledger:
        assert len(messages(ledger)) == 1 and len(LedgerOpportunities(ledger).history()) == 1
