"""The daily VaR series (revision 0014, issue 25) on SQLite and PostgreSQL: written once, outcome filled once."""

from __future__ import annotations

from decimal import Decimal

from quantdesk.ledger import Ledger
from quantdesk.ledger.var_series import record_var, record_var_outcome, var_rows

POSITIONS = [{"venue": "sim", "exchange": "binance", "symbol": "BTC/USDT", "qty": "0.5", "price": 60000.0}]


def _write(ledger: Ledger, day: str, var: float) -> tuple[object, bool]:
    return record_var(ledger, scope="desk", day=day, as_of="2024-05-19", method="historical", confidence=0.99,
                      window_days=365, observations=300, var_quote=var, es_quote=var * 1.2, gross_quote=30000.0,
                      positions=POSITIONS)


def test_a_day_is_written_once_and_its_outcome_filled_once(ledger: Ledger) -> None:
    row, written = _write(ledger, "2024-05-20", 1234.567891234)
    assert written and row.var_quote == Decimal("1234.56789123") and row.positions == POSITIONS
    again, written = _write(ledger, "2024-05-20", 9999.0)
    assert not written and again.id == row.id and again.var_quote == row.var_quote, "never rewritten"
    _write(ledger, "2024-05-21", 1300.0)
    assert record_var_outcome(ledger, row.id, pnl_quote=-1500.25, exception=True, zone="red")
    assert not record_var_outcome(ledger, row.id, pnl_quote=0.0, exception=False, zone="green"), "filled once"
    first, second = var_rows(ledger)
    assert (first.day, first.pnl_quote, first.exception, first.zone) == ("2024-05-20", Decimal("-1500.25"), True, "red")
    assert first.evaluated_at is not None and second.evaluated_at is None and second.pnl_quote is None
    assert [r.day for r in var_rows(ledger, limit=1)] == ["2024-05-21"]
    assert var_rows(ledger, "deployment:alpha") == [] and var_rows(ledger, method="gaussian") == []
