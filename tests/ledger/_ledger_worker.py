"""A separate process for the concurrency and crash tests: `writer URL N` or `reader URL N`.

The writer prints `ACK i` only after order, fill and audit entry i are committed; the
reader polls until it sees N orders and prints the distinct counts it observed as JSON.
"""

from __future__ import annotations

import json
import sys
import time
from datetime import UTC, datetime

from quantdesk.ledger import Ledger

T0 = datetime(2024, 1, 1, tzinfo=UTC)


def write(url: str, n: int) -> None:
    with Ledger(url) as ledger:
        for i in range(n):
            cid = f"c{i}"
            ledger.record_intent(
                client_order_id=cid, venue="sim", symbol="BTC/USDT", side="buy", order_type="market", qty="0.001"
            )
            ledger.record_fill(
                venue="sim", trade_id=f"t{i}", symbol="BTC/USDT", side="buy", qty="0.001", price="100", ts=T0,
                client_order_id=cid,
            )
            ledger.update_order(cid, "filled", filled_qty="0.001", avg_price="100")
            ledger.audit("writer", "order.filled", {"client_order_id": cid})
            print(f"ACK {i}", flush=True)


def read(url: str, n: int) -> None:
    seen: list[int] = []
    errors: list[str] = []
    deadline = time.monotonic() + 120
    with Ledger(url) as ledger:
        while time.monotonic() < deadline:
            try:
                fills = len(ledger.fills())
                orders = len(ledger.orders())
                if fills > orders:  # fills are written after their order, never before
                    errors.append(f"{fills} fills but only {orders} orders")
                if seen and orders < seen[-1]:
                    errors.append(f"order count went back from {seen[-1]} to {orders}")
                if not seen or orders != seen[-1]:
                    seen.append(orders)
                    if len(seen) == 1:
                        print("READY", flush=True)  # polling: the parent may start the writer now
                if orders >= n:
                    break
            except Exception as e:  # report, do not die: the parent asserts there were none
                errors.append(f"{type(e).__name__}: {e}")
            time.sleep(0.02)
        verified = ledger.verify_audit().ok
    print(json.dumps({"seen": seen, "errors": errors, "audit_ok": verified}), flush=True)


if __name__ == "__main__":
    role, url, count = sys.argv[1], sys.argv[2], int(sys.argv[3])
    (write if role == "writer" else read)(url, count)
