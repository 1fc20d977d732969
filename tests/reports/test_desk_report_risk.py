"""The desk report's risk section (issue 25): the desk's VaR/ES with contributions, the VaR backtest and the
stress table, from the same figures as `quantdesk risk var`."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from pathlib import Path

import pytest

from quantdesk.core.clock import ManualClock
from quantdesk.lake import Lake, write_sample
from quantdesk.ledger import Ledger
from quantdesk.reports.desk import write_desk_report

NOW = datetime(2024, 5, 10, 6, 0, tzinfo=UTC)


@pytest.mark.slow
def test_the_desk_report_has_a_risk_section(quantdesk_home: Path) -> None:
    from quantdesk.book import book_var_report

    write_sample(Lake(), symbols=2, days=130)
    (quantdesk_home / "quantdesk.toml").write_text('[[risk.scenarios]]\nname = "halving"\nshocks = { all = -0.5 }\n')
    with Ledger(clock=ManualClock(NOW)) as ledger:
        for i, (symbol, qty) in enumerate((("BTC/USDT", "0.5"), ("ETH/USDT", "4"))):
            ledger.record_intent(client_order_id=f"r{i}", venue="sim", symbol=symbol, side="buy", order_type="market",
                                 qty=qty, deployment="manual")
            ledger.record_fill(venue="sim", trade_id=f"r{i}", symbol=symbol, side="buy", qty=qty, price="100",
                               ts=datetime(2024, 5, 9, tzinfo=UTC), client_order_id=f"r{i}")
        report = write_desk_report(ledger, period="daily", now=NOW, pdf=False)
        expected = book_var_report(ledger)
    import json

    risk = json.loads(report.snapshot.read_text())["risk"]
    assert risk["desk"]["var_quote"] == pytest.approx(expected.var_quote, rel=1e-12)
    assert [c["name"] for c in risk["desk"]["contributions"]] == ["manual"]
    assert risk["backtest"]["source"] == "lake" and risk["backtest"]["observations"] >= 1
    halving = next(s for s in risk["stress"] if s["scenario"] == "halving")
    assert halving["pnl_quote"] == pytest.approx(-0.5 * expected.gross_quote, rel=1e-12)
    html = report.html.read_text()
    assert "Risk: what the desk can lose" in html
    assert re.search(r"1d 0\.99 historical VaR <strong>[\d,]+\.\d\d</strong>", html), "the VaR line is rendered"
    assert "halving" in html and "exceptions in" in html
