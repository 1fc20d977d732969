"""The arbitrage page in headless Chromium: a viewer sees opportunities appear without a reload (issue 28)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from quantdesk.ledger import Ledger
from quantdesk.ledger.opportunities import LedgerOpportunities
from tests.dashboards.test_dashboards_browser import (
    CHROMIUM,
    PASSWORDS,
    _html,
    _login,
    browser,
    server,
)

__all__ = ["browser", "server"]  # the fixtures, shared with the other browser tests

pytestmark = [pytest.mark.integration, pytest.mark.slow,
              pytest.mark.skipif(not __import__("os").path.exists(CHROMIUM), reason=f"{CHROMIUM} is absent")]

KEY = "cross_venue:BTC/USDT|buy:BTC/USDT@sim-a,sell:BTC/USDT@sim-b"


def test_a_viewer_watches_an_opportunity_appear_and_end(server: str, browser: object) -> None:
    page = _login(browser, server, "vic", PASSWORDS["vic"], "arb")
    page.get_by_text("no open opportunity").wait_for(timeout=30_000)
    with Ledger() as ledger:  # what `quantdesk arb scan` stores, written by another process than the server
        LedgerOpportunities(ledger).open({
            "key": KEY, "kind": "cross_venue", "scope": "cross_venue:BTC/USDT", "summary": "s",
            "detected_at": datetime(2026, 12, 7, 14, 2, 3, tzinfo=UTC),
            "legs": [{"venue": "sim-a", "symbol": "BTC/USDT", "side": "buy", "qty": "0.5"},
                     {"venue": "sim-b", "symbol": "BTC/USDT", "side": "sell", "qty": "0.5"}],
            "size": "0.5", "size_unit": "base", "size_currency": "BTC", "edge_bps": "7.9548145",
            "profit_quote": "16.053975", "quote_currency": "USDT", "book_age_ms": 47, "book_ages": {}})
    page.get_by_text("buy 0.5 BTC/USDT@sim-a, sell 0.5 BTC/USDT@sim-b").first.wait_for(timeout=30_000)  # no reload
    html = _html(page)
    assert "1 open opportunity" in html and "7.95" in html and "16.0540 USDT" in html
    assert "2026-12-07 14:02:03 UTC" in html
    with Ledger() as ledger:
        LedgerOpportunities(ledger).close_missing("cross_venue:BTC/USDT", [], at=datetime(2026, 12, 7, 14, 5,
                                                                                          tzinfo=UTC))
    page.get_by_text("0 open opportunities").wait_for(timeout=30_000)
    page.get_by_text("2026-12-07 14:05:00 UTC").wait_for(timeout=30_000)  # the episode's end, in the history
    assert page.get_by_role("button").filter(has_text="order").count() == 0, "nothing here places an order"
