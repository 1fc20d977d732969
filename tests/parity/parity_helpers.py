"""Helpers of the parity tests: a paper history written into a ledger."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import polars as pl

from quantdesk.core.clock import ManualClock

SYMBOL = "BTC/USDT"


def write_history(ledger: Any, clock: ManualClock, orders: pl.DataFrame, *, deployment: str, venue: str,
                  fee_rate: float, slippage_bps: float, skip: frozenset[int] = frozenset()) -> None:
    """Write backtest `orders` as a paper deployment's orders and fills, each `slippage_bps` worse."""
    for i, row in enumerate(orders.iter_rows(named=True)):
        if i in skip:
            continue
        sign = 1 if row["side"] == "buy" else -1
        price = row["price"] * (1 + sign * slippage_bps / 1e4)
        clock.set(row["ts"])
        cid = f"qd-{deployment}-{i}"
        ledger.record_intent(client_order_id=cid, venue=venue, symbol=row["symbol"], side=row["side"],
                             order_type="market", qty=f"{row['qty']:.12f}", deployment=deployment)
        ledger.record_fill(venue=venue, trade_id=f"t{i}", symbol=row["symbol"], side=row["side"],
                           qty=f"{row['qty']:.12f}", price=f"{price:.12f}", ts=row["ts"] + timedelta(seconds=1),
                           fee=f"{row['qty'] * price * fee_rate:.12f}", client_order_id=cid)
