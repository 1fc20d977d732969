"""The desk as one app in a real headless Chromium (issue 24): the template around every page, the menu
per role, `/` as the overview, assets from the server only, readable values, pictures, a phone's width."""

from __future__ import annotations

import os
import re
from datetime import timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from quantdesk.desk.navigation import PAGES
from quantdesk.ledger import Ledger
from tests.dashboards.test_dashboards_browser import CHROMIUM, PASSWORDS, _login

pytestmark = [pytest.mark.integration, pytest.mark.slow,
              pytest.mark.skipif(not Path(CHROMIUM).exists(), reason=f"{CHROMIUM} is absent (.ci/run installs it)")]

# every text node a person can see, in the document and in every shadow root (Panel draws in shadow roots)
_VISIBLE_TEXT = """() => {
  const out = [];
  const visit = (root) => {
    const walker = document.createTreeWalker(root, NodeFilter.SHOW_TEXT);
    let node;
    while ((node = walker.nextNode())) {
      const parent = node.parentElement;
      if (!parent || ["SCRIPT", "STYLE", "NOSCRIPT", "TEMPLATE"].includes(parent.tagName)) continue;
      if (!parent.getClientRects().length) continue;
      out.push(node.textContent);
    }
    root.querySelectorAll("*").forEach((el) => { if (el.shadowRoot) visit(el.shadowRoot); });
  };
  visit(document);
  return out.join("\\n");
}"""

# every <img> (shadow roots included) that did not load: naturalWidth 0
_BROKEN_IMAGES = """() => {
  const out = [];
  const visit = (root) => {
    root.querySelectorAll("img").forEach((img) => { if (!img.complete || img.naturalWidth === 0) out.push(img.src); });
    root.querySelectorAll("*").forEach((el) => { if (el.shadowRoot) visit(el.shadowRoot); });
  };
  visit(document);
  return out;
}"""

_LINKS = """() => {
  const out = [];
  const visit = (root) => {
    root.querySelectorAll("nav.qd-nav a").forEach((a) => out.push(a.getAttribute("href")));
    root.querySelectorAll("*").forEach((el) => { if (el.shadowRoot) visit(el.shadowRoot); });
  };
  visit(document);
  return out;
}"""

RAW = re.compile(r"\bNone\b|\bNaN\b|\bnan\b|\{'|\bTrue\b|\bFalse\b")


def _visible_text(page: Any) -> str:
    return str(page.evaluate(_VISIBLE_TEXT))


def _raw_values(text: str) -> list[str]:
    """The lines of `text` that show a raw Python or pandas value."""
    return [line.strip() for line in text.splitlines() if RAW.search(line)]


def _wait_drawn(page: Any, slug: str) -> None:
    page.set_default_navigation_timeout(180_000)  # generous: a loaded machine, never a speed check
    page.locator("nav.qd-nav").first.wait_for(timeout=60_000)  # the template's menu
    page.get_by_text("Trading ", exact=False).first.wait_for(timeout=60_000)  # the state badge
    title = next(p.title for p in PAGES if p.slug == slug)
    page.get_by_role("heading", name=title, exact=False).first.wait_for(timeout=60_000)
    page.wait_for_load_state("networkidle")


