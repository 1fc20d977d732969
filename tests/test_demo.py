"""`make demo` as a person runs it (issue 24): offline, readable, and it ends with a live paper run.

The whole demo runs in a fresh QUANTDESK_HOME with a shorter live run (`--live-bars 30`). Its
output must hold no Python repr and no raw data frame, must say where to watch the run (the
dashboard's address, how to log in, the command to open it again), and must print the fills
that the demo desk's ledger holds; every process it started must be gone at its end.
"""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]

pytestmark = [pytest.mark.integration, pytest.mark.slow]

# what a repr or a raw frame looks like in a terminal (rich tables draw with heavy box lines, polars with light ones)
RAW = {
    "a dict repr": re.compile(r"\{'"),
    "a dataclass repr": re.compile(r"\b[A-Z]\w+\(\w+="),
    "a Decimal or datetime repr": re.compile(r"Decimal\(|datetime\.datetime\(|Timestamp\("),
    "a polars frame": re.compile(r"shape: \(\d+, \d+\)|^[┌╞]", re.M),
    "a bare None or NaN": re.compile(r"\bNone\b|\bNaN\b|\bnan\b"),
}


def _closed(url: str) -> bool:
    host, port = url.removeprefix("http://").split(":")
    with socket.socket() as probe:
        return probe.connect_ex((host, int(port.split("/")[0]))) != 0


def test_make_demo_is_readable_ends_with_a_live_paper_run_and_stops_what_it_started(tmp_path: Path) -> None:
    home = tmp_path / "home"
    env = {**os.environ, "QUANTDESK_HOME": str(home), "COLUMNS": "120", "NO_COLOR": "1"}
    env.pop("QUANTDESK_CONFIG", None)
    env.pop("QUANTDESK_DB_URL", None)
    done = subprocess.run([sys.executable, str(REPO / "scripts" / "demo.py"), "--live-bars", "30"], cwd=tmp_path,
                          env=env, capture_output=True, text=True, timeout=1800, check=False)
    out = done.stdout
    assert done.returncode == 0, f"{out[-3000:]}\n{done.stderr[-3000:]}"
    for what, pattern in RAW.items():
        found = pattern.search(out)
        assert found is None, f"the demo printed {what}: {out[max(0, found.start() - 200):found.end() + 200]!r}"
    assert "step 6: paper deployment: live on the simulated venue" in out
    watch = re.search(r"open\s+(http://127\.0\.0\.1:\d+)/overview\s+and\s+log\s+in\s+as\s+demo\s+\(password\s+in\s+(\S+),", out)
    assert watch, out[-3000:]
    login = Path(watch.group(2))
    assert login == home / "demo" / "login.txt" and login.stat().st_mode & 0o077 == 0, "the login file is not owner-only"
    password = login.read_text().split("password ", 1)[1].strip()
    assert password and password not in out and password not in done.stderr, "the demo printed its password"
    assert f"QUANTDESK_HOME={home / 'demo'}" in out and "quantdesk dashboard" in out  # how to open it again
    fills = re.findall(r"^  fill 2024-\d\d-\d\d \d\d:\d\d UTC  (buy|sell) [\d.]+ BTC/USDT at [\d,.]+$", out, re.M)
    assert fills, out[-3000:]
    assert re.search(r"demo-live: 30 bars traded on the venue's clock, \d+ fills in the ledger", out), out[-2000:]
    # the fills printed are the demo desk's ledger's
    from quantdesk.ledger import Ledger

    with Ledger(f"sqlite:///{home / 'demo' / 'quantdesk.db'}") as ledger:
        assert len(ledger.fills(deployment="demo-live")) == len(fills)
    venue = re.search(r"# (http://127\.0\.0\.1:\d+), streams", out)
    assert venue and _closed(venue.group(1)) and _closed(watch.group(1)), "a process the demo started still listens"
