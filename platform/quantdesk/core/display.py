"""Values as people read them: one formatting for the desk's pages, the CLI's tables and the reports.

Money carries thousands separators and its currency (`12,345.67 USDT`), quantities keep the
market's precision (`0.015 BTC`), fractions read as percentages (`12.34%`), times as
`2026-12-07 14:02 UTC`, booleans as words (`yes`/`no`) or ticks, and a missing value as an em
dash, never `None` or `NaN`. Exports and `--json` keep full precision: they never come here.

Pure Python (no polars, no UI library), so every layer that shows a value can import it.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal, InvalidOperation
from enum import Enum
from typing import Any

__all__ = ["MISSING", "boolean", "cell", "is_missing", "money", "number", "percent", "quantity", "quote_currency",
           "row", "signed_money", "timestamp", "tick"]

MISSING = "—"  # an em dash: what a table shows where there is no value
_ISO_TIME = re.compile(r"^\d{4}-\d\d-\d\d[T ]\d\d:\d\d(:\d\d(\.\d+)?)?([+-]\d\d:\d\d|Z)?$")


def is_missing(value: object) -> bool:
    """Return True for None, NaN (float or Decimal) and the empty string."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return True
    if isinstance(value, float):
        return math.isnan(value)
    return isinstance(value, Decimal) and value.is_nan()


def _decimal(value: Decimal | float | int | str) -> Decimal | None:
    try:
        number_value = value if isinstance(value, Decimal) else Decimal(repr(value) if isinstance(value, float)
                                                                         else str(value))
    except (InvalidOperation, ValueError):
        return None
    return None if not number_value.is_finite() else number_value


def number(value: Decimal | float | int | str | None, places: int | None = 2) -> str:
    """Return `value` with thousands separators and `places` decimals (None: as stored, no trailing zeros)."""
    if is_missing(value):
        return MISSING
    if isinstance(value, float) and math.isinf(value):
        return "∞" if value > 0 else "-∞"
    found = _decimal(value)  # type: ignore[arg-type]
    if found is None:
        return str(value)
    if places is None:
        text = f"{found:,f}"
        return text.rstrip("0").rstrip(".") if "." in text else text
    return f"{found:,.{places}f}"


def money(amount: Decimal | float | int | str | None, currency: str | None = None, *, places: int = 2) -> str:
    """Return an amount as `12,345.67 USDT` (two decimals unless `places` says otherwise)."""
    text = number(amount, places)
    return text if text == MISSING or not currency else f"{text} {currency}"


def signed_money(amount: Decimal | float | int | str | None, currency: str | None = None, *, places: int = 2) -> str:
    """Return a gain or loss with its sign always shown (`+1,250.00 USDT`, `-80.10 USDT`)."""
    text = money(amount, currency, places=places)
    return text if text == MISSING or text.startswith("-") else f"+{text}"


def quantity(qty: Decimal | float | int | str | None, unit: str | None = None, *,
             step: Decimal | float | str | None = None) -> str:
    """Return a quantity to the market's precision: `step` (the lot step) if known, else as stored."""
    if is_missing(qty):
        return MISSING
    places = None
    if step is not None:
        found = _decimal(step)
        places = max(0, -int(found.normalize().as_tuple().exponent)) if found is not None and found > 0 else None
    text = number(qty, places)
    return f"{text} {unit}" if unit and text != MISSING else text


def percent(fraction: Decimal | float | int | str | None, places: int = 2) -> str:
    """Return a fraction as a percentage (0.1234 -> `12.34%`)."""
    if is_missing(fraction):
        return MISSING
    found = _decimal(fraction)  # type: ignore[arg-type]
    return MISSING if found is None else f"{found * 100:,.{places}f}%"


def timestamp(value: datetime | date | str | int | float | None, *, seconds: bool = False) -> str:
    """Return a time as `2026-12-07 14:02 UTC` (naive times are UTC; ints and floats are epoch milliseconds)."""
    if is_missing(value):
        return MISSING
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            return value
    elif isinstance(value, int | float):
        value = datetime.fromtimestamp(value / 1000, tz=UTC)
    if not isinstance(value, datetime):  # a date
        return f"{value:%Y-%m-%d}"
    if value.tzinfo is not None:
        value = value.astimezone(UTC)
    return f"{value:%Y-%m-%d %H:%M{':%S' if seconds else ''}} UTC"


def boolean(value: bool | None, yes: str = "yes", no: str = "no") -> str:
    """Return a boolean as a word (`yes`/`no`, or the words given)."""
    return MISSING if value is None else (yes if value else no)


def tick(value: bool | None) -> str:
    """Return a boolean as a tick or a cross."""
    return boolean(value, "✓", "✗")


def quote_currency(symbol: str | None) -> str | None:
    """Return the quote currency of a unified symbol (`BTC/USDT:USDT` -> `USDT`), or None."""
    if not symbol or "/" not in symbol:
        return None
    return symbol.split("/", 1)[1].split(":", 1)[0] or None


def cell(value: Any) -> str:
    """Return any value as a table cell: the right reading for its type, an em dash when missing."""
    if is_missing(value):
        return MISSING
    if isinstance(value, bool):
        return boolean(value)
    if isinstance(value, Enum):
        return str(value.value)
    if isinstance(value, datetime | date):
        return timestamp(value)
    if isinstance(value, timedelta):
        return _duration(value)
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float | Decimal):
        return _plain(value)
    if isinstance(value, Mapping):
        return ", ".join(f"{k}: {cell(v)}" for k, v in value.items()) or MISSING
    if isinstance(value, list | tuple | set | frozenset):
        return ", ".join(cell(v) for v in value) or MISSING
    if isinstance(value, str) and _ISO_TIME.match(value):  # a time that went through JSON
        return timestamp(value)
    return str(value)


def row(values: Mapping[str, Any]) -> dict[str, str]:
    """Return a row with every value as a cell (`cell`)."""
    return {key: cell(value) for key, value in values.items()}


def _plain(value: float | Decimal) -> str:
    """A number of unknown meaning: as stored for Decimals, four significant decimals for small floats."""
    if isinstance(value, Decimal):
        return number(value, None)
    if math.isinf(value):
        return "∞" if value > 0 else "-∞"
    if value == int(value) and abs(value) < 1e15:
        return f"{int(value):,}"
    return f"{value:,.2f}" if abs(value) >= 100 else f"{value:,.4g}" if abs(value) < 1e-3 else f"{value:,.4f}"


def _duration(value: timedelta) -> str:
    seconds = int(value.total_seconds())
    days, rest = divmod(abs(seconds), 86_400)
    hours, rest = divmod(rest, 3600)
    minutes = rest // 60
    parts = [f"{days}d" if days else "", f"{hours}h" if hours else "", f"{minutes}m" if minutes or not (days or hours)
             else ""]
    return ("-" if seconds < 0 else "") + " ".join(p for p in parts if p)
