"""Twenty paper runners and a manual operator on one PostgreSQL ledger, as separate processes (issue 14).

Each runner is `quantdesk run flip-NN --json` (a strategy that trades every bar) on a scaled
clock (one market minute per real second), all writing the same ledger at once; meanwhile an
operator places a manual order through the gate and halts and resumes the desk. Afterwards
every order a runner reported is in the ledger exactly once and filled, no bar was processed
twice, the operator's actions are there, and the hash-chained audit log verifies.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from quantdesk.core.clock import ManualClock
from quantdesk.lake import Lake
from quantdesk.ledger import Ledger
from quantdesk.venue import SimulatedVenue
from quantdesk.venue.auth import TEST_API_KEY, TEST_API_SECRET
from tests.live.conftest import FLIP_SOURCE, candles, make_deployment

pytestmark = [pytest.mark.integration, pytest.mark.slow, pytest.mark.xdist_group("pg-runners")]

RUNNERS = 20
QUANTDESK = str(Path(sys.executable).with_name("quantdesk"))


def test_twenty_runners_and_an_operator_share_one_postgresql_ledger(pg_url: str, quantdesk_home: Path,
                                                                    tmp_path: Path) -> None:
    frame = candles(900)
    Lake().write(frame, exchange="paper", symbol="BTC/USDT", timeframe="1m")
    flip = tmp_path / "flip.py"
    flip.write_text(FLIP_SOURCE)
    names = [f"flip-{i:02d}" for i in range(RUNNERS)]
    with Ledger(pg_url) as ledger:
        for name in names:
            make_deployment(ledger, name, strategy=f"{flip}:Flip", params={"period": 1})
    start_ms = int(frame["ts"][300].timestamp() * 1000) + 30_000
    env = {**os.environ, "QUANTDESK_DB_URL": pg_url, "QUANTDESK_USER": "ops", "NO_COLOR": "1", "QUANTDESK_DEBUG": "1",
           "QUANTDESK_CLOCK": f"scaled:{start_ms}:{int(time.time() * 1000)}:60"}

    def cli(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
        return subprocess.run([QUANTDESK, *args], env=env, input=stdin, capture_output=True, text=True,
                              timeout=120, check=False)

    assert cli("user", "add", "ops", "--role", "admin", "--password-stdin", stdin="ops-pass\n").returncode == 0
    venue = SimulatedVenue({"BTC/USDT": frame}, clock=ManualClock(start_ms)).start()  # the operator's venue
    env.update(QD_SIM_KEY=TEST_API_KEY, QD_SIM_SECRET=TEST_API_SECRET)
    (quantdesk_home / "quantdesk.toml").write_text(
        f'[venues.sim]\nexchange = "binance"\napi_url = "{venue.url}"\nkey_env = "QD_SIM_KEY"\n'
        'secret_env = "QD_SIM_SECRET"\noptions = { defaultType = "spot", fetchCurrencies = false, '
        'fetchMargins = false }\n')
    env["QUANTDESK_CONFIG"] = str(quantdesk_home / "quantdesk.toml")
    assert cli("reconcile", "--venue", "sim").returncode == 0
    runners = [subprocess.Popen([QUANTDESK, "run", name, "--json"], env=env, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True) for name in names]
    try:
        time.sleep(12)  # start-up of twenty processes on a small machine, then bars every second
        manual = cli("order", "--venue", "sim", "--symbol", "BTC/USDT", "--side", "buy", "--qty", "0.01",
                     "--password-stdin", "--json", stdin="ops-pass\n")
        assert manual.returncode == 0, manual.stderr
        assert cli("halt", "--reason", "drill").returncode == 0
        time.sleep(3)  # runners keep processing bars; the gate denies while halted
        assert cli("resume").returncode == 0
        time.sleep(8)
    finally:
        for process in runners:
            process.send_signal(signal.SIGTERM)  # the current bar finishes, then the runner exits
        outputs = [process.communicate(timeout=120) for process in runners]
        venue.stop()

    reported: dict[str, list[str]] = {}
    docs: dict[str, object] = {}
    for name, process, (out, err) in zip(names, runners, outputs, strict=True):
        assert process.returncode == 0, f"{name}: {err[-6000:]}"
        doc = json.loads(out)
        docs[name] = doc
        bars = [b["bar_ts"] for b in doc["bars"]]
        assert bars == sorted(set(bars)), f"{name} processed a bar twice or out of order"
        assert len(bars) >= 5, f"{name} processed only {len(bars)} bars"
        reported[name] = [o["client_order_id"] for b in doc["bars"] for o in b["orders"] if o["approved"]]
        denied = [o for b in doc["bars"] for o in b["orders"] if not o["approved"]]
        assert all(o["code"] == "TRADING_HALTED" for o in denied), denied
    with Ledger(pg_url) as ledger:
        for name in names:
            stored = ledger.orders(deployment=name)
            ids = [o.client_order_id for o in stored]
            assert len(ids) == len(set(ids))
            assert sorted(ids) == sorted(reported[name]), f"{name}: ledger and runner disagree: {[(o.client_order_id, o.status.value, o.created_at) for o in stored]} {docs[name]}"
            assert all(o.status.value == "filled" for o in stored), name
        manual_orders = ledger.orders(venue="sim")
        assert len(manual_orders) == 1 and manual_orders[0].status.value == "filled"
        states = [(e.actor, e.payload["state"]) for e in ledger.audit_log(action="trading_state.set")]
        assert states == [("ops", "HALTED"), ("ops", "ACTIVE")], states
        submitted = [e.actor for e in ledger.audit_log(action="order.submitted")]
        assert submitted.count("ops") == 1 and len(submitted) == 1 + sum(len(v) for v in reported.values())
        assert sum(len(v) for v in reported.values()) >= RUNNERS * 3  # the desk traded throughout
        assert ledger.verify_audit().ok

