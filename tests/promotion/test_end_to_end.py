"""research -> paper -> live with the real pieces: lake, backtest and walk-forward runs, paper fills
in the ledger, the parity engineer's drift report, and a second approver."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import polars as pl
import pytest

from quantdesk.core.clock import ManualClock
from quantdesk.core.types import Stage
from quantdesk.ledger import Ledger
from quantdesk.parity import drift_report
from quantdesk.promotion import PromotionRefused, approve, get_deployment, promote

from .conftest import LENIENT, make_candles, write_strategy

SYMBOL = "BTC/USDT"


def _paper_fills(ledger: Ledger, clock: ManualClock, orders: pl.DataFrame, *, venue: str, slippage_bps: float) -> int:
    """Write the backtest's orders as the paper deployment's fills, each `slippage_bps` worse."""
    for i, row in enumerate(orders.iter_rows(named=True)):
        sign = 1 if row["side"] == "buy" else -1
        price = row["price"] * (1 + sign * slippage_bps / 1e4)
        clock.set(row["ts"])
        cid = f"qd-mom-{i}"
        ledger.record_intent(client_order_id=cid, venue=venue, symbol=SYMBOL, side=row["side"], order_type="market",
                             qty=f"{row['qty']:.12f}", deployment="mom")
        ledger.record_fill(venue=venue, trade_id=f"t{i}", symbol=SYMBOL, side=row["side"], qty=f"{row['qty']:.12f}",
                           price=f"{price:.12f}", ts=row["ts"] + timedelta(seconds=1),
                           fee=f"{row['qty'] * price * 0.001:.12f}", client_order_id=cid)
    return len(orders)


@pytest.mark.parametrize("slippage_bps, goes_live", [(2.0, True), (40.0, False)])
def test_paper_history_within_drift_goes_live_after_a_second_approval(
    tmp_path: Path, slippage_bps: float, goes_live: bool
) -> None:
    from quantdesk.backtest import LakeQuery, backtest, load_run, walk_forward
    from quantdesk.lake import Lake

    candles = make_candles(1500)
    Lake().write(candles, exchange="simex", symbol=SYMBOL, timeframe="1h")
    ref = write_strategy(tmp_path / "momentum.py")
    query = LakeQuery.of(SYMBOL, "1h", exchange="simex")
    run = backtest(ref, query, params={"lookback": 20}, lookahead_samples=4)
    walk_forward(ref, query, grid={"lookback": [10, 20]}, train="20d", test="10d")

    clock = ManualClock(candles["ts"][0])
    with Ledger(clock=clock) as ledger:
        from quantdesk.promotion import add_user

        add_user(ledger, "alice", "admin", actor="alice")
        add_user(ledger, "bob", "trader", actor="alice")
        promote(ledger, ref, run_id=run.run_id, to="paper", actor="alice", name="mom", gates=LENIENT)
        deployment = get_deployment(ledger, "mom")
        assert deployment.exchange == "simex"

        # Paper trading over the last ~10 days, starting from a buy out of a flat book.
        orders = load_run(run.run_id).table("orders").sort("ts")
        recent = orders.filter(pl.col("ts") >= candles["ts"][-240])
        first_buy = recent["side"].to_list().index("buy")
        written = _paper_fills(ledger, clock, recent.slice(first_buy), venue=deployment.venue,
                               slippage_bps=slippage_bps)
        assert written >= 4, "the paper window must trade for the test to mean anything"
        clock.set(candles["ts"][-1] + timedelta(hours=1))

        if not goes_live:
            with pytest.raises(PromotionRefused) as caught:
                promote(ledger, ref, run_id=run.run_id, to="live", actor="bob", name="mom", gates=LENIENT,
                        drift=drift_report)
            assert [g.name for g in caught.value.request.failing_gates] == ["drift_bps"]
            assert caught.value.request.evidence["evidence"]["drift_bps"] == pytest.approx(slippage_bps, rel=1e-6)
            return
        request = promote(ledger, ref, run_id=run.run_id, to="live", actor="bob", name="mom", gates=LENIENT,
                        drift=drift_report)
        figures = request.evidence["evidence"]
        assert figures["drift_bps"] == pytest.approx(slippage_bps, rel=1e-6)
        assert figures["paper_days"] >= LENIENT.min_paper_days
        approve(ledger, "mom", actor="alice")
        assert get_deployment(ledger, "mom").stage is Stage.LIVE