def _busy_desk() -> None:
    """A desk with something on every page: a paper deployment with fills and PnL, an open order, a denial,
    a backtest and its walk-forward."""
    from quantdesk.backtest import LakeQuery, backtest, walk_forward
    from quantdesk.lake import Lake
    from quantdesk.promotion import PromotionGates, promote, record_runner_progress

    home = Path(os.environ["QUANTDESK_HOME"])
    (home / "quantdesk.toml").write_text("[risk.default]\nmax_gross_exposure = 5000\nmax_active_orders = 4\n"
                                         "daily_loss_limit_pct = 5\n")
    query = LakeQuery.of("BTC/USDT", "15m")
    run = backtest("sma_cross", query, params={"fast": 2, "slow": 8})
    walk_forward("sma_cross", query, grid=["fast=2", "slow=8"], train="12h", test="6h")  # the paper gate's evidence
    candles = Lake().candles("BTC/USDT", "1m", exchange="synthetic")
    first, last = candles["ts"][0], candles["ts"][-1]
    gates = PromotionGates(min_oos_sharpe=-100.0, max_drawdown=1.0, min_trades=0, min_deflated_sharpe=0.0,
                           require_lookahead_pass=False)
    with Ledger() as ledger:
        promote(ledger, "sma_cross", run_id=run.run_id, to="paper", actor="alice", name="btc-sma", venue="paper",
                gates=gates)
        record_runner_progress(ledger, "btc-sma", last_bar_ts=first, pnl="0")  # the runner's first bar
        for i, (side, qty, minutes) in enumerate((("buy", "0.05", 120), ("sell", "0.02", 600))):
            at = first + timedelta(minutes=minutes)
            price = Decimal(str(candles.filter(candles["ts"] == at)["close"][0]))
            cid = f"qd-{'c' * 31}{i}"
            ledger.record_intent(client_order_id=cid, venue="paper", symbol="BTC/USDT", side=side,
                                 order_type="market", qty=qty, deployment="btc-sma")
            ledger.record_answer(cid, "filled", filled_qty=qty, avg_price=price)
            ledger.record_fill(venue="paper", trade_id=f"t{i}", symbol="BTC/USDT", side=side, qty=qty, price=price,
                               ts=at, fee=Decimal("0.0123"), fee_currency="USDT", client_order_id=cid)
        ledger.record_intent(client_order_id="qd-" + "d" * 32, venue="paper", symbol="BTC/USDT", side="buy",
                             order_type="limit", qty="0.01", price="30000", deployment="btc-sma")
        ledger.record_risk_event(code="NOTIONAL_EXCEEDS_MAX_PER_ORDER", detail="notional 1,000,000 > 50,000",
                                 deployment="btc-sma")
        record_runner_progress(ledger, "btc-sma", last_bar_ts=last, pnl="12.5")


def test_every_page_is_one_app_with_a_menu_for_the_role_readable_values_pictures_and_nothing_from_another_host(
    server: str, browser: Any,
) -> None:
    _busy_desk()
    page = _login(browser, server, "alice", PASSWORDS["alice"], "")  # `/`, then the login
    assert page.url.rstrip("/").endswith("/overview"), f"/ opens the overview, not Panel's index: {page.url}"
    requested: list[str] = []
    page.set_default_navigation_timeout(180_000)
    page.on("request", lambda request: requested.append(request.url))
    for entry in PAGES:
        page.goto(f"{server}{entry.path}")
        _wait_drawn(page, entry.slug)
        assert page.evaluate(_LINKS) == [p.path for p in PAGES], "an admin's menu lists every page, in order"
        assert "alice (admin)" in _visible_text(page) and page.get_by_role("link", name="Log out").count() == 1
        assert not page.evaluate(_BROKEN_IMAGES), f"{entry.slug}: every image (logo, ...) loads"
        raw = _raw_values(_visible_text(page))
        assert not raw, f"{entry.slug} shows raw values: {raw[:5]}"
    foreign = sorted({u for u in requested if not u.startswith((server, "ws://127.0.0.1", "data:", "blob:"))})
    assert not foreign, f"every asset comes from the dashboard server, not {foreign}"
    viewer = _login(browser, server, "vic", PASSWORDS["vic"], "risk")
    _wait_drawn(viewer, "risk")
    links = viewer.evaluate(_LINKS)
    assert "/admin" not in links and links == [p.path for p in PAGES if p.slug != "admin"], \
        "a viewer's menu lists every page but the admin page (the policy decides)"
    _pictures(viewer, server)


