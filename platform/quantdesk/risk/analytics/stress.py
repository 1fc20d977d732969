"""Stress tests: revalue a book's positions under a scenario's moves, with perpetual liquidations.

A scenario gives each asset a `ShockPath`: the move applied to its current price (`move`, a
simple return) and the worst prices its path reached on the way (`low`, `high`, as returns from
the same base; a one-shot shock has low = high = move). For a position of signed quantity q at
price P:

- P&L = q·P·move; a perpetual also pays funding −q·P·(1 + move)·rate for each of the scenario's
  funding intervals (a long pays a positive rate), out of its isolated margin;
- a perpetual is liquidated when its path reaches the liquidation price of
  `quantdesk.core.margin.liquidation_price(q, entry, margin, tiers)` (Binance's tiers, the futures
  backtest's formula) with the margin after funding: P·(1 + low) ≤ price for a long, P·(1 + high)
  ≥ price for a short. A liquidation costs the position all it holds: its P&L from now is
  −(margin + q·(P − entry)), and the margin lost is reported;
- a position on an unreachable venue is frozen at the shocked price (nothing can be closed
  there); its P&L is the same, and its value at the shocked price is reported as frozen.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from quantdesk.core.margin import MarginTiers, liquidation_price, tiers_for

__all__ = ["PositionOutcome", "ShockPath", "StressPosition", "StressResult", "apply_scenario"]


@dataclass(frozen=True, slots=True, kw_only=True)
class StressPosition:
    """One position of the book: where, what, how much, and for a perpetual its isolated margin."""

    deployment: str
    venue: str
    symbol: str
    asset: str
    qty: float
    price: float
    perpetual: bool = False
    entry: float | None = None
    margin: float | None = None
    leverage: float | None = None
    tiers: MarginTiers | None = None
    key: str = ""  # what the scenario's paths are keyed by (default: the asset)


@dataclass(frozen=True, slots=True, kw_only=True)
class ShockPath:
    """What a scenario does to one asset: the applied move and the path's extremes (returns from now)."""

    move: float
    low: float
    high: float

    @classmethod
    def shock(cls, move: float) -> ShockPath:
        """A one-shot move (the path reaches nothing beyond it)."""
        return cls(move=move, low=min(move, 0.0), high=max(move, 0.0))


@dataclass(frozen=True, slots=True, kw_only=True)
class PositionOutcome:
    """One position under the scenario."""

    deployment: str
    venue: str
    symbol: str
    qty: float
    price: float
    move: float
    shocked_price: float
    pnl_quote: float
    funding_quote: float = 0.0
    liquidated: bool = False
    liquidation_price: float | None = None
    margin_lost_quote: float = 0.0
    frozen: bool = False


@dataclass(frozen=True, slots=True, kw_only=True)
class StressResult:
    """The desk's P&L under a scenario, per position and in total (quote currency)."""

    pnl_quote: float
    positions: tuple[PositionOutcome, ...]
    liquidations: int
    margin_lost_quote: float
    frozen_quote: float


def _outcome(p: StressPosition, path: ShockPath, funding_rate: float, funding_intervals: int,
             frozen: bool) -> PositionOutcome:
    shocked = p.price * (1.0 + path.move)
    pnl = p.qty * p.price * path.move
    funding = 0.0
    liquidated, liq, lost = False, None, 0.0
    if p.perpetual and p.entry is not None and p.margin is not None and p.qty:
        funding = -p.qty * shocked * funding_rate * funding_intervals
        margin = p.margin + funding
        liq = liquidation_price(p.qty, p.entry, margin, p.tiers or tiers_for(p.symbol))
        if not math.isnan(liq):
            worst = p.price * (1.0 + (path.low if p.qty > 0 else path.high))
            liquidated = worst <= liq if p.qty > 0 else worst >= liq
        if liquidated:
            lost = max(margin, 0.0)
            pnl = -(p.margin + p.qty * (p.price - p.entry))  # everything the position holds now is gone
        else:
            pnl += funding
    return PositionOutcome(deployment=p.deployment, venue=p.venue, symbol=p.symbol, qty=p.qty, price=p.price,
                           move=path.move, shocked_price=shocked, pnl_quote=pnl, funding_quote=funding,
                           liquidated=liquidated, liquidation_price=liq, margin_lost_quote=lost, frozen=frozen)


def apply_scenario(
    positions: Iterable[StressPosition],
    paths: Mapping[str, ShockPath],
    *,
    funding_rate: float = 0.0,
    funding_intervals: int = 0,
    unreachable_venues: Iterable[str] = (),
) -> StressResult:
    """Revalue `positions` under `paths` (by each position's key or asset; without a path: no move)."""
    down = set(unreachable_venues)
    still = ShockPath.shock(0.0)
    outcomes = tuple(_outcome(p, paths.get(p.key or p.asset, still), funding_rate, funding_intervals,
                              p.venue in down) for p in positions)
    return StressResult(
        pnl_quote=sum(o.pnl_quote for o in outcomes),
        positions=outcomes,
        liquidations=sum(o.liquidated for o in outcomes),
        margin_lost_quote=sum(o.margin_lost_quote for o in outcomes),
        frozen_quote=sum(abs(o.qty) * o.shocked_price for o in outcomes if o.frozen),
    )
