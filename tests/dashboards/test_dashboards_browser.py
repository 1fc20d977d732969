"""The dashboards in a real headless Chromium: logins, roles on the server, the kill switch (issue 11)."""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import pytest

from quantdesk.desk import halt
from quantdesk.identity import add_user, set_exchange_key
from quantdesk.ledger import Ledger

CHROMIUM = "/usr/bin/chromium"
CANARY = "canary-key-dash-41c7e0"
PASSWORDS = {"alice": "alice-passphrase", "tina": "tina-passphrase", "vic": "vic-passphrase"}

pytestmark = [
    pytest.mark.integration,
    pytest.mark.slow,
    pytest.mark.skipif(not os.path.exists(CHROMIUM), reason=f"{CHROMIUM} is absent (.ci/run installs it)"),
]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def server(quantdesk_home: Path) -> Iterator[str]:
    with Ledger() as ledger:
        add_user(ledger, "alice", "admin", actor="alice", password=PASSWORDS["alice"])
        add_user(ledger, "tina", "trader", actor="alice", password=PASSWORDS["tina"])
        add_user(ledger, "vic", "viewer", actor="alice", password=PASSWORDS["vic"])
        set_exchange_key(ledger, "sim", CANARY, "canary-secret-dash", actor="alice")
    from quantdesk.lake import Lake, write_sample

    write_sample(Lake(), symbols=1, days=2)
    port = _free_port()
    log = (quantdesk_home / "dashboard.log").open("w")
    process = subprocess.Popen([str(Path(sys.executable).parent / "quantdesk"), "dashboard", "--port", str(port)],
                               stdout=log, stderr=subprocess.STDOUT)
    log.close()
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        with socket.socket() as probe:
            if probe.connect_ex(("127.0.0.1", port)) == 0:
                break
        assert process.poll() is None, (quantdesk_home / "dashboard.log").read_text()
        time.sleep(0.2)
    yield f"http://127.0.0.1:{port}"
    process.terminate()
    process.wait(timeout=30)


@pytest.fixture
def browser() -> Iterator[object]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=["--no-sandbox"])
        yield chromium
        chromium.close()


def _login(browser: object, base: str, user: str, password: str, page_name: str = "trading") -> object:
    page = browser.new_context().new_page()  # type: ignore[attr-defined]
    page.goto(f"{base}/{page_name}")
    assert "/login" in page.url, "no page without a login"
    page.fill("input[name=username]", user)
    page.fill("input[name=password]", password)
    page.click("button[type=submit], input[type=submit]")
    page.wait_for_load_state("networkidle")
    return page


# Panel draws inside shadow roots, which page.content() leaves out: read the document and every shadow root
_COMPOSED_HTML = """() => {
  const parts = [document.documentElement.outerHTML];
  const visit = (root) => root.querySelectorAll("*").forEach((el) => {
    if (el.shadowRoot) { parts.push(el.shadowRoot.innerHTML); visit(el.shadowRoot); }
  });
  visit(document);
  return parts.join("\\n");
}"""


def _html(page: object) -> str:
    """Return everything the page holds, shadow roots included (what a secret must never be in)."""
    return str(page.evaluate(_COMPOSED_HTML))  # type: ignore[attr-defined]


def test_no_websocket_without_login(server: str) -> None:
    import asyncio

    from tornado.httpclient import HTTPClientError
    from tornado.websocket import websocket_connect

    async def attempt() -> int:
        try:
            connection = await websocket_connect(server.replace("http://", "ws://") + "/trading/ws")
        except HTTPClientError as e:
            return e.code
        connection.close()
        return 101

    assert asyncio.run(attempt()) in (401, 403), "a websocket without a session cookie is refused"


def test_no_page_without_login_and_wrong_passwords_are_refused(server: str, browser: object) -> None:
    page = _login(browser, server, "tina", "not-her-password")
    assert "/login" in page.url and "error" in page.url
    with Ledger() as ledger:
        assert [e.payload["user"] for e in ledger.audit_log(action="auth.failed")] == ["tina"]


