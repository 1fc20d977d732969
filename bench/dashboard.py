"""Benchmark the market page: a year of 1m candles, downsampled on the server, in a real browser.

Prints one JSON document with, on the same year of candles (525,600 synthetic 1m bars):
- `server_market_s`: `quantdesk.desk.market` (lake read + resample + indicators) for the page;
- `browser_first_chart_s`: headless Chromium, logged in, from opening /market to the chart drawn
  (goal: under 2 s);
- `points_sent` against `candles_1m`: what downsampling saves the browser;
- `first_paint_s`: each page, from navigation to its heading drawn (goal: under 2 s);
- `concurrent_viewers`: 20 logged-in viewer sessions opening the overview at once, p95 to the
  heading drawn (goal: p95 under 1 s).

Run: .venv/bin/python bench/dashboard.py   (needs /usr/bin/chromium)
"""

from __future__ import annotations

import asyncio
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

CHROMIUM = "/usr/bin/chromium"
PAGES = ("overview", "market", "research", "deployments", "trading", "risk", "data_health", "notifications", "admin")


def _server_sessions(port: int, cookie: str, sessions: int) -> dict[str, float]:
    """`sessions` logged-in GETs of /overview at once, without browsers: the server's share (session built,
    document serialised into the page) of what 20 viewers cost."""
    import statistics
    import urllib.request
    from concurrent.futures import ThreadPoolExecutor

    def one(_: int) -> float:
        request = urllib.request.Request(f"http://127.0.0.1:{port}/overview", headers={"Cookie": cookie})
        began = time.perf_counter()
        with urllib.request.urlopen(request, timeout=120) as answer:  # noqa: S310 - our own server
            body = answer.read()
        assert b"Overview" in body or b"bokeh" in body.lower(), "a real page, not the login form"
        return time.perf_counter() - began

    with ThreadPoolExecutor(sessions) as pool:
        times = sorted(pool.map(one, range(sessions)))
    return {"sessions": sessions, "p50_s": round(statistics.median(times), 2),
            "p95_s": round(times[int(0.95 * (len(times) - 1))], 2), "goal_p95_s": 1.0}


async def _concurrent(port: int, sessions: int) -> dict[str, float]:
    """Log `sessions` viewers in, then open the overview in all of them at once; p50/p95 to the heading."""
    import statistics

    from playwright.async_api import async_playwright

    base = f"http://127.0.0.1:{port}"
    async with async_playwright() as p:
        chromium = await p.chromium.launch(executable_path=CHROMIUM, headless=True, args=["--no-sandbox"])
        pages = []
        for _ in range(sessions):
            page = await (await chromium.new_context()).new_page()
            await page.goto(f"{base}/risk")
            await page.fill("input[name=username]", "bench")
            await page.fill("input[name=password]", "bench-passphrase")
            await page.click("button[type=submit], input[type=submit]")
            await page.wait_for_load_state("networkidle")
            pages.append(page)

        async def one(page: object) -> float:
            began = time.perf_counter()
            await page.goto(f"{base}/overview")  # type: ignore[attr-defined]
            await page.locator("h1").first.wait_for(timeout=120_000)  # type: ignore[attr-defined]
            return time.perf_counter() - began

        times = sorted(await asyncio.gather(*(one(page) for page in pages)))
        await chromium.close()
    return {"sessions": sessions, "p50_s": round(statistics.median(times), 2),
            "p95_s": round(times[int(0.95 * (len(times) - 1))], 2), "max_s": round(times[-1], 2), "goal_p95_s": 1.0}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def main() -> None:
    home = Path(tempfile.mkdtemp(prefix="quantdesk-bench-dash-"))
    os.environ.update({"QUANTDESK_HOME": str(home), "QUANTDESK_CONFIG": str(home / "quantdesk.toml")})
    from quantdesk.desk import market
    from quantdesk.identity import add_user
    from quantdesk.lake import Lake, write_sample
    from quantdesk.ledger import Ledger

    lake = Lake()
    write_sample(lake, symbols=1, days=365)
    began = time.perf_counter()
    data = market(lake, exchange="synthetic", symbol="BTC/USDT", timeframe="1m", days=365)
    server_s = time.perf_counter() - began

    full = lake.candles("BTC/USDT", "1m", exchange="synthetic")

    with Ledger() as ledger:
        add_user(ledger, "bench", "admin", actor="bench", password="bench-passphrase")
    port = _free_port()
    server = subprocess.Popen([str(Path(sys.executable).with_name("quantdesk")), "dashboard", "--port", str(port)],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    browser_s = None
    paints: dict[str, float] = {}
    server_side: dict[str, float] = {}
    concurrent: dict[str, float] = {}
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            with socket.socket() as probe:
                if probe.connect_ex(("127.0.0.1", port)) == 0:
                    break
            time.sleep(0.2)
        from playwright.sync_api import sync_playwright

        with sync_playwright() as p:
            chromium = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=["--no-sandbox"])
            page = chromium.new_context().new_page()
            page.goto(f"http://127.0.0.1:{port}/overview")
            page.fill("input[name=username]", "bench")
            page.fill("input[name=password]", "bench-passphrase")
            page.click("button[type=submit], input[type=submit]")
            page.wait_for_load_state("networkidle")
            began = time.perf_counter()
            page.goto(f"http://127.0.0.1:{port}/market")
            page.get_by_text("downsampled from 1m on the server").wait_for(timeout=60_000)
            page.locator("canvas").first.wait_for(timeout=60_000)
            browser_s = time.perf_counter() - began
            cookie = "; ".join(f"{c['name']}={c['value']}" for c in page.context.cookies())
            server_side = _server_sessions(port, cookie, 20)
            for name in PAGES:
                began = time.perf_counter()
                page.goto(f"http://127.0.0.1:{port}/{name}")
                page.locator("h1").first.wait_for(timeout=60_000)
                paints[name] = round(time.perf_counter() - began, 2)
            chromium.close()
        concurrent = asyncio.run(_concurrent(port, 20))
    finally:
        server.terminate()
        server.wait(timeout=30)
    print(json.dumps({
        "bench": "dashboard_market", "machine_cores": os.cpu_count(), "candles_1m": full.height,
        "shown": data["note"], "server_market_s": round(server_s, 3),
        "browser_first_chart_s": None if browser_s is None else round(browser_s, 2), "goal_s": 2.0,
        "points_sent": data["frame"].height,
        "first_paint_s": paints, "first_paint_goal_s": 2.0, "concurrent_viewers": concurrent,
        "concurrent_sessions_server_only": server_side,
    }, indent=2))


if __name__ == "__main__":
    main()
