"""Two simulated venues with a planted offset, through the real ccxt (REST) and ccxt pro (streams) clients."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import pytest

from quantdesk.arb import BookStore, Size
from quantdesk.arb.config import ArbConfig
from quantdesk.arb.feeds import StreamFeed
from quantdesk.arb.service import BookSource, scan_cross_venue, watch_cross_venue
from quantdesk.ledger import Ledger
from quantdesk.ledger.opportunities import EVENT_TYPE, LedgerOpportunities
from quantdesk.ledger.outbox import LedgerOutbox
from tests.arb.conftest import Pair, planted_edge

pytestmark = pytest.mark.integration
FEE = Decimal("0.001")  # ccxt's binance taker fee, which the scanner reads from the market


def wait_for(condition: Callable[[], bool], what: str, timeout_s: float = 60.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.05)


def test_a_rest_scan_reports_the_planted_offsets_edge_after_fees_and_the_venues_transfer_fee(pair: Pair) -> None:
    with Ledger() as ledger:
        store = LedgerOpportunities(ledger)
        report = scan_cross_venue(["sim-a", "sim-b"], ["BTC/USDT"], Size.base("0.5"), ArbConfig(), store=store)
        [found] = report.opportunities
        assert [(leg.side.value, leg.venue) for leg in found.legs] == [("buy", "sim-a"), ("sell", "sim-b")]
        # USDT moves back out of sim-b at the 1 USDT it reports (fetch_deposit_withdraw_fees); sim-a reports none
        assert found.transfer_cost == Decimal(1)
        assert found.transfer_cost_source == "BTC out of sim-a: unknown; USDT out of sim-b: 1.0 (venue)"
        expected = planted_edge(pair.price(), pair.tick(), Decimal("0.5"), FEE, transfer=Decimal(1))
        assert found.edge_bps == expected
        assert Decimal(7) < found.edge_bps < Decimal(8)  # 30 bps offset - 2 spread - 20 fees, minus depth
        assert report.stale == [] and report.opened == [found.key]
        [message] = LedgerOutbox(ledger).history(event_type=EVENT_TYPE)
        assert message.payload["key"] == found.key
        again = scan_cross_venue(["sim-a", "sim-b"], ["BTC/USDT"], Size.base("0.5"), ArbConfig(), store=store)
        assert again.opportunities and again.opened == []  # still there: not notified again
        pair.b.set_book(price_offset_bps=0)
        gone = scan_cross_venue(["sim-a", "sim-b"], ["BTC/USDT"], Size.base("0.5"), ArbConfig(), store=store)
        assert gone.opportunities == [] and gone.closed == [found.key]
        assert len(LedgerOutbox(ledger).history(event_type=EVENT_TYPE)) == 1
        assert [r.is_open for r in store.history()] == [False]
    for venue in (pair.a, pair.b):  # the scanner never sends an order
        assert venue.orders() == [] and venue.request_count("order", method="POST") == 0
        assert venue.request_count("depth") >= 3


class Watch:
    """`watch_cross_venue` on the streams in a thread, its events kept."""

    def __init__(self, store: Any, config: ArbConfig) -> None:
        self.events: list[tuple[str, Any]] = []
        self.stop = threading.Event()
        self.report: Any = None
        self.thread = threading.Thread(target=self._run, args=(store, config), daemon=True)
        self.thread.start()

    def _run(self, store: Any, config: ArbConfig) -> None:
        self.report = watch_cross_venue(["sim-a", "sim-b"], ["BTC/USDT"], Size.base("0.5"), config, store=store,
                                        source=BookSource.STREAM, stop=self.stop,
                                        on_event=lambda kind, value: self.events.append((kind, value)))

    def kinds(self, kind: str) -> list[Any]:
        return [value for k, value in self.events if k == kind]

    def finish(self) -> Any:
        self.stop.set()
        self.thread.join(timeout=60)
        assert not self.thread.is_alive()
        return self.report


def test_streams_one_message_while_it_lasts_a_silent_venue_is_stale_and_unused(pair: Pair) -> None:
    pair.ticking.set()
    config = ArbConfig(max_age_ms=3000)  # generous: the machine may be loaded; the silence is far longer
    with Ledger() as ledger:
        watch = Watch(LedgerOpportunities(ledger), config)

        def messages() -> int:
            return len(LedgerOutbox(ledger).history(event_type=EVENT_TYPE))

        try:
            wait_for(lambda: watch.kinds("opened"), "the planted opportunity")
            first = watch.kinds("opened")[0]
            assert first.book_age_ms <= 3000 and Decimal(6) < first.edge_bps < Decimal(9)
            scans = len(watch.kinds("scan"))
            wait_for(lambda: len(watch.kinds("scan")) > scans + 50, "many more book updates priced")
            assert len(watch.kinds("opened")) == 1 and not watch.kinds("closed") and messages() == 1
            pair.streams_b.mute(True)  # sim-b's stream goes silent (the connection stays open)
            wait_for(lambda: any(s.venue == "sim-b" for s in watch.kinds("stale")), "sim-b reported stale", 60)
            stale = next(s for s in watch.kinds("stale") if s.venue == "sim-b")
            assert "no update for" in stale.reason and stale.age_ms > 3000
            silent = len(watch.kinds("scan"))
            wait_for(lambda: len(watch.kinds("scan")) > silent + 20, "scans while sim-b is silent")
            during = watch.kinds("scan")[silent:]
            assert all(scan.best is None and any(b.venue == "sim-b" for b in scan.stale) for scan in during), \
                "sim-b's old book is never priced"
            assert not watch.kinds("closed"), "unseen is not gone: the episode stays open while sim-b is silent"
            pair.streams_b.mute(False)  # back, with a gap in its update ids: ccxt refuses it and resubscribes
            wait_for(lambda: "sim-b BTC/USDT" in watch.kinds("fresh"), "sim-b fresh again", 60)
            fresh_at = len(watch.kinds("scan"))
            wait_for(lambda: any(scan.opportunity for scan in watch.kinds("scan")[fresh_at:]), "priced again", 60)
            assert len(watch.kinds("opened")) == 1 and messages() == 1  # it lasted: still one message
            pair.b.set_book(price_offset_bps=0)  # the venues agree: the opportunity is gone
            wait_for(lambda: watch.kinds("closed"), "the opportunity closed", 60)
            pair.b.set_book(price_offset_bps=30)
            wait_for(lambda: len(watch.kinds("opened")) == 2, "the opportunity again: a new episode", 60)
        finally:
            report = watch.finish()
        assert report.evaluations >= len(watch.kinds("scan"))
        assert messages() == 2
        assert [r.is_open for r in LedgerOpportunities(ledger).history()] == [True, False]


class RecordingStore(BookStore):
    def __init__(self) -> None:
        super().__init__(max_age_ms=60_000)
        self.log: list[tuple[str, str]] = []

    def put(self, venue: str, symbol: str, book: Any, **kwargs: Any) -> Any:
        self.log.append(("put", ""))
        return super().put(venue, symbol, book, **kwargs)

    def refuse(self, venue: str, symbol: str, reason: str) -> None:
        self.log.append(("refuse", reason))
        super().refuse(venue, symbol, reason)


def test_a_sequence_gap_in_the_stream_refuses_the_book_until_a_new_snapshot(pair: Pair) -> None:
    pair.ticking.set()
    store = RecordingStore()
    feed = StreamFeed([("sim-b", "BTC/USDT")], store).start()
    try:
        wait_for(lambda: ("put", "") in store.log, "the first streamed book")
        pair.streams_b.gap()
        wait_for(lambda: any(kind == "refuse" for kind, _ in store.log), "the gap refused")
        refused_at = next(i for i, (kind, _) in enumerate(store.log) if kind == "refuse")
        assert "sequence gap" in store.log[refused_at][1]
        wait_for(lambda: ("put", "") in store.log[refused_at:], "a new book after a new snapshot")
    finally:
        feed.stop()
    assert feed.errors == []
