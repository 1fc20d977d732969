"""quantdesk.core.display: the one formatting of values for pages, CLI tables and reports (issue 24)."""

from __future__ import annotations

import ast
import math
import re
import sys
from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal
from enum import StrEnum
from pathlib import Path

from hypothesis import given
from hypothesis import strategies as st

from quantdesk.core import display
from quantdesk.core.display import MISSING, cell, money, percent, quantity, timestamp

RAW = re.compile(r"\bNone\b|\bNaN\b|\bnan\b|\{'|\bTrue\b|\bFalse\b|inf\b")


def test_each_kind_of_value_reads_as_people_expect() -> None:
    assert money(Decimal("1234567.891"), "USDT") == "1,234,567.89 USDT"
    assert money(-80.1, "USDT") == "-80.10 USDT" and display.signed_money(1250, "USDT") == "+1,250.00 USDT"
    assert quantity(Decimal("0.01500000"), "BTC") == "0.015 BTC", "as stored, without trailing zeros"
    assert quantity(Decimal("1.5"), step="0.001") == "1.500", "to the market's lot step"
    assert quantity(Decimal("12000")) == "12,000"
    assert percent(0.1234) == "12.34%" and percent(Decimal("-0.5"), 0) == "-50%"
    assert timestamp(datetime(2026, 12, 7, 14, 2, 59, 123456, tzinfo=UTC)) == "2026-12-07 14:02 UTC"
    assert timestamp(datetime(2026, 12, 7, 16, 2, tzinfo=timezone(timedelta(hours=2)))) == "2026-12-07 14:02 UTC"
    assert timestamp("2026-12-07T14:02:03.5+00:00") == "2026-12-07 14:02 UTC"
    assert timestamp(1_796_652_120_000) == "2026-12-07 14:02 UTC", "epoch milliseconds"
    assert display.boolean(True) == "yes" and display.tick(False) == "✗"
    assert display.quote_currency("XRP/USDT:USDT") == "USDT" and display.quote_currency("BTC") is None


def test_a_missing_value_is_an_em_dash_whatever_its_kind() -> None:
    for value in (None, float("nan"), Decimal("NaN"), "", "  "):
        assert cell(value) == MISSING
        assert money(value if not isinstance(value, str) else None, "USDT") == MISSING
    assert percent(None) == MISSING and timestamp(None) == MISSING and quantity(None) == MISSING


class _Side(StrEnum):
    BUY = "buy"


def test_cells_of_every_type_hold_no_raw_python_value() -> None:
    values = [True, False, None, float("nan"), float("inf"), 1.5, 1234567, Decimal("0.00012"), _Side.BUY,
              datetime(2024, 1, 2, 3, 4, tzinfo=UTC), date(2024, 1, 2), timedelta(hours=26, minutes=5),
              {"a": None, "b": True}, [None, 1.0], "2024-01-02T03:04:05+00:00"]
    cells = [cell(v) for v in values]
    assert not any(RAW.search(c) for c in cells), cells
    assert cells[0] == "yes" and cells[8] == "buy" and cells[11] == "1d 2h 5m"
    assert cells[-1] == "2024-01-02 03:04 UTC", "a time that went through JSON"


@given(st.decimals(min_value=Decimal("-1e12"), max_value=Decimal("1e12"), allow_nan=False, places=6))
def test_money_is_the_amount_rounded_to_cents(amount: Decimal) -> None:
    text = money(amount, "USDT")
    assert text.endswith(" USDT")
    shown = Decimal(text.removesuffix(" USDT").replace(",", ""))
    assert abs(shown - amount) <= Decimal("0.005")
    digits = text.removesuffix(" USDT").lstrip("-").split(".")[0]
    assert all(len(group) == 3 for group in digits.split(",")[1:]), "thousands separators every three digits"


@given(st.decimals(min_value=Decimal("-1e9"), max_value=Decimal("1e9"), allow_nan=False, places=8))
def test_a_quantity_as_stored_loses_nothing(qty: Decimal) -> None:
    assert Decimal(quantity(qty).replace(",", "")) == qty


@given(st.floats(allow_nan=True, allow_infinity=True) | st.none() | st.booleans() | st.integers())
def test_any_number_cell_is_readable(value: object) -> None:
    text = cell(value)
    assert text and not RAW.search(text.replace("∞", "")), text
    if isinstance(value, float) and math.isnan(value):
        assert text == MISSING


def test_the_module_is_pure_python_so_every_layer_may_import_it() -> None:
    source = Path(display.__file__).read_text()
    imported = {a.name.split(".")[0] for n in ast.walk(ast.parse(source)) if isinstance(n, ast.Import) for a in n.names}
    imported |= {n.module.split(".")[0] for n in ast.walk(ast.parse(source))
                 if isinstance(n, ast.ImportFrom) and n.module and n.level == 0}
    assert imported - {"__future__"} <= set(sys.stdlib_module_names), imported
