"""The order book the simulated venue shows: depth, spread and a price offset around the candle price.

The venue keeps candles, not orders from other traders, so its book is drawn around the
current price (`MatchingEngine.current_price`): `levels` levels a side, `level_qty` each, the
best bid and ask `spread_bps` apart around a mid moved by `price_offset_bps` (per symbol if
wanted), levels `level_step_bps` (or one tick) apart, prices on the market's tick. Two venues
on the same candles with different offsets disagree by a known amount, which is what an
arbitrage scanner is tried on offline. Without a spread the book is the venue's original one:
one level a tick either side of the price.

REST `GET depth`, `bookTicker`/`ticker` and the diff-depth stream all draw from here, so a
snapshot and the stream splice into the same book.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import ROUND_CEILING, ROUND_FLOOR, ROUND_HALF_EVEN, Decimal
from typing import Any

__all__ = ["BookShape", "Levels", "shaped_book"]

Levels = list[tuple[Decimal, Decimal]]
_BPS = Decimal(10_000)


@dataclass(frozen=True, slots=True, kw_only=True)
class BookShape:
    """How deep, how wide and where the venue's book is (see the module doc)."""

    levels: int = 1
    spread_bps: Decimal | None = None  # None: best bid and ask one tick either side of the price
    price_offset_bps: Decimal = Decimal(0)
    symbol_offsets_bps: Mapping[str, Decimal] = field(default_factory=dict)  # per symbol, over price_offset_bps
    level_qty: Decimal = Decimal(1000)
    level_step_bps: Decimal | None = None  # None: one tick between levels

    def __post_init__(self) -> None:
        if self.levels < 1:
            raise ValueError(f"book levels {self.levels} must be at least 1")
        if self.spread_bps is not None and self.spread_bps < 0:
            raise ValueError(f"spread_bps {self.spread_bps} must not be negative")
        if self.level_qty <= 0:
            raise ValueError(f"level_qty {self.level_qty} must be positive")
        if self.level_step_bps is not None and self.level_step_bps < 0:
            raise ValueError(f"level_step_bps {self.level_step_bps} must not be negative")

    def offset_bps(self, symbol: str) -> Decimal:
        """Return the price offset of `symbol` in basis points."""
        return Decimal(self.symbol_offsets_bps.get(symbol, self.price_offset_bps))

    def updated(self, changes: Mapping[str, Any]) -> BookShape:
        """Return a copy with `changes` (JSON values from the admin endpoint) applied."""
        values: dict[str, Any] = {name: getattr(self, name) for name in self.__slots__}  # type: ignore[attr-defined]
        for name, value in changes.items():
            if name not in values:
                raise ValueError(f"unknown book setting {name!r}; known: {', '.join(sorted(values))}")
            try:
                if name == "levels":
                    values[name] = int(value)
                elif name == "symbol_offsets_bps":
                    values[name] = {str(k): Decimal(str(v)) for k, v in dict(value).items()}
                else:
                    values[name] = None if value is None else Decimal(str(value))
            except ArithmeticError:
                raise ValueError(f"book setting {name} = {value!r} is not a number") from None
        return BookShape(**values)


def _to_tick(value: Decimal, tick: Decimal, rounding: str) -> Decimal:
    return (value / tick).to_integral_value(rounding=rounding) * tick if tick > 0 else value


def shaped_book(price: Decimal, tick: Decimal, shape: BookShape, symbol: str, *,
                limit: int | None = None) -> tuple[Levels, Levels]:
    """Return (bids, asks), best first, for a current `price` on a market with `tick`."""
    offset = shape.offset_bps(symbol)
    count = shape.levels if limit is None else max(1, min(limit, shape.levels))
    if price <= 0:
        return [], []
    if shape.spread_bps is None and offset == 0:  # the venue's original book, exactly
        best_bid, best_ask = price - tick, price + tick
    else:
        mid = price * (1 + offset / _BPS)
        if shape.spread_bps is None:
            mid = _to_tick(mid, tick, ROUND_HALF_EVEN)
            best_bid, best_ask = mid - tick, mid + tick
        else:
            half = mid * shape.spread_bps / _BPS / 2
            best_bid = _to_tick(mid - half, tick, ROUND_FLOOR)
            best_ask = _to_tick(mid + half, tick, ROUND_CEILING)
            if best_ask <= best_bid:
                best_ask = best_bid + tick
    step = tick
    if shape.level_step_bps is not None:
        step = max(tick, _to_tick(price * shape.level_step_bps / _BPS, tick, ROUND_HALF_EVEN))
    bids = [(best_bid - i * step, shape.level_qty) for i in range(count) if best_bid - i * step > 0]
    asks = [(best_ask + i * step, shape.level_qty) for i in range(count)]
    return bids, asks


def shape_from_options(*, levels: int = 1, spread_bps: float | None = None, price_offsets: list[str] | None = None,
                       level_qty: str | None = None, level_step_bps: float | None = None) -> BookShape:
    """Build a BookShape from `quantdesk venue serve` options; `price_offsets` items are `BPS` or `SYMBOL=BPS`."""
    from quantdesk.core.errors import ConfigError

    overall, per_symbol = Decimal(0), {}
    for item in price_offsets or []:
        symbol, sep, value = item.rpartition("=")
        try:
            amount = Decimal(value.strip())
        except ArithmeticError:
            raise ConfigError(f"--price-offset-bps {item!r} is not BPS or SYMBOL=BPS, e.g. 25 or ETH/BTC=40") from None
        if not amount.is_finite():
            raise ConfigError(f"--price-offset-bps {item!r} must be a finite number of basis points")
        if sep:
            per_symbol[symbol.strip()] = amount
        else:
            overall = amount
    try:
        return BookShape(levels=levels, spread_bps=None if spread_bps is None else Decimal(str(spread_bps)),
                         price_offset_bps=overall, symbol_offsets_bps=per_symbol,
                         level_qty=Decimal(level_qty) if level_qty is not None else Decimal(1000),
                         level_step_bps=None if level_step_bps is None else Decimal(str(level_step_bps)))
    except (ValueError, ArithmeticError) as e:
        raise ConfigError(f"invalid book options: {e}; e.g. --book-levels 10 --spread-bps 2 --level-qty 0.5") from None
