"""Real processes: readers during a write stream, and a writer killed mid-stream (SIGKILL)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import text

from quantdesk.ledger import Ledger

pytestmark = pytest.mark.slow

WORKER = Path(__file__).with_name("_ledger_worker.py")


def _spawn(role: str, url: str, n: int) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, str(WORKER), role, url, str(n)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def test_readers_in_other_processes_see_a_consistent_growing_ledger(db_url: str) -> None:
    n = 20
    readers = [_spawn("reader", db_url, n) for _ in range(2)]
    for reader in readers:  # both poll before the first write, however slowly they started
        assert reader.stdout is not None and reader.stdout.readline().strip() == "READY"
    writer = _spawn("writer", db_url, n)
    out, err = writer.communicate(timeout=300)
    assert writer.returncode == 0, err
    assert out.count("ACK") == n
    reports = []
    for reader in readers:
        rout, rerr = reader.communicate(timeout=300)
        assert reader.returncode == 0, rerr
        reports.append(json.loads(rout.strip().splitlines()[-1]))
    for report in reports:
        assert report["errors"] == []
        assert report["seen"] == sorted(report["seen"]) and report["seen"][-1] == n
        assert report["audit_ok"]
    # the readers polled while the writer wrote: at least one saw an intermediate count
    assert any(len(r["seen"]) > 1 for r in reports), reports


def test_every_acknowledged_write_survives_a_killed_writer(db_url: str) -> None:
    writer = _spawn("writer", db_url, 1_000_000)
    acked: list[int] = []
    assert writer.stdout is not None
    for line in writer.stdout:
        acked.append(int(line.split()[1]))
        if len(acked) == 25:
            break
    os.kill(writer.pid, signal.SIGKILL)  # no cleanup, no atexit, mid-stream
    writer.wait(timeout=60)
    writer.stdout.close()
    assert writer.stderr is not None
    writer.stderr.close()
    assert writer.returncode == -signal.SIGKILL
    with Ledger(db_url) as ledger:
        orders = {o.client_order_id: o for o in ledger.orders()}
        fills = ledger.fills()
        for i in acked:
            order = orders[f"c{i}"]
            assert order.status.value == "filled" and order.filled_qty == Decimal("0.001")
            assert [e.to_status.value for e in ledger.order_history(f"c{i}")] == ["pending", "filled"]
        assert {f"t{i}" for i in acked} <= {f.trade_id for f in fills}
        # consistent: no fill without its order, position = sum of fills, audit chain intact
        assert all(f.order_id is not None for f in fills)
        assert ledger.position("BTC/USDT") == Decimal("0.001") * len(fills)
        verification = ledger.verify_audit()
        assert verification.ok and verification.checked >= len(acked)
        if ledger.dialect == "sqlite":
            with ledger.engine.connect() as c:
                assert c.execute(text("PRAGMA integrity_check")).scalar() == "ok"
        # and the ledger takes writes again after the crash
        ledger.audit("test", "after-crash")
        assert ledger.verify_audit().ok
