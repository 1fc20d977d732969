"""Maintenance-margin tiers and the liquidation price of an isolated USDT-M position.

Binance publishes leverage brackets per contract: above each notional floor a maintenance
margin rate (MMR) applies. ccxt loads them as `[[floor, mmr], ...]` (`options.leverageBrackets`
on `binanceusdm`); the tables below are the ones ccxt's own binance fixtures hold. The
maintenance amount `cum` of tier i is `cum[i-1] + floor[i] * (mmr[i] - mmr[i-1])`, which makes
the maintenance margin `notional * mmr - cum` continuous across tier boundaries (Binance's
published "maintenance amount" column is exactly this).

Liquidation price of an isolated position with signed quantity `q` (> 0 long), entry price
`e` and isolated margin `m` (Binance's formula with the wallet replaced by the isolated
margin, one-way mode)::

    side = sign(q)
    p_liq = (m + cum - side * |q| * e) / (|q| * mmr - side * |q|)

At `p_liq` the margin left (`m + q * (p_liq - e)`) equals the maintenance margin
(`|q| * p_liq * mmr - cum`); the exchange closes the position and keeps what is left as its
clearance fee, so a liquidation costs exactly the isolated margin.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from quantdesk.core.errors import ConfigError

__all__ = ["BINANCE_BRACKETS", "MarginTiers", "liquidation_price", "tiers_for"]

# ccxt `binanceusdm` options.leverageBrackets, as in ccxt's static binance fixture.
BINANCE_BRACKETS: dict[str, tuple[tuple[float, float], ...]] = {
    "BTC/USDT:USDT": ((0, 0.004), (50_000, 0.005), (250_000, 0.01), (3_000_000, 0.025),
                      (20_000_000, 0.05), (40_000_000, 0.1), (100_000_000, 0.125),
                      (120_000_000, 0.15), (200_000_000, 0.25), (300_000_000, 0.5)),
    "ETH/USDT:USDT": ((0, 0.005), (100_000, 0.0065), (250_000, 0.01), (2_000_000, 0.02),
                      (15_000_000, 0.05), (30_000_000, 0.1), (60_000_000, 0.125),
                      (80_000_000, 0.15), (100_000_000, 0.25), (150_000_000, 0.5)),
    # Most altcoin contracts (ADA, LTC, XRP, ...) share this table.
    "*": ((0, 0.0065), (10_000, 0.01), (50_000, 0.02), (250_000, 0.05), (1_000_000, 0.1),
          (2_000_000, 0.125), (5_000_000, 0.15), (10_000_000, 0.25)),
}


@dataclass(frozen=True, slots=True)
class MarginTiers:
    """Notional floors with their maintenance margin rates and amounts (ascending floors)."""

    floors: tuple[float, ...]
    rates: tuple[float, ...]
    amounts: tuple[float, ...]

    @classmethod
    def from_brackets(cls, brackets: Sequence[Sequence[float | str]]) -> MarginTiers:
        """Build from ccxt's `[[floor, mmr], ...]` (strings or numbers), computing `cum`."""
        pairs = [(float(f), float(r)) for f, r in brackets]
        if not pairs or pairs[0][0] != 0:
            raise ConfigError(f"margin tiers must start at notional 0, got {brackets!r}")
        if any(b[0] <= a[0] for a, b in zip(pairs, pairs[1:], strict=False)):
            raise ConfigError(f"margin tier floors must rise strictly, got {[p[0] for p in pairs]}")
        if any(not (0 < r < 1) for _, r in pairs):
            raise ConfigError(f"maintenance margin rates are fractions in (0, 1), got {[p[1] for p in pairs]}")
        amounts = [0.0]
        for (_, prev_rate), (floor, rate) in zip(pairs, pairs[1:], strict=False):
            amounts.append(amounts[-1] + floor * (rate - prev_rate))
        return cls(tuple(p[0] for p in pairs), tuple(p[1] for p in pairs), tuple(amounts))

    def tier(self, notional: float) -> tuple[float, float]:
        """Return (mmr, cum) of the tier that holds `notional` (a non-negative amount)."""
        i = int(np.searchsorted(np.asarray(self.floors), abs(notional), side="right")) - 1
        return self.rates[max(i, 0)], self.amounts[max(i, 0)]

    def max_leverage(self, notional: float) -> float:
        """Binance's initial leverage cap for a tier: the initial margin is twice the maintenance."""
        return 1.0 / (2.0 * self.tier(notional)[0])

    def arrays(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Floors, rates and amounts as float64 arrays (for the jitted kernel)."""
        return (np.asarray(self.floors, dtype=np.float64), np.asarray(self.rates, dtype=np.float64),
                np.asarray(self.amounts, dtype=np.float64))


def tiers_for(symbol: str) -> MarginTiers:
    """Return the Binance tiers for `symbol` (`BTC/USDT:USDT`, or `BTC/USDT` for its USDT-M
    perpetual), the altcoin table where none is listed."""
    if ":" not in symbol and "/" in symbol:
        symbol = f"{symbol}:{symbol.split('/', 1)[1]}"
    return MarginTiers.from_brackets(BINANCE_BRACKETS.get(symbol, BINANCE_BRACKETS["*"]))


def liquidation_price(qty: float, entry: float, margin: float, tiers: MarginTiers) -> float:
    """Return the mark price at which an isolated position is liquidated (NaN when flat).

    The tier is the one of the position's notional at entry. A long whose margin covers the
    whole notional can never be liquidated: its price is 0 (or below, clipped to 0).
    """
    if qty == 0:
        return math.nan
    side = 1.0 if qty > 0 else -1.0
    size = abs(qty)
    mmr, cum = tiers.tier(size * entry)
    price = (margin + cum - side * size * entry) / (size * mmr - side * size)
    return max(price, 0.0)
