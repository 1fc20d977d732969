"""The paper broker's perpetuals: isolated-margin positions, funding and liquidation.

A symbol in unified swap form (`XRP/USDT:USDT`) is a USDT-margined perpetual. Its fills move
an `IsolatedPosition` (`quantdesk.core.perpetual`, the model the futures backtest and the
simulated venue share) instead of a base-asset balance: the quote wallet changes by realised
PnL, fees and funding, and each position's margin is set aside from it. Funding is settled
when the caller says a settlement happened (`settle_funding`), and a mark bar through the
liquidation price closes the position there (`update_mark`): the paper venue books that as
an `autoclose-` market order and fill, as Binance does, so the ledger's positions (the sum of
fills) keep matching the broker's.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime
from decimal import Decimal

from quantdesk.broker.types import FuturesPosition
from quantdesk.core.margin import MarginTiers, tiers_for
from quantdesk.core.perpetual import IsolatedPosition

__all__ = ["FundingPayment", "Liquidation", "PaperPerpetuals", "is_perpetual"]

ZERO = Decimal(0)


def is_perpetual(symbol: str) -> bool:
    """Return True for a unified swap symbol (`BASE/QUOTE:SETTLE`)."""
    return ":" in symbol


@dataclass(frozen=True, slots=True, kw_only=True)
class FundingPayment:
    """One settlement on one position (`amount` < 0: the position paid)."""

    symbol: str
    ts: datetime
    rate: Decimal
    mark: Decimal
    amount: Decimal


@dataclass(frozen=True, slots=True, kw_only=True)
class Liquidation:
    """A position the mark took through its liquidation price: closed there, its margin lost."""

    symbol: str
    ts: datetime
    qty: Decimal  # the signed position that was closed
    price: Decimal
    realized: Decimal  # the PnL of closing at `price`
    clearance: Decimal  # what the venue keeps on top (the margin left), as a negative amount


class PaperPerpetuals:
    """Positions of one paper account's perpetuals (used by `PaperBroker`)."""

    def __init__(self, tiers: dict[str, MarginTiers] | None = None) -> None:
        self.positions: dict[str, IsolatedPosition] = {}
        self.funding: list[FundingPayment] = []
        self.liquidations: list[Liquidation] = []
        self._tiers = dict(tiers or {})

    def tiers(self, symbol: str) -> MarginTiers:
        """Return the maintenance tiers of `symbol` (given, else Binance's table)."""
        return self._tiers.get(symbol) or tiers_for(symbol)

    def position(self, symbol: str) -> IsolatedPosition:
        return self.positions.get(symbol) or IsolatedPosition()

    def set_leverage(self, symbol: str, leverage: int | Decimal) -> None:
        self.positions[symbol] = replace(self.position(symbol), leverage=Decimal(leverage))

    def margin_posted(self) -> Decimal:
        """Return the margin all positions hold (not free to trade)."""
        return sum((p.margin for p in self.positions.values()), ZERO)

    def fill(self, symbol: str, signed: Decimal, price: Decimal) -> Decimal:
        """Apply a fill; return the realised PnL."""
        self.positions[symbol], realized = self.position(symbol).fill(signed, price)
        return realized

    def settle(self, symbol: str, ts: datetime, rate: Decimal, mark: Decimal) -> FundingPayment | None:
        """Settle one funding interval; return the payment (None when flat)."""
        pos = self.position(symbol)
        if pos.qty == 0:
            return None
        self.positions[symbol], amount = pos.funding(mark, rate)
        payment = FundingPayment(symbol=symbol, ts=ts, rate=rate, mark=mark, amount=amount)
        self.funding.append(payment)
        return payment

    def check_liquidation(self, symbol: str, ts: datetime, low: Decimal, high: Decimal,
                          open_: Decimal | None = None) -> Liquidation | None:
        """Close the position if the mark bar reached its liquidation price; return what happened."""
        pos = self.position(symbol)
        price = pos.liquidated_by(float(low), float(high), self.tiers(symbol),
                                  None if open_ is None else float(open_))
        if price is None:
            return None
        at = Decimal(str(price))
        _, realized = pos.fill(-pos.qty, at)
        event = Liquidation(symbol=symbol, ts=ts, qty=pos.qty, price=at, realized=realized,
                            clearance=-(pos.margin + realized))
        self.positions[symbol] = pos.flat
        self.liquidations.append(event)
        return event

    def report(self, symbol: str, mark: Decimal | None) -> FuturesPosition:
        pos = self.position(symbol)
        return FuturesPosition(symbol=symbol, leverage=pos.leverage, qty=pos.qty,
                               entry_price=pos.entry if pos.qty else None, mark_price=mark)
