"""A live paper run seen in the browser (issue 24): the overview shows the deployment's fills as they land.

Real parts throughout: `quantdesk venue serve --speed 60`, `quantdesk run NAME --venue-clock`,
`quantdesk dashboard`, and headless Chromium on the overview, which is opened before the run
starts and never reloaded.
"""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.dashboards.test_dashboards_browser import CHROMIUM, _free_port, _html, _login, browser  # noqa: F401
from tests.live.conftest import FLIP_SOURCE, candles, make_deployment

pytestmark = [
    pytest.mark.integration,
    pytest.mark.slow,
    pytest.mark.skipif(not os.path.exists(CHROMIUM), reason=f"{CHROMIUM} is absent (.ci/run installs it)"),
]

QUANTDESK = str(Path(sys.executable).with_name("quantdesk"))
PASSWORD = "ops-live-passphrase"


def _read_json_document(stream: Any) -> dict[str, Any]:
    lines = []
    for line in stream:
        lines.append(line)
        if line.rstrip() == "}":
            return json.loads("".join(lines))
    raise AssertionError(f"no JSON document on stdout: {''.join(lines)!r}")


def _wait_for_port(port: int, process: subprocess.Popen[Any], log: Path) -> None:
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        with socket.socket() as probe:
            if probe.connect_ex(("127.0.0.1", port)) == 0:
                return
        assert process.poll() is None, log.read_text()
        time.sleep(0.2)
    raise AssertionError(f"nothing answered on port {port}: {log.read_text()}")


@pytest.fixture
def desk(quantdesk_home: Path, tmp_path: Path, flip_env: dict[str, str]) -> Iterator[dict[str, Any]]:
    """A served venue at 60x, venue `sim` added, a 1m paper deployment on it, and a dashboard server."""
    from quantdesk.identity import add_user
    from quantdesk.lake import Lake
    from quantdesk.ledger import Ledger

    (tmp_path / "flip.py").write_text(FLIP_SOURCE)
    flip_strategy = f"{tmp_path / 'flip.py'}:Flip"

    frame = candles(900)
    Lake().write(frame, exchange="synthetic", symbol="BTC/USDT", timeframe="1m")
    with Ledger() as ledger:
        add_user(ledger, "ops", "admin", actor="ops", password=PASSWORD)
        # a target flip every bar at 5% of equity: an order each bar, inside conservative default limits
        make_deployment(ledger, "flip-sim", strategy=flip_strategy, venue="sim", exchange="synthetic",
                        params={"period": 1, "level": 0.05})
    processes: list[subprocess.Popen[Any]] = []
    try:
        serve = subprocess.Popen([QUANTDESK, "venue", "serve", "--port", "0", "--speed", "60", "--symbol", "BTC/USDT",
                                  "--start", frame["ts"][200].isoformat(), "--json"], stdout=subprocess.PIPE,
                                 stderr=subprocess.DEVNULL, text=True, env=flip_env)
        processes.append(serve)
        info = _read_json_document(serve.stdout)
        added = subprocess.run([QUANTDESK, "venue", "add", "sim", "--exchange", "binance", "--api-url", info["url"],
                                "--ws-url", info["ws_url"]], capture_output=True, text=True, env=flip_env, check=False)
        assert added.returncode == 0, added.stderr
        port = _free_port()
        log = quantdesk_home / "dashboard.log"
        with log.open("w") as out:
            dashboard = subprocess.Popen([QUANTDESK, "dashboard", "--port", str(port)], stdout=out,
                                         stderr=subprocess.STDOUT, env=flip_env)
        processes.append(dashboard)
        _wait_for_port(port, dashboard, log)
        yield {"url": f"http://127.0.0.1:{port}", "home": quantdesk_home}
    finally:
        for process in processes:
            process.terminate()
        for process in processes:
            process.communicate(timeout=30)


@pytest.fixture
def flip_env(quantdesk_home: Path) -> dict[str, str]:
    return {**os.environ, "QUANTDESK_USER": "ops", "COLUMNS": "200"}


def _fills_section(page: Any) -> str:
    """The overview's "Latest fills" part, from the page as drawn (shadow roots included)."""
    found = re.search(r"Latest fills</h3>(.*?)(<h3>|$)", _html(page), re.S)
    return found.group(1) if found else ""


def test_the_overview_shows_a_live_runs_fills_as_they_land_without_a_reload(
    desk: dict[str, Any], browser: object, flip_env: dict[str, str],  # noqa: F811
) -> None:
    from quantdesk.ledger import Ledger

    page: Any = _login(browser, desk["url"], "ops", PASSWORD, "overview")
    page.get_by_text("Latest fills").wait_for(timeout=60_000)
    page.get_by_text("no fills yet").wait_for(timeout=60_000)
    page.evaluate("window.__not_reloaded = true")
    run = subprocess.Popen([QUANTDESK, "run", "flip-sim", "--venue-clock", "--bars", "120"], stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, text=True, env=flip_env)
    try:
        deadline = time.monotonic() + 240
        shown = ""
        while time.monotonic() < deadline and "flip-sim" not in shown:
            assert run.poll() is None or run.returncode == 0, run.communicate()
            time.sleep(0.5)
            shown = _fills_section(page)
        assert "flip-sim" in shown, f"no fill of flip-sim appeared on the open overview: {shown!r}"
        assert page.evaluate("window.__not_reloaded === true"), "the page was reloaded"
        assert run.poll() is None, "the fills appeared while the run was still going, not after it"
    finally:
        run.terminate()
        out, err = run.communicate(timeout=60)
    with Ledger() as ledger:
        fills = ledger.fills(deployment="flip-sim")
    assert fills, err
    shown_times = set(re.findall(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC", shown))
    assert shown_times and shown_times <= {f"{f.ts:%Y-%m-%d %H:%M:%S} UTC" for f in fills}  # the ledger's own fills