# Forge what the page refuses to offer: enable the viewer's disabled kill switch in the browser's copy of
# the Bokeh document (a property patch the websocket carries to the server), so the click is a real
# ButtonClick event from the viewer's own session, exactly what a crafted websocket message would be.
_FORGE_ENABLE = """(label) => {
  for (const doc of window.Bokeh.documents) {
    for (const model of doc.all_models) {
      if (model.label === label && "disabled" in model) { model.disabled = false; return true; }
    }
  }
  return false;
}"""


def test_a_viewer_cannot_halt_even_with_a_forged_click_from_her_own_session(server: str, browser: object) -> None:
    page = _login(browser, server, "vic", PASSWORDS["vic"])
    page.get_by_text("vic (viewer)").wait_for(timeout=30_000)
    page.get_by_text("Fills on the candles").wait_for(timeout=30_000)
    halt_button = page.get_by_role("button", name="Halt trading")
    assert halt_button.is_disabled(), "the page offers a viewer no kill switch"
    assert page.evaluate(_FORGE_ENABLE, "Halt trading"), "the kill switch model is in the viewer's document"
    halt_button.click(timeout=30_000)  # enabled now in this browser only; the event goes over the websocket
    # the server answers the click either way: with the policy's refusal, or (were it not asked) a halt by vic
    page.get_by_text(re.compile(r"refused: user 'vic'|HALTED by vic")).first.wait_for(timeout=30_000)
    assert page.get_by_text("refused: user 'vic' has role viewer: halt trading needs the role").count() == 1
    with Ledger() as ledger:
        assert not any(s.state == "HALTED" for s in ledger.trading_states()), "the server refused the forged click"
        [denied] = ledger.audit_log(action="auth.denied")
    assert denied.actor == "vic"
    assert denied.payload == {"action": "halt", "via": "dashboard", "reason": "role"}


def test_a_trader_halts_from_the_browser(server: str, browser: object) -> None:
    page = _login(browser, server, "tina", PASSWORDS["tina"])
    page.get_by_role("button", name="Halt trading").click()
    page.get_by_text("HALTED by tina").wait_for(timeout=30_000)
    with Ledger() as ledger:
        [state] = [s for s in ledger.trading_states() if s.scope == "global"]
        entry = ledger.audit_log(action="trading_state.set")[-1]
    assert str(state.state).upper().endswith("HALTED") and entry.actor == "tina"
    overview = page.context.new_page()
    overview.goto(f"{server}/overview")
    overview.get_by_text("tina (trader)").wait_for(timeout=30_000)
    overview.get_by_text("Trading HALTED").first.wait_for(timeout=30_000)
    html = _html(overview) + _html(page)
    assert "tina (trader)" in html and "HALTED by tina" in html, "the check sees what is drawn"
    assert CANARY not in html and "canary-secret-dash" not in html
    assert "cdn.bokeh.org" not in html, "Bokeh's JavaScript is served locally"


def test_each_page_shows_real_content_and_admin_is_for_admins(server: str, browser: object) -> None:
    page = _login(browser, server, "alice", PASSWORDS["alice"], "overview")
    requested: list[str] = []
    page.on("request", lambda request: requested.append(request.url))
    expected = {"overview": "Data freshness", "deployments": "no deployments yet", "notifications": "Templates",
                "market": "5m bars", "risk": "Denials by code", "research": "no runs yet",
                "data_health": "BTC/USDT", "admin": "audit chain intact", "trading": "Fills on the candles"}
    for name, text in expected.items():
        page.goto(f"{server}/{name}")
        page.get_by_text(text).first.wait_for(timeout=30_000)  # content, not an empty card
        assert CANARY not in _html(page)
    foreign = sorted({u for u in requested if not u.startswith((server, "ws://127.0.0.1", "data:", "blob:"))})
    assert not foreign, f"pages must work offline: scripts, styles and fonts come from the server, not {foreign}"
    viewer = _login(browser, server, "vic", PASSWORDS["vic"], "admin")
    viewer.get_by_text("This page is for admins only.").wait_for(timeout=30_000)
    assert "admins only" in _html(viewer) and "tina" not in _html(viewer), "no user list for a viewer"


