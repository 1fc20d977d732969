"""What the gate needs to know about the account and the market at the time of a check."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal

from quantdesk.core.costs import MarketRules
from quantdesk.core.margin import MarginTiers

__all__ = ["RiskContext"]


@dataclass(frozen=True, slots=True, kw_only=True)
class RiskContext:
    """A snapshot the broker builds for each check (all per the intent's deployment).

    - `positions`: signed base quantity per symbol (+ long, - short).
    - `mark_prices`: price per symbol for position/exposure valuation (falls back to last price).
    - `last_prices`: last trade price per symbol, for the price band and market-order notional
      (falls back to the mark price).
    - `equity`: account equity in quote currency; when given, the daily loss and drawdown
      limits are evaluated as part of the check (same as calling `RiskGate.on_equity`).
    - `active_orders`: per symbol, open orders PLUS orders in flight (sent, not yet acknowledged).
    - `market_rules`: tick, lot step, min/max qty, min notional per symbol (absent: not checked).
    - `leverage`: per perpetual-futures symbol, the account's leverage setting (absent: spot);
      with `entry_prices` (the open position's average entry) the gate computes the
      post-trade isolated liquidation price for `min_liquidation_distance_pct`.
    - `margin_tiers`: per futures symbol, the exchange's maintenance tiers (default: Binance's
      table for the symbol, `quantdesk.core.margin.tiers_for`).
    """

    positions: Mapping[str, Decimal] = field(default_factory=dict)
    mark_prices: Mapping[str, Decimal] = field(default_factory=dict)
    last_prices: Mapping[str, Decimal] = field(default_factory=dict)
    equity: Decimal | None = None
    active_orders: Mapping[str, int] = field(default_factory=dict)
    market_rules: Mapping[str, MarketRules] = field(default_factory=dict)
    leverage: Mapping[str, Decimal] = field(default_factory=dict)
    entry_prices: Mapping[str, Decimal] = field(default_factory=dict)
    margin_tiers: Mapping[str, MarginTiers] = field(default_factory=dict)
