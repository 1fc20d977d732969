"""What moving inventory back costs after a cross-venue trade: per-asset withdrawal fees.

Buying on venue A and selling on venue B leaves more base on A and less quote there; to trade
again the base goes A → B and the quote B → A. Each opportunity is charged both withdrawals:
the base asset's fee on the buy venue (valued at the sell price) and the quote currency's fee
on the sell venue. A venue's own figures come first (ccxt `fetch_deposit_withdraw_fees`, the
default network's fee unless one is configured), then configuration
(`[arb.transfer_costs]`: `BTC = 0.0002` or `"binance:BTC" = 0.0002`, in units of the asset).
An asset neither gives is charged nothing and the opportunity says so (`transfer_cost_source`).
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from quantdesk.core.errors import ArbitrageError
from quantdesk.core.money import to_decimal

if TYPE_CHECKING:
    from quantdesk.arb.scanner import Listing

__all__ = ["TransferCosts", "withdraw_fees"]


def withdraw_fees(fees: Mapping[str, Any], network: str | None = None) -> dict[str, Decimal]:
    """Return asset -> withdrawal fee from ccxt's `fetch_deposit_withdraw_fees` answer.

    The fee of `network` when given and listed, else the venue's default (ccxt's top-level
    `withdraw.fee`), else the cheapest network's. Assets with no fee at all are left out.
    """
    out: dict[str, Decimal] = {}
    for asset, entry in fees.items():
        if not isinstance(entry, Mapping):
            continue
        networks = entry.get("networks") or {}
        chosen = (networks.get(network) or {}).get("withdraw", {}).get("fee") if network else None
        if chosen is None:
            chosen = (entry.get("withdraw") or {}).get("fee")
        if chosen is None:
            listed = [n["withdraw"]["fee"] for n in networks.values()
                      if isinstance(n, Mapping) and (n.get("withdraw") or {}).get("fee") is not None]
            chosen = min(listed, default=None)
        if chosen is not None:
            out[asset] = to_decimal(chosen)
    return out


class TransferCosts:
    """Per-asset withdrawal fees by venue (reported) and by configuration; see the module doc."""

    def __init__(self, reported: Mapping[str, Mapping[str, Decimal]] | None = None,
                 configured: Mapping[str, Any] | None = None, *, include: bool = True) -> None:
        self.reported = {venue: dict(fees) for venue, fees in (reported or {}).items()}
        self.configured: dict[str, Decimal] = {}
        for key, value in (configured or {}).items():
            try:
                amount = to_decimal(value)
            except (ValueError, ArithmeticError):
                raise ArbitrageError(f"transfer cost {key} = {value!r} is not a number: write e.g. BTC = 0.0002") from None
            if amount < 0:
                raise ArbitrageError(f"transfer cost {key} = {amount} is negative: write the withdrawal fee, e.g. 0.0002")
            self.configured[str(key)] = amount
        self.include = include

    def fee(self, asset: str, venue: str) -> tuple[Decimal | None, str]:
        """Return (fee in units of `asset` for leaving `venue`, where it came from)."""
        reported = self.reported.get(venue, {}).get(asset)
        if reported is not None:
            return reported, "venue"
        for key in (f"{venue}:{asset}", asset):
            if key in self.configured:
                return self.configured[key], "config"
        return None, "unknown"

    def cost(self, buy: Listing, sell: Listing, *, price: Decimal, quote_rate: Decimal) -> tuple[Decimal, str]:
        """Return (cost in the reference currency, a line naming each part's source) of moving inventory back.

        `price` values the base asset in the reference currency; `quote_rate` converts the sell
        market's quote currency into it.
        """
        if not self.include:
            return Decimal(0), "excluded (inventory held on both venues)"
        base_fee, base_source = self.fee(buy.base, buy.venue)
        quote_fee, quote_source = self.fee(sell.quote, sell.venue)
        cost = (base_fee or Decimal(0)) * price + (quote_fee or Decimal(0)) * quote_rate
        line = (f"{buy.base} out of {buy.venue}: {base_source if base_fee is None else f'{base_fee} ({base_source})'}; "
                f"{sell.quote} out of {sell.venue}: {quote_source if quote_fee is None else f'{quote_fee} ({quote_source})'}")
        return cost, line
