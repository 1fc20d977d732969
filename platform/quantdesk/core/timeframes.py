"""Timeframes in ccxt notation (`1m`, `5m`, `1h`, `4h`, `1d`) and their lengths."""

from __future__ import annotations

import re
from datetime import datetime

from quantdesk.core.clock import ensure_utc
from quantdesk.core.errors import ConfigError, DataError

__all__ = ["check_window", "parse_time", "timeframe_ms", "timeframe_polars"]

_UNIT_MS = {"s": 1_000, "m": 60_000, "h": 3_600_000, "d": 86_400_000, "w": 604_800_000}
_TF = re.compile(r"^(\d+)([smhdw])$")


def timeframe_ms(timeframe: str) -> int:
    """Return the length of `timeframe` (e.g. `"5m"`) in milliseconds."""
    match = _TF.match(timeframe)
    if not match or int(match.group(1)) == 0:
        raise ConfigError(
            f"unknown timeframe {timeframe!r}: use a number and a unit, e.g. 1m, 5m, 15m, 1h, 4h, 1d"
        )
    return int(match.group(1)) * _UNIT_MS[match.group(2)]


def timeframe_polars(timeframe: str) -> str:
    """Return the polars duration string for `timeframe` (`1m` -> `1m`, `1h` -> `1h`, `1w` -> `1w`)."""
    timeframe_ms(timeframe)
    return timeframe


def parse_time(value: str | datetime | int | None) -> datetime | None:
    """Parse an ISO date/time, epoch milliseconds or datetime into tz-aware UTC (None stays None)."""
    if value is None:
        return None
    if isinstance(value, datetime):
        return ensure_utc(value)
    if isinstance(value, int):
        return datetime.fromtimestamp(value / 1000, tz=ensure_utc(datetime(1970, 1, 1)).tzinfo)
    try:
        return ensure_utc(datetime.fromisoformat(value.replace("Z", "+00:00")))
    except ValueError as e:
        raise ConfigError(
            f"cannot read {value!r} as a time: use ISO 8601 like 2024-01-01 or 2024-01-01T12:00"
        ) from e


def check_window(
    start: str | datetime | int | None, end: str | datetime | int | None, *, names: tuple[str, str] = ("--start", "--end")
) -> tuple[datetime | None, datetime | None]:
    """Return `(start, end)` parsed; raise DataError naming both when start is not before end.

    A reversed window otherwise reads as "no candles in the requested range", which sends a
    user looking for missing data instead of at the typo.
    """
    first, last = parse_time(start), parse_time(end)
    if first is not None and last is not None and first >= last:
        how = "after" if first > last else "the same as"
        raise DataError(
            f"{names[0]} {first:%Y-%m-%d %H:%M} is {how} {names[1]} {last:%Y-%m-%d %H:%M}: the window "
            f"[{names[0]}, {names[1]}) is empty; give a {names[0]} before {names[1]} (swap them?)"
        )
    return first, last
