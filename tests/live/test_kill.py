"""Crash safety: the runner PROCESS is SIGKILLed at random moments against the simulated venue.

Market time runs 60x faster than the wall clock (a 1m bar per second) on a scaled clock
shared with the runner process through QUANTDESK_CLOCK. After at least 20 kills and a
final SIGTERM (graceful: exit 0), the ledger must equal the venue: the same orders, no
duplicate client order ids, every venue trade recorded once, position = sum of fills.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from decimal import Decimal
from pathlib import Path

import pytest

from tests.live.conftest import VenueTicker, candles, make_deployment

KEY, SECRET = "kill-test-key", "kill-test-secret"
SPEED = 60.0
KILLS = 20
QUANTDESK = str(Path(sys.executable).with_name("quantdesk"))
# What `quantdesk run` prints once per bar ("2024-01-01 05:41 UTC  target BTC/USDT +0.00  no order").
BAR_LINE = " UTC  target "


def _config(home: Path, url: str) -> None:
    (home / "quantdesk.toml").write_text(f"""
[venues.sim]
exchange = "binance"
api_url = "{url}"
key_env = "QD_KILL_KEY"
secret_env = "QD_KILL_SECRET"
options = {{ defaultType = "spot", fetchCurrencies = false, fetchMargins = false }}
""")


def _start(env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    with log.open("ab") as out:
        return subprocess.Popen([QUANTDESK, "run", "flip-kill"], env=env, stdout=out, stderr=out)


def _wait_for_bar(log: Path, proc: subprocess.Popen[bytes], timeout_s: float = 40.0) -> None:
    """Wait until the runner process reports one more bar in its log."""
    seen = log.read_text().count(BAR_LINE)
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline and proc.poll() is None:
        if log.read_text().count(BAR_LINE) > seen:
            return
        time.sleep(0.05)
    raise AssertionError(f"the runner reported no bar within {timeout_s}s: {log.read_text()[-2000:]}")


@pytest.mark.integration
@pytest.mark.slow
def test_sigkilled_runner_leaves_ledger_equal_to_venue(flip_strategy: str, quantdesk_home: Path,
                                                       tmp_path: Path, operator: str) -> None:
    from quantdesk.core.clock import ManualClock
    from quantdesk.ledger import Ledger
    from quantdesk.live.schedule import ScaledClock
    from quantdesk.venue import SimulatedVenue

    frame = candles(1200)
    start_ms = int(frame["ts"][300].timestamp() * 1000)
    scaled = ScaledClock(start_ms, int(time.time() * 1000), SPEED)
    rng = random.Random(5)
    with SimulatedVenue({"BTC/USDT": frame}, clock=ManualClock(start_ms), api_key=KEY, api_secret=SECRET) as venue:
        ticker = VenueTicker(venue, scaled).start()  # the venue's market time follows the scaled clock
        _config(quantdesk_home, venue.url)
        with Ledger() as ledger:
            make_deployment(ledger, "flip-kill", strategy=flip_strategy, stage="live", venue="sim", exchange="sim",
                            params={"period": 2})
        env = {**os.environ, "QD_KILL_KEY": KEY, "QD_KILL_SECRET": SECRET, "QUANTDESK_CLOCK": scaled.spec(),
               "PYTHONUNBUFFERED": "1", "COLUMNS": "200",
               # a restart waits out the killed runner's lease (one runner per deployment): keep it short
               "QUANTDESK_RUNNER_LEASE_S": "2"}
        log = tmp_path / "runner.log"
        try:
            for k in range(KILLS):
                proc = _start(env, log)
                if k % 3 == 1:  # a third of the kills land while it trades: after it reported a bar
                    _wait_for_bar(log, proc)
                    time.sleep(rng.uniform(0.0, 1.5))
                else:  # the others anywhere from start-up on
                    time.sleep(rng.uniform(0.5, 4.0))
                early = proc.poll()  # the runner must not have ended on its own
                proc.send_signal(signal.SIGKILL)
                assert early is None and proc.wait(timeout=30) == -signal.SIGKILL, (
                    f"kill {k}: runner exited with {early}: {log.read_text()[-3000:]}")
            proc = _start(env, log)
            for _ in range(3):  # the last run trades a few bars (the target flips every 2 bars)
                _wait_for_bar(log, proc)
            proc.send_signal(signal.SIGTERM)  # graceful: finish the bar, record STOPPED, exit 0
            assert proc.wait(timeout=60) == 0, log.read_text()[-3000:]
        finally:
            ticker.stop()
            if proc.poll() is None:
                proc.kill()
                proc.wait(timeout=30)

        with Ledger() as ledger:
            from quantdesk.promotion import get_deployment

            assert get_deployment(ledger, "flip-kill").state.value == "stopped"
            venue_orders = venue.orders()
            ids = [o.client_order_id for o in venue_orders]
            assert len(ids) == len(set(ids)), "duplicate client order ids at the venue"
            assert len(ids) >= 2, log.read_text()[-3000:]  # it did trade between the kills
            mine = {o.client_order_id: o for o in ledger.orders(deployment="flip-kill")}
            sent = {cid for cid, o in mine.items() if o.venue_order_id is not None}
            assert sent == set(ids), (sorted(sent ^ set(ids)), log.read_text()[-3000:])
            for o in venue_orders:  # statuses and fills agree order by order
                row = mine[o.client_order_id]
                assert row.status.is_final and row.filled_qty == o.executed_qty, (row, o)
            venue_trades = {str(t.trade_id): t for t in venue.trades()}
            fills = ledger.fills(venue="sim")
            assert len(fills) == len({f.trade_id for f in fills}), "a fill was recorded twice"
            assert {f.trade_id for f in fills} == set(venue_trades), "fills lost or invented"
            position = ledger.position("BTC/USDT", venue="sim")
            assert position == sum((f.signed_qty for f in fills), Decimal(0))
            free, locked = venue.balances().get("BTC", (Decimal(0), Decimal(0)))
            assert position == free + locked
