"""The gate's VaR model source (issue 25): matrices built once a day, exposures kept current from new fills,
a symbol first traded today taken in once, the desk's equity from the venues' balances."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pytest

from quantdesk.book import gate_var_source, load_book
from quantdesk.core.clock import ManualClock
from quantdesk.lake import Lake, write_sample
from quantdesk.ledger import Ledger

NOW = datetime(2024, 5, 10, 12, tzinfo=UTC)


def _fill(ledger: Ledger, i: int, symbol: str, qty: str, deployment: str = "manual") -> None:
    ledger.record_intent(client_order_id=f"g{i}", venue="sim", symbol=symbol, side="buy", order_type="market", qty=qty,
                         deployment=deployment)
    ledger.record_fill(venue="sim", trade_id=f"g{i}", symbol=symbol, side="buy", qty=qty, price="100",
                       ts=NOW - timedelta(days=1), client_order_id=f"g{i}")


def test_the_source_builds_daily_refreshes_exposures_and_extends(quantdesk_home: Path) -> None:
    from quantdesk.promotion import create_deployment

    (quantdesk_home / "quantdesk.toml").write_text("[risk.var]\nrefresh_s = 0.01\nwindow_days = 120\n")
    lake = Lake()
    write_sample(lake, symbols=3, days=130)
    clock = ManualClock(NOW)
    with Ledger(clock=clock) as ledger:
        create_deployment(ledger, "alpha", strategy="sma_cross", symbols=("SOL/USDT",), timeframe="1h", actor="ops",
                          capital=50_000)
        _fill(ledger, 0, "BTC/USDT", "0.5")
        _fill(ledger, 1, "SOL/USDT", "30", deployment="alpha")
        ledger.record_balances(venue="sim", totals={"USDT": "90000", "BTC": "0.5", "DOGE": "7"})
        source = gate_var_source(ledger, lake, clock=clock)
        model = source()
        book = load_book(ledger, lake)
        price = {s.symbol: s.price for s in book.series}
        assert model.day == "2024-05-10" and set(model.symbols) == {"BTC/USDT", "SOL/USDT"}
        btc, sol = model.column["BTC/USDT"], model.column["SOL/USDT"]
        assert model.desk.exposure[btc] == pytest.approx(0.5 * price["BTC/USDT"])
        assert model.desk.equity == pytest.approx(90_000 + 0.5 * price["BTC/USDT"]), "DOGE has no price: left out"
        assert model.deployments["alpha"].exposure[sol] == pytest.approx(30 * price["SOL/USDT"])
        assert model.deployments["alpha"].equity == 50_000.0 and model.returns.shape == (120, 2)
        assert source() is model, "nothing new: the same model"

        _fill(ledger, 2, "BTC/USDT", "0.25")
        time.sleep(0.05)
        refreshed = source()
        assert refreshed.desk.exposure[btc] == pytest.approx(0.75 * price["BTC/USDT"])
        assert refreshed.returns is model.returns, "new fills move the exposures, not the day's matrices"
        assert refreshed.desk.variance == pytest.approx(
            refreshed.desk.exposure @ np.cov(model.returns, rowvar=False, ddof=1) @ refreshed.desk.exposure)

        extended = source.extend("sim", "ETH/USDT")
        assert "ETH/USDT" in extended.column and extended.desk.exposure[extended.column["ETH/USDT"]] == 0.0
        clock.set(NOW + timedelta(days=1))
        assert source().day == "2024-05-11", "a new day: the matrices are built again"
        with pytest.raises(Exception, match="has no history in the lake"):
            source.extend("sim", "PEPE/USDT")
        assert "PEPE/USDT" not in source().column