def test_market_research_and_risk_pages_show_the_lake_runs_and_limits(server: str, browser: object) -> None:
    from quantdesk.backtest import LakeQuery, sweep, walk_forward

    query = LakeQuery.of("BTC/USDT", "15m")
    sweep("sma_cross", query, grid=["fast=2:6:2", "slow=8:16:4"])
    walk_forward("sma_cross", query, grid=["fast=2:6:2", "slow=8:16:4"], train="12h", test="6h")
    page = _login(browser, server, "vic", PASSWORDS["vic"], "market")
    # two days of 1m candles (2,880) do not fit the 2,500-point budget: the server sends 5m bars
    page.get_by_text("downsampled from 1m on the server").wait_for(timeout=30_000)
    page.get_by_text(re.compile(r"5\d\d 5m bars")).wait_for(timeout=30_000)
    assert page.locator("canvas").count() >= 2, "price chart and the RSI/MACD panels are drawn"
    from quantdesk.lake import Lake, write_sample

    write_sample(Lake(), symbols=1, days=3)  # a day more of bars, written by this process, not the server
    page.get_by_text(re.compile(r"8\d\d 5m bars")).wait_for(timeout=30_000)  # on the open page: no reload
    page.goto(f"{server}/research")
    page.get_by_text("Deflated Sharpe").wait_for(timeout=30_000)
    page.get_by_text("out-of-sample total return").first.wait_for(timeout=30_000)
    assert page.get_by_text("sweep-").count() >= 1
    from quantdesk.backtest import backtest

    run = backtest("sma_cross", query, params={"fast": 2, "slow": 8})
    page.goto(f"{server}/research")
    with page.expect_download(timeout=60_000) as info:
        page.get_by_text("Download PDF").click()
    assert info.value.suggested_filename == f"{run.run_id}.pdf"
    assert Path(info.value.path()).read_bytes().startswith(b"%PDF"), "the tearsheet as PDF"
    page.goto(f"{server}/risk")
    page.get_by_text("Denials by code").wait_for(timeout=30_000)
    page.get_by_text("max_gross_exposure").wait_for(timeout=30_000)
    assert CANARY not in _html(page)


def test_a_trader_sends_an_order_from_the_ticket_through_the_gate_to_the_venue(
    server: str, browser: object, quantdesk_home: Path,
) -> None:
    from quantdesk.core.clock import ManualClock
    from quantdesk.lake import Lake
    from quantdesk.venue import SimulatedVenue

    frame = Lake().candles("BTC/USDT", "1m", exchange="synthetic")
    now = frame["ts"][-1]
    # the venue checks every signed request against the key stored encrypted for "sim" (the canary)
    with SimulatedVenue({"BTC/USDT": frame}, clock=ManualClock(now), api_key=CANARY,
                        api_secret="canary-secret-dash") as venue:
        (quantdesk_home / "quantdesk.toml").write_text(
            f'[venues.sim]\nexchange = "binance"\napi_url = "{venue.url}"\n'
            'options = { defaultType = "spot", fetchCurrencies = false, fetchMargins = false }\n')
        viewer = _login(browser, server, "vic", PASSWORDS["vic"])
        viewer.get_by_text("Fills on the candles").wait_for(timeout=30_000)
        assert viewer.get_by_role("button", name="Send order").count() == 0, "no ticket for a viewer"
        page = _login(browser, server, "tina", PASSWORDS["tina"])
        page.get_by_text("Order ticket").wait_for(timeout=30_000)
        page.get_by_placeholder("e.g. 0.01").fill("0.01")
        page.get_by_role("button", name="Send order").click()
        page.get_by_text("(sent by tina)").wait_for(timeout=60_000)
        [sent] = venue.orders()
        assert sent.executed_qty == Decimal("0.01")
        with Ledger() as ledger:
            [order] = ledger.orders(deployment="manual")
            assert order.client_order_id == sent.client_order_id and order.filled_qty == Decimal("0.01")
            assert "tina" in {e.actor for e in ledger.audit_log() if e.action.startswith("order.")}
        assert CANARY not in _html(page)