def _pictures(page: Any, server: str) -> None:
    """The busy desk's pictures: stat cards and equity lines, fills on candles, risk bars, equity against backtest."""
    page.goto(f"{server}/overview")
    _wait_drawn(page, "overview")
    text = _visible_text(page)
    for label in ("Desk PnL today", "Desk PnL total", "Gross exposure", "Open orders", "Value at risk", "Trading state"):
        assert label.upper() in text.upper(), f"the overview's stat card {label!r}"
    assert "+12.50 USDT" in text, "the desk's total PnL as money with its currency"
    assert re.search(r"\d{4}-\d\d-\d\d \d\d:\d\d UTC", text), "times read as 2026-12-07 14:02 UTC"
    page.locator("canvas").first.wait_for(timeout=60_000)  # the equity line of btc-sma
    page.goto(f"{server}/trading")
    _wait_drawn(page, "trading")
    page.get_by_text("2 fill(s) of BTC/USDT marked on the candles").wait_for(timeout=60_000)
    assert page.locator("canvas").count() >= 1
    page.goto(f"{server}/risk")
    _wait_drawn(page, "risk")
    page.get_by_text("NOTIONAL_EXCEEDS_MAX_PER_ORDER").first.wait_for(timeout=60_000)
    assert page.locator("canvas").count() >= 3, "exposure, use against limit and denials over time"
    page.goto(f"{server}/deployments")
    _wait_drawn(page, "deployments")
    page.get_by_text(re.compile(r"btc-sma.*drift")).first.wait_for(timeout=120_000)
    assert page.locator("canvas").count() >= 1, "btc-sma's equity beside its backtest's"


def test_the_badge_follows_the_trading_state_on_every_open_page(server: str, browser: Any) -> None:
    from quantdesk.desk import halt

    page = _login(browser, server, "vic", PASSWORDS["vic"], "data_health")
    _wait_drawn(page, "data_health")
    page.get_by_text("Trading ACTIVE").first.wait_for(timeout=30_000)
    page.evaluate("window.qdNotReloaded = true")
    with Ledger() as ledger:
        assert halt(ledger, "alice").ok
    page.get_by_text("Trading HALTED").first.wait_for(timeout=30_000)
    assert page.evaluate("window.qdNotReloaded === true"), "without a reload"


def test_at_a_phones_width_the_menu_and_the_kill_switch_are_reachable(
    server: str, browser: Any, quantdesk_home: Path,
) -> None:
    context = browser.new_context(viewport={"width": 390, "height": 844}, device_scale_factor=2, is_mobile=True,
                                  has_touch=True)
    page = context.new_page()
    page.goto(f"{server}/trading")
    assert not page.evaluate(_BROKEN_IMAGES), "the login page's logo loads"
    page.fill("input[name=username]", "tina")
    page.fill("input[name=password]", PASSWORDS["tina"])
    page.click("button[type=submit]")
    _wait_drawn(page, "trading")
    halt = page.get_by_role("button", name="Halt trading")
    halt.scroll_into_view_if_needed(timeout=30_000)
    box = halt.bounding_box()
    assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= 390, f"the kill switch on screen: {box}"
    page.screenshot(path=str(quantdesk_home / "trading-390.png"), full_page=False)
    risk = page.get_by_role("link", name=re.compile("Risk"))
    risk.scroll_into_view_if_needed(timeout=30_000)
    menu_box = risk.bounding_box()
    assert menu_box is not None and menu_box["x"] + menu_box["width"] <= 390, "the menu fits the phone's width"
    risk.click()
    page.wait_for_url(re.compile(r"/risk$"), timeout=60_000)
    _wait_drawn(page, "risk")
    halt_again = page.get_by_role("link", name=re.compile("Trading"))
    assert halt_again.count() >= 1, "the menu is on every page"
    assert page.evaluate("document.documentElement.scrollWidth") <= 400, "no page wider than the phone"
