"""Benchmark the market page: a year of 1m candles, downsampled on the server, in a real browser.

Prints one JSON document with, on the same year of candles (525,600 synthetic 1m bars):
- `server_market_s`: `quantdesk.desk.market` (lake read + resample + indicators) for the page, the
  first call in a process (imports included) and `server_market_warm_s` the next one;
- `browser_first_chart_s`: headless Chromium, logged in, from opening /market to the chart drawn
  (goal: under 2 s);
- `points_sent` against `candles_1m`: what downsampling saves the browser;
- `first_paint_s`: each page of the registry (`quantdesk.desk.navigation.PAGES`), from navigation to its
  heading drawn inside the desk's template, and for the pages with charts (overview: desk equity by
  deployment; trading: fills on candles; risk: exposure and use against limit; market) to the first chart's
  canvas too (goal: under 2 s), on the year-long sample lake with a deployment that traded;
- `concurrent_viewers_updates`: the issue's "20 concurrent viewer sessions with page updates": 20
  logged-in viewers keep the overview open; the bench changes the desk's trading state in the
  ledger (another process, as a trader or runner would) and times until every page shows it,
  over several rounds (goal: p95 under 1 s). Measured by Playwright polling each page, so an
  upper bound;
- `concurrent_viewers`: 20 viewers opening the overview at once, p95 to the heading drawn (goal:
  p95 under 1 s). It measures 20 Chromium renderers, each parsing ~3 MB of Bokeh/Panel
  JavaScript, on the same 2 cores as the server: mostly the browsers, not the server;
- `concurrent_sessions_server_only`: 20 logged-in GETs of /overview at once without browsers:
  the server's share (session built) of the figure above;
- `concurrent_sessions_protocol`: 20 Bokeh websocket clients without rendering: opening (GET and
  the document pulled) and updates (a ledger change until its PATCH-DOC reaches every client);
- `login_flood` (issue 23), beside that quiet case: the same 20 clients' updates while 200 refused
  logins arrive in a burst (goal: p95 under 1 s). `[auth] max_failures` is raised for the bench so
  every one of the 200 pays its argon2 check and audit write (the worst case: with the default of 5,
  the address is locked after 5 and the rest are refused without either); both run in the login
  pool, off the event loop that sends the updates.

Run: .venv/bin/python bench/dashboard.py   (needs /usr/bin/chromium; `--first-paint`: the market page and
each page's first paint only, without the 20-viewer cases; `--login-flood`: only the quiet protocol case
and the login flood beside it, on two days of candles, no browser)
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
CHARTED = {"overview", "trading", "risk", "market"}  # first paint includes the first chart drawn


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
            "p95_s": round(times[int(0.95 * (len(times) - 1))], 2), "goal_p95_s": 1.0,
            "measures": f"{sessions} logged-in GETs of /overview at once, no browser: sessions built by the server"}


async def _login_flood(port: int, attempts: int) -> dict[str, object]:
    """`attempts` refused logins at once (wrong password for a registered name), each POST timed."""
    from urllib.parse import urlencode

    from tornado.httpclient import AsyncHTTPClient

    client = AsyncHTTPClient(force_instance=True, max_clients=attempts)
    body = urlencode({"username": "viewer", "password": "not-the-passphrase"})

    async def one() -> float:
        began = time.perf_counter()
        answer = await client.fetch(f"http://127.0.0.1:{port}/login", method="POST", body=body,
                                    follow_redirects=False, raise_error=False, request_timeout=600)
        assert answer.code == 302 and "error" in answer.headers.get("Location", ""), "refused"
        return time.perf_counter() - began

    began = time.perf_counter()
    times = await asyncio.gather(*(one() for _ in range(attempts)))
    client.close()
    return {"attempts": attempts, "burst_s": round(time.perf_counter() - began, 2),
            "refusal_p50_s": _summary(list(times))["p50_s"], "refusal_max_s": _summary(list(times))["max_s"]}


async def _protocol_sessions(port: int, cookie: str, sessions: int, rounds: int = 4,
                             flood: int = 0) -> dict[str, object]:
    """`sessions` clients speaking Bokeh's websocket protocol, no rendering: each GETs /overview and pulls
    its document (the server's whole share of opening a page); then, with all open, the trading state is
    changed `rounds` times and each client times the PATCH-DOC that carries it (with `flood`, while that
    many refused logins arrive at once; rounds go on until the flood is over)."""
    import json
    import re

    from tornado.httpclient import AsyncHTTPClient, HTTPRequest
    from tornado.websocket import websocket_connect

    from quantdesk.desk import halt, resume
    from quantdesk.ledger import Ledger

    async def message(connection: object) -> tuple[dict[str, object], str]:
        header = json.loads(await connection.read_message())  # type: ignore[attr-defined]
        await connection.read_message()  # type: ignore[attr-defined]  # metadata
        content = await connection.read_message()  # type: ignore[attr-defined]
        for _ in range(2 * int(header.get("num_buffers", 0))):  # each buffer: its JSON header, then its bytes
            await connection.read_message()  # type: ignore[attr-defined]
        return header, str(content)

    async def open_one() -> tuple[float, object]:
        began = time.perf_counter()
        answer = await AsyncHTTPClient().fetch(f"http://127.0.0.1:{port}/overview", headers={"Cookie": cookie},
                                               request_timeout=180)  # tornado's 20 s is short for 20 at once
        token = re.search(r'"token":"([^"]+)"', answer.body.decode()).group(1)  # type: ignore[union-attr]
        connection = await websocket_connect(HTTPRequest(f"ws://127.0.0.1:{port}/overview/ws", headers={
            "Cookie": cookie, "Sec-WebSocket-Protocol": f"bokeh, {token}"}))
        await message(connection)  # ACK
        for part in (json.dumps({"msgid": "pull", "msgtype": "PULL-DOC-REQ"}), "{}", "{}"):
            await connection.write_message(part)
        while True:
            header, content = await message(connection)
            if header["msgtype"] == "PULL-DOC-REPLY":
                assert "Overview" in content, "the overview's document"
                return time.perf_counter() - began, connection

    async def sees(connection: object, text: str, began: float) -> float:
        while True:
            header, content = await message(connection)
            if header["msgtype"] == "PATCH-DOC" and text in content:
                return time.perf_counter() - began

    opened = await asyncio.gather(*(open_one() for _ in range(sessions)))
    await asyncio.sleep(1.0)
    updates: list[float] = []
    flooding = asyncio.ensure_future(_login_flood(port, flood)) if flood else None
    await asyncio.sleep(0.2 if flood else 0)  # the burst is under way when the first change is written
    round_number = 0
    while True:
        flooding_now = flooding is not None and not flooding.done()
        if flooding is None and round_number >= rounds:
            break
        if flooding is not None and not flooding_now and round_number % 2 == 0 and round_number > 0:
            break  # the burst is over and the state is ACTIVE again (the next case starts from there)
        action, text = (halt, "Trading HALTED") if round_number % 2 == 0 else (resume, "Trading ACTIVE")
        began = time.perf_counter()
        waits = [asyncio.ensure_future(sees(connection, text, began)) for _, connection in opened]
        with Ledger() as ledger:
            assert action(ledger, "bench", reason=f"bench protocol round {round_number}").ok
        seen = await asyncio.wait_for(asyncio.gather(*waits), timeout=60)
        if flooding is None or flooding_now:  # with a flood, only the changes written during it count
            updates += seen
        round_number += 1
        await asyncio.sleep(0.2 if flooding_now else 0.5)
    for _, connection in opened:
        connection.close()  # type: ignore[attr-defined]
    flooded = {"login_flood": await flooding} if flooding is not None else {}
    return {**flooded, "sessions": sessions, "open_p50_s": _summary([t for t, _ in opened])["p50_s"],
            "open_p95_s": _summary([t for t, _ in opened])["p95_s"], "open_goal_p95_s": 1.0,
            "update_samples": len(updates), "update_p50_s": _summary(updates)["p50_s"],
            "update_p95_s": _summary(updates)["p95_s"], "update_goal_p95_s": 1.0,
            "measures": "Bokeh websocket clients without rendering: GET + document pulled; then a ledger change "
                        "until its PATCH-DOC arrives at every client"}


def _summary(times: list[float]) -> dict[str, float]:
    import statistics

    times = sorted(times)
    return {"p50_s": round(statistics.median(times), 2), "p95_s": round(times[int(0.95 * (len(times) - 1))], 2),
            "max_s": round(times[-1], 2), "goal_p95_s": 1.0}


async def _concurrent(port: int, sessions: int, rounds: int = 5) -> tuple[dict[str, object], dict[str, object]]:
    """Log `sessions` viewers in; open the overview in all at once (p50/p95 to the heading), then, with the
    pages open, change the trading state `rounds` times and time until every page shows each change."""
    from playwright.async_api import async_playwright

    from quantdesk.desk import halt, resume
    from quantdesk.ledger import Ledger

    base = f"http://127.0.0.1:{port}"
    async with async_playwright() as p:
        chromium = await p.chromium.launch(executable_path=CHROMIUM, headless=True, args=["--no-sandbox"])
        pages = []
        for _ in range(sessions):
            page = await (await chromium.new_context()).new_page()
            await page.goto(f"{base}/risk")
            await page.fill("input[name=username]", "viewer")
            await page.fill("input[name=password]", "viewer-passphrase")
            await page.click("button[type=submit], input[type=submit]")
            await page.wait_for_load_state("networkidle")
            pages.append(page)

        async def one(page: object) -> float:
            began = time.perf_counter()
            await page.goto(f"{base}/overview")  # type: ignore[attr-defined]
            await page.locator("h1").first.wait_for(timeout=120_000)  # type: ignore[attr-defined]
            return time.perf_counter() - began

        opening = await asyncio.gather(*(one(page) for page in pages))
        for page in pages:
            await page.get_by_text("Trading ACTIVE").first.wait_for(timeout=120_000)  # the header's badge
        await asyncio.sleep(2.0)  # let the opening settle: the rounds time updates, not page loads

        async def shows(page: object, text: str, began: float) -> float:
            await page.get_by_text(text).first.wait_for(timeout=60_000)  # type: ignore[attr-defined]
            return time.perf_counter() - began

        updates: list[float] = []
        for round_number in range(rounds):
            action, text = (halt, "Trading HALTED") if round_number % 2 == 0 else (resume, "Trading ACTIVE")
            began = time.perf_counter()
            with Ledger() as ledger:  # another process than the server, as a trader's CLI or a runner
                assert action(ledger, "bench", reason=f"bench round {round_number}").ok
            updates += await asyncio.gather(*(shows(page, text, began) for page in pages))
            await asyncio.sleep(1.0)
        await chromium.close()
    return ({"sessions": sessions, **_summary(opening),
             "measures": "20 Chromium renderers opening /overview at once on the same 2 cores as the server"},
            {"sessions": sessions, "changes": rounds, "samples": len(updates), **_summary(updates),
             "measures": "trading state written to the ledger by another process until shown on all 20 open pages"})


def _traded(ledger: object, candles: object, fills: int = 41) -> None:
    """A deployment that ran over the year and traded `fills` times (one more buy than sells: a position), so
    the overview draws its equity line and the risk page its exposure."""
    from decimal import Decimal

    from quantdesk.promotion import create_deployment, record_runner_progress

    create_deployment(ledger, "btc-sma", strategy="sma_cross", symbols=("BTC/USDT",), timeframe="1h", actor="bench",
                      exchange="synthetic")
    ts, close = candles["ts"], candles["close"]  # type: ignore[index]
    record_runner_progress(ledger, "btc-sma", last_bar_ts=ts[0], pnl="0")
    step = len(ts) // (fills + 1)
    for i in range(fills):
        at, side = (i + 1) * step, "buy" if i % 2 == 0 else "sell"
        cid = f"qd-{i:032x}"
        ledger.record_intent(client_order_id=cid, venue="paper", symbol="BTC/USDT", side=side,  # type: ignore[attr-defined]
                             order_type="market", qty="0.1", deployment="btc-sma")
        ledger.record_fill(venue="paper", trade_id=f"t{i}", symbol="BTC/USDT", side=side, qty="0.1",  # type: ignore[attr-defined]
                           price=Decimal(str(close[at])), ts=ts[at], fee="0.5", client_order_id=cid)
    record_runner_progress(ledger, "btc-sma", last_bar_ts=ts[-1], pnl="10")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _http_login(port: int, user: str, password: str) -> str:
    """Log in with a POST to /login (no browser); return the session's Cookie header."""
    import http.client
    from urllib.parse import urlencode

    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
    connection.request("POST", "/login", body=urlencode({"username": user, "password": password}),
                       headers={"Content-Type": "application/x-www-form-urlencoded"})
    answer = connection.getresponse()
    cookies = [h.split(";", 1)[0] for name, h in answer.getheaders() if name.lower() == "set-cookie"]
    connection.close()
    assert answer.status == 302 and any(c.startswith("user=") for c in cookies), "logged in"
    return "; ".join(cookies)


def _flood_main() -> None:
    """The quiet protocol case and the login flood beside it, on a small lake (no browser)."""
    home = Path(tempfile.mkdtemp(prefix="quantdesk-bench-flood-"))
    os.environ.update({"QUANTDESK_HOME": str(home), "QUANTDESK_CONFIG": str(home / "quantdesk.toml")})
    # every refused login of the burst pays argon2 and an audit write: no lockout cuts the burst short
    (home / "quantdesk.toml").write_text("[auth]\nmax_failures = 100000\n")
    from quantdesk.identity import add_user
    from quantdesk.lake import Lake, write_sample
    from quantdesk.ledger import Ledger

    lake = Lake()
    write_sample(lake, symbols=1, days=2)
    with Ledger() as ledger:
        add_user(ledger, "bench", "admin", actor="bench", password="bench-passphrase")
        add_user(ledger, "viewer", "viewer", actor="bench", password="viewer-passphrase")
        _traded(ledger, lake.candles("BTC/USDT", "1m", exchange="synthetic"))
    port = _free_port()
    server = subprocess.Popen([str(Path(sys.executable).with_name("quantdesk")), "dashboard", "--port", str(port)],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            with socket.socket() as probe:
                if probe.connect_ex(("127.0.0.1", port)) == 0:
                    break
            time.sleep(0.2)
        cookie = _http_login(port, "bench", "bench-passphrase")
        quiet = asyncio.run(_protocol_sessions(port, cookie, 20, rounds=6))
        flood = asyncio.run(_protocol_sessions(port, cookie, 20, flood=200))
    finally:
        server.terminate()
        server.wait(timeout=30)
    with Ledger() as ledger:
        refused = len(ledger.audit_log(action="auth.failed"))
    print(json.dumps({"bench": "dashboard_login_flood", "machine_cores": os.cpu_count(),
                      "concurrent_sessions_protocol": quiet, "login_flood": {**flood, "audited_refusals": refused,
                      "measures": "20 Bokeh websocket clients: a ledger change until its PATCH-DOC reaches each, "
                                  "written while 200 refused logins (argon2 + audit each) arrive at once"}},
                     indent=2))


def main() -> None:
    if "--login-flood" in sys.argv:
        _flood_main()
        return
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
    began = time.perf_counter()  # the server imports the indicators when it starts: its charts pay this
    market(lake, exchange="synthetic", symbol="BTC/USDT", timeframe="1m", days=365)
    server_warm_s = time.perf_counter() - began

    full = lake.candles("BTC/USDT", "1m", exchange="synthetic")

    with Ledger() as ledger:
        add_user(ledger, "bench", "admin", actor="bench", password="bench-passphrase")
        add_user(ledger, "viewer", "viewer", actor="bench", password="viewer-passphrase")
        _traded(ledger, full)
    port = _free_port()
    server = subprocess.Popen([str(Path(sys.executable).with_name("quantdesk")), "dashboard", "--port", str(port)],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    browser_s = None
    paints: dict[str, float] = {}
    server_side: dict[str, float] = {}
    concurrent: dict[str, object] = {}
    updates: dict[str, object] = {}
    protocol: dict[str, object] = {}
    flood: dict[str, object] = {}
    (home / "quantdesk.toml").write_text("[auth]\nmax_failures = 100000\n")  # the flood: no lockout cuts it short
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
            from quantdesk.desk.navigation import PAGES

            for entry in PAGES:
                began = time.perf_counter()
                page.goto(f"http://127.0.0.1:{port}{entry.path}")
                page.locator("h1").first.wait_for(timeout=60_000)
                if entry.slug in CHARTED:
                    page.locator("canvas").first.wait_for(timeout=60_000)
                paints[entry.slug] = round(time.perf_counter() - began, 2)
            chromium.close()
        if "--first-paint" not in sys.argv:  # the 20-viewer cases (minutes on a loaded machine)
            # an even number of changes: the next case starts from ACTIVE again
            protocol = asyncio.run(_protocol_sessions(port, cookie, 20, rounds=4))
            flood = asyncio.run(_protocol_sessions(port, cookie, 20, flood=200))
            concurrent, updates = asyncio.run(_concurrent(port, 20))
    finally:
        server.terminate()
        server.wait(timeout=30)
    print(json.dumps({
        "bench": "dashboard_market", "machine_cores": os.cpu_count(), "candles_1m": full.height,
        "shown": data["note"], "server_market_s": round(server_s, 3), "server_market_warm_s": round(server_warm_s, 3),
        "server_market_goal": "none of its own: part of browser_first_chart_s (cold = first call in a process)",
        "browser_first_chart_s": None if browser_s is None else round(browser_s, 2), "goal_s": 2.0,
        "points_sent": data["frame"].height, "points_goal": "at most 2,500 (the server downsamples)",
        "first_paint_s": paints, "first_paint_goal_s": 2.0,
        "first_paint_measures": "Chromium, logged in: navigation until the page's heading (and, on "
                                f"{', '.join(sorted(CHARTED))}, its first chart's canvas) is drawn",
        "concurrent_viewers_updates": updates, "concurrent_viewers": concurrent,
        "concurrent_sessions_server_only": server_side, "concurrent_sessions_protocol": protocol,
        "login_flood": flood,
    }, indent=2))


if __name__ == "__main__":
    main()