def test_the_notification_center_and_downloads(server: str, browser: object, tmp_path: Path) -> None:
    with Ledger() as ledger:
        halt(ledger, "tina")  # an event: its message is in the outbox's history
        ledger.record_intent(client_order_id="qd-" + "a" * 32, venue="sim", symbol="BTC/USDT", side="buy",
                             order_type="limit", qty="0.25", price="42000.5", deployment="btc-sma")
    page = _login(browser, server, "alice", PASSWORDS["alice"], "notifications")
    page.get_by_text("History (newest first)").wait_for(timeout=30_000)
    page.get_by_role("cell", name="halt").first.wait_for(timeout=30_000)
    page.get_by_role("button", name="Send a test message").click()
    page.get_by_text("no channel configured").wait_for(timeout=30_000)
    page.goto(f"{server}/trading")
    with page.expect_download(timeout=60_000) as info:
        page.get_by_text("Download orders.xlsx").click()
    saved = tmp_path / "orders.xlsx"
    info.value.save_as(saved)
    from openpyxl import load_workbook

    rows = list(load_workbook(saved).active.iter_rows(values_only=True))
    header = list(rows[0])
    assert len(rows) == 2 and rows[1][header.index("qty")] == 0.25 and rows[1][header.index("price")] == 42000.5
    with Ledger() as ledger:
        [entry] = ledger.audit_log(action="dashboard.download")
        assert entry.actor == "alice" and entry.payload["export"] == "orders.xlsx"
    viewer = _login(browser, server, "vic", PASSWORDS["vic"], "notifications")
    viewer.get_by_text("History (newest first)").wait_for(timeout=30_000)
    assert viewer.get_by_role("button", name="Send a test message").count() == 0


def test_open_pages_show_ledger_changes_without_a_reload_and_only_their_own_user(server: str, browser: object) -> None:
    vic = _login(browser, server, "vic", PASSWORDS["vic"], "overview")
    vic.get_by_text("vic (viewer)").wait_for(timeout=30_000)
    vic.get_by_text("Trading ACTIVE").first.wait_for(timeout=30_000)
    trading = vic.context.new_page()
    trading.goto(f"{server}/trading")
    trading.get_by_text("no orders yet").wait_for(timeout=30_000)
    alice = _login(browser, server, "alice", PASSWORDS["alice"], "overview")
    alice.get_by_text("alice (admin)").wait_for(timeout=30_000)
    for page in (vic, trading, alice):
        page.evaluate("window.qdNotReloaded = true")  # a reload or navigation would drop it
    order_id = "qd-" + "b" * 32
    with Ledger() as ledger:  # another process than the server, as a trader's CLI or a runner
        halt(ledger, "tina")
        ledger.record_intent(client_order_id=order_id, venue="sim", symbol="BTC/USDT", side="buy",
                             order_type="limit", qty="0.5", price="41000", deployment="btc-sma")
    vic.get_by_text("Trading HALTED").first.wait_for(timeout=30_000)  # the header's badge
    alice.get_by_text("Trading HALTED").first.wait_for(timeout=30_000)
    vic.get_by_role("cell", name="HALTED").first.wait_for(timeout=30_000)  # the overview's own states table
    trading.get_by_text(order_id).first.wait_for(timeout=30_000)  # in the orders and the in-flight tables
    trading.get_by_text("Trading state: HALTED").wait_for(timeout=30_000)
    assert all(page.evaluate("window.qdNotReloaded === true") for page in (vic, trading, alice))
    # the desk-wide part is shared between sessions; what is a user's own is not
    assert vic.get_by_text("alice").count() == 0 and alice.get_by_text("alice (admin)").count() == 1
    assert trading.get_by_role("button", name="Halt trading").is_disabled(), "still no kill switch for a viewer"
