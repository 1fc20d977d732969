"""The risk page's VaR panels in a real headless Chromium (issue 25): VaR/ES with contributions, the VaR series
against the realised P&L with its zone, and the stress table with the liquidated perpetual highlighted."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from quantdesk.identity import add_user
from quantdesk.ledger import Ledger
from quantdesk.ledger._types import canonical_json
from tests.dashboards.test_dashboards_browser import CHROMIUM, PASSWORDS, _free_port, _login

pytestmark = [
    pytest.mark.integration,
    pytest.mark.slow,
    pytest.mark.skipif(not os.path.exists(CHROMIUM), reason=f"{CHROMIUM} is absent (.ci/run installs it)"),
]

PERP = "BTC/USDT:USDT"


def _book(ledger: Ledger, btc: float) -> None:
    from quantdesk.ledger.registry import update_deployment
    from quantdesk.promotion import create_deployment

    create_deployment(ledger, "perp", strategy="sma_cross", symbols=(PERP,), timeframe="1h", actor="alice",
                      exchange="synthetic", venue="paper")
    update_deployment(ledger, "perp", {"settings": canonical_json({"market": "futures", "leverage": 20})})
    for i, (deployment, symbol, qty) in enumerate((("manual", "BTC/USDT", "0.5"), ("manual", "SOL/USDT", "40"),
                                                   ("perp", PERP, "0.2"))):
        ledger.record_intent(client_order_id=f"p{i}", venue="paper", symbol=symbol, side="buy", order_type="market",
                             qty=qty, deployment=deployment)
        ledger.record_fill(venue="paper", trade_id=f"p{i}", symbol=symbol, side="buy", qty=qty,
                           price=repr(btc) if "BTC" in symbol else "100", ts=datetime(2024, 5, 1, tzinfo=UTC),
                           client_order_id=f"p{i}")


@pytest.fixture
def browser() -> Iterator[object]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=["--no-sandbox"])
        yield chromium
        chromium.close()


@pytest.fixture
def server(quantdesk_home: Path) -> Iterator[str]:
    from quantdesk.lake import Lake, write_sample

    lake = Lake()
    write_sample(lake, symbols=3, days=130)
    btc = lake.candles("BTC/USDT", "1m", exchange="synthetic")
    lake.write(btc, exchange="synthetic", symbol=PERP, timeframe="1m")
    (quantdesk_home / "quantdesk.toml").write_text(
        '[[risk.scenarios]]\nname = "btc-flash-crash"\nshocks = { all = -0.30 }\n')
    with Ledger() as ledger:
        add_user(ledger, "alice", "admin", actor="alice", password=PASSWORDS["alice"])
        add_user(ledger, "vic", "viewer", actor="alice", password=PASSWORDS["vic"])
        _book(ledger, float(btc["close"][-1]))
    port = _free_port()
    log = (quantdesk_home / "dashboard.log").open("w")
    process = subprocess.Popen([str(Path(sys.executable).parent / "quantdesk"), "dashboard", "--port", str(port)],
                               stdout=log, stderr=subprocess.STDOUT)
    log.close()
    deadline = time.monotonic() + 60
    import socket

    while time.monotonic() < deadline:
        with socket.socket() as probe:
            if probe.connect_ex(("127.0.0.1", port)) == 0:
                break
        assert process.poll() is None, (quantdesk_home / "dashboard.log").read_text()
        time.sleep(0.2)
    yield f"http://127.0.0.1:{port}"
    process.terminate()
    process.wait(timeout=30)


def test_the_risk_page_shows_var_the_backtest_and_the_stress_table(server: str, browser: object) -> None:
    page = _login(browser, server, "vic", PASSWORDS["vic"], "risk")
    page.get_by_text("Value at risk and expected shortfall").wait_for(timeout=120_000)
    page.get_by_text(re.compile(r"1d 0\.99 historical VaR [\d,]+\.\d\d")).wait_for(timeout=60_000)
    page.get_by_text("VaR against realised P&L").wait_for(timeout=30_000)
    page.get_by_text(re.compile(r"Traffic light: (GREEN|YELLOW|RED)")).wait_for(timeout=30_000)
    assert page.locator("canvas").count() >= 1, "the VaR series is drawn"
    page.get_by_text("btc-flash-crash").first.wait_for(timeout=30_000)
    liquidated = page.locator("tr.liquidated")
    liquidated.first.wait_for(timeout=30_000)
    assert "LIQUIDATED" in liquidated.nth(1).inner_text() and PERP in liquidated.nth(1).inner_text()
    color = liquidated.first.locator("td").first.evaluate("e => getComputedStyle(e).backgroundColor")
    assert color == "rgb(253, 226, 225)", "liquidations are highlighted"
