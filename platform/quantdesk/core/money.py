"""The one place where research floats become ledger Decimals and back.

float64 in research arrays; `Decimal` quantized to the market's precision at the
broker and ledger boundary (DESIGN.md, contract 8).
"""

from __future__ import annotations

from decimal import ROUND_DOWN, ROUND_HALF_EVEN, Decimal

__all__ = ["quantize_down", "quantize_nearest", "to_decimal", "to_float"]


def to_decimal(value: float | int | str | Decimal) -> Decimal:
    """Convert a number to Decimal via its shortest repr, so 0.1 becomes Decimal('0.1')."""
    if isinstance(value, Decimal):
        return value
    if isinstance(value, float):
        if value != value or value in (float("inf"), float("-inf")):
            raise ValueError(f"cannot convert {value!r} to money: it is not a finite number")
        return Decimal(repr(value))
    return Decimal(value)


def to_float(value: Decimal | float | int | str) -> float:
    """Convert a ledger amount back to float64 for research arrays."""
    return float(value)


def quantize_down(value: float | Decimal | str, step: float | Decimal | str) -> Decimal:
    """Round `value` toward zero to a multiple of `step` (lot step: never trade more than asked)."""
    v, s = to_decimal(value), to_decimal(step)
    if s <= 0:
        return v
    return (v / s).to_integral_value(rounding=ROUND_DOWN) * s


def quantize_nearest(value: float | Decimal | str, step: float | Decimal | str) -> Decimal:
    """Round `value` to the nearest multiple of `step` (price tick), ties to even."""
    v, s = to_decimal(value), to_decimal(step)
    if s <= 0:
        return v
    return (v / s).to_integral_value(rounding=ROUND_HALF_EVEN) * s
