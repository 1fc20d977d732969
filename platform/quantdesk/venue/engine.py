"""The matching engine: orders against replayed candles, balances, trades.

Market orders fill in full at once at the current price (the open of the bar that
contains the clock, see `market`). A limit order that is marketable on arrival fills at
the current price for its first share; the rest rests and matches against later closed
bars: a buy fills when the bar's low reaches its price, at min(bar open, limit price); a
sell when the high reaches it, at max(bar open, limit price). `FillPolicy` caps how much
fills per bar. Not thread-safe on its own: the venue serialises calls with one lock.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping
from decimal import ROUND_DOWN, Decimal

from quantdesk.core.money import quantize_nearest, to_decimal
from quantdesk.venue.market import CandleBook, MarketSpec
from quantdesk.venue.orders import FillPolicy, OrderState, RejectedRequest, SimOrder, SimTrade

__all__ = ["MatchingEngine"]

ZERO = Decimal(0)
_COMMISSION_STEP = Decimal("0.00000001")
INSUFFICIENT = "Account has insufficient balance for requested action."


class MatchingEngine:
    """Spot orders, balances and trades of one simulated account."""

    def __init__(
        self,
        books: Mapping[str, CandleBook],
        specs: Mapping[str, MarketSpec],
        balances: Mapping[str, float | str | Decimal],
        policy: FillPolicy | None = None,
    ) -> None:
        self.books = dict(books)
        self.specs = dict(specs)
        self.policy = policy or FillPolicy()
        self.free: dict[str, Decimal] = {a: to_decimal(v) for a, v in balances.items()}
        self.locked: dict[str, Decimal] = dict.fromkeys(self.free, ZERO)
        for spec in self.specs.values():
            for asset in (spec.base, spec.quote):
                self.free.setdefault(asset, ZERO)
                self.locked.setdefault(asset, ZERO)
        self.orders: dict[int, SimOrder] = {}
        self.trades: list[SimTrade] = []
        self._order_ids = itertools.count(1)
        self._trade_ids = itertools.count(1)

    # -- queries ------------------------------------------------------------------------

    def spec(self, symbol: str) -> MarketSpec:
        """Return the market spec of a unified symbol, or reject with -1121."""
        try:
            return self.specs[symbol]
        except KeyError:
            raise RejectedRequest(-1121, "Invalid symbol.") from None

    def current_price(self, symbol: str, now_ms: int) -> Decimal | None:
        """Return the current price quantized to the tick, or None before the data starts."""
        price = self.books[symbol].price(now_ms)
        if price is None:
            return None
        return quantize_nearest(price, self.spec(symbol).tick_size)

    def find(
        self, symbol: str, order_id: int | None, client_order_id: str | None
    ) -> SimOrder | None:
        """Return the order by id or (the latest with) its client order id."""
        if order_id is not None:
            order = self.orders.get(order_id)
            return order if order is not None and order.symbol == symbol else None
        matches = [
            o
            for o in self.orders.values()
            if o.symbol == symbol and o.client_order_id == client_order_id
        ]
        return matches[-1] if matches else None

    # -- commands -----------------------------------------------------------------------

    def place(
        self,
        *,
        symbol: str,
        side: str,
        type: str,  # noqa: A002 - Binance's name
        now_ms: int,
        quantity: Decimal | None,
        quote_order_qty: Decimal | None = None,
        price: Decimal | None = None,
        time_in_force: str | None = None,
        client_order_id: str,
        force_insufficient: bool = False,
    ) -> tuple[SimOrder, list[SimTrade]]:
        """Validate, reserve funds and place an order; return it with its immediate fills."""
        spec = self.spec(symbol)
        self.sync(now_ms)
        if side not in ("BUY", "SELL"):
            raise RejectedRequest(-1117, "Invalid side.")
        if type not in ("MARKET", "LIMIT"):
            raise RejectedRequest(-1116, "Invalid orderType.")
        if any(
            o.client_order_id == client_order_id and o.status.is_open for o in self.orders.values()
        ):
            raise RejectedRequest(-2010, "Duplicate order sent.")
        current = self.current_price(symbol, now_ms)
        if type == "LIMIT":
            if time_in_force is None:
                raise RejectedRequest(
                    -1102,
                    "Mandatory parameter 'timeInForce' was not sent, was empty/null, or malformed.",
                )
            if time_in_force != "GTC":
                raise RejectedRequest(-1115, "Invalid timeInForce.")
            if price is None or price <= 0:
                raise RejectedRequest(
                    -1102, "Mandatory parameter 'price' was not sent, was empty/null, or malformed."
                )
            if price % spec.tick_size or not spec.min_price <= price <= spec.max_price:
                raise RejectedRequest(-1013, "Filter failure: PRICE_FILTER")
        elif current is None:
            raise RejectedRequest(-2010, "Market is closed.")
        if quantity is None and type == "MARKET" and quote_order_qty is not None:
            quantity = (quote_order_qty / current / spec.step_size).to_integral_value(
                ROUND_DOWN
            ) * spec.step_size
        if quantity is None or quantity <= 0:
            raise RejectedRequest(
                -1102, "Mandatory parameter 'quantity' was not sent, was empty/null, or malformed."
            )
        if (
            quantity < spec.min_qty
            or quantity > spec.max_qty
            or (quantity - spec.min_qty) % spec.step_size
        ):
            raise RejectedRequest(-1013, "Filter failure: LOT_SIZE")
        reference = price if type == "LIMIT" else current
        if reference is not None and reference * quantity < spec.min_notional:
            raise RejectedRequest(-1013, "Filter failure: NOTIONAL")
        fee_rate = self.policy.fee_rate
        if side == "BUY":
            asset, need = spec.quote, (reference or ZERO) * quantity * (1 + fee_rate)
        else:
            asset, need = spec.base, quantity
        if force_insufficient or self.free[asset] < need:
            raise RejectedRequest(-2010, INSUFFICIENT)
        tf = self.books[symbol].timeframe_ms
        order = SimOrder(
            order_id=next(self._order_ids),
            client_order_id=client_order_id,
            symbol=symbol,
            side=side,
            type=type,
            time_in_force=time_in_force or "",
            price=price if type == "LIMIT" else ZERO,
            orig_qty=quantity,
            time_ms=now_ms,
            update_time_ms=now_ms,
            next_bar_ms=-(-now_ms // tf) * tf,
        )
        self.orders[order.order_id] = order
        if type == "LIMIT":
            self._lock(order, asset, need)
        fills: list[SimTrade] = []
        marketable = current is not None and (
            type == "MARKET"
            or (side == "BUY" and price >= current)
            or (side == "SELL" and price <= current)
        )
        if marketable:
            volume = self.books[symbol].current_volume(now_ms)
            qty = quantity if type == "MARKET" else self._allowance(order, volume)
            if qty > 0:
                fills.append(self._fill(order, current, qty, now_ms, is_maker=False))
            order.next_bar_ms = now_ms - now_ms % tf + tf
        return order, fills

    def cancel(
        self, symbol: str, order_id: int | None, client_order_id: str | None, now_ms: int
    ) -> SimOrder:
        """Cancel an open order and release its reservation, or reject with -2011."""
        self.sync(now_ms)
        order = self.find(symbol, order_id, client_order_id)
        if order is None or not order.status.is_open:
            raise RejectedRequest(-2011, "Unknown order sent.")
        self._release(order)
        order.status = OrderState.CANCELED
        order.update_time_ms = now_ms
        return order

    def sync(self, now_ms: int) -> list[SimTrade]:
        """Match resting limit orders against every bar that has closed by `now_ms`."""
        fills: list[SimTrade] = []
        for symbol, book in self.books.items():
            resting = [o for o in self.orders.values() if o.symbol == symbol and o.status.is_open]
            if not resting:
                continue
            first = min(o.next_bar_ms for o in resting)
            for index in book.closed_bars_between(first, now_ms):
                bar = book.bar(index)
                for order in resting:
                    if not order.status.is_open or order.next_bar_ms > bar.ts_ms:
                        continue
                    order.next_bar_ms = bar.ts_ms + book.timeframe_ms
                    tick = self.specs[symbol].tick_size
                    if order.side == "BUY" and bar.low <= order.price:
                        fill_price = min(quantize_nearest(bar.open, tick), order.price)
                    elif order.side == "SELL" and bar.high >= order.price:
                        fill_price = max(quantize_nearest(bar.open, tick), order.price)
                    else:
                        continue
                    qty = self._allowance(order, bar.volume)
                    if qty > 0:
                        fills.append(
                            self._fill(order, fill_price, qty, order.next_bar_ms - 1, is_maker=True)
                        )
        return fills

    # -- internals ----------------------------------------------------------------------

    def _allowance(self, order: SimOrder, bar_volume: float | None) -> Decimal:
        """Return how much of `order` may fill in one bar under the fill policy."""
        step = self.specs[order.symbol].step_size
        cap = order.orig_qty * to_decimal(self.policy.fraction_per_bar)
        if bar_volume is not None and self.policy.max_volume_fraction is not None:
            cap = min(cap, to_decimal(bar_volume) * to_decimal(self.policy.max_volume_fraction))
        cap = (cap / step).to_integral_value(ROUND_DOWN) * step
        if self.policy.fraction_per_bar < 1 and cap < step:
            cap = step  # a tiny fraction still makes progress, one lot per bar
        return min(max(cap, ZERO), order.remaining_qty)

    def _lock(self, order: SimOrder, asset: str, amount: Decimal) -> None:
        self.free[asset] -= amount
        self.locked[asset] += amount
        order.locked = amount

    def _release(self, order: SimOrder) -> None:
        spec = self.specs[order.symbol]
        asset = spec.quote if order.side == "BUY" else spec.base
        self.free[asset] += order.locked
        self.locked[asset] -= order.locked
        order.locked = ZERO

    def _fill(
        self, order: SimOrder, price: Decimal, qty: Decimal, time_ms: int, *, is_maker: bool
    ) -> SimTrade:
        spec = self.specs[order.symbol]
        notional = price * qty
        commission = (notional * self.policy.fee_rate).quantize(_COMMISSION_STEP, ROUND_DOWN)
        if order.side == "BUY":
            if order.type == "LIMIT":
                # release the reservation made at the limit price, then pay the real cost
                release = order.price * qty * (1 + self.policy.fee_rate)
                release = min(release, order.locked)
                order.locked -= release
                self.locked[spec.quote] -= release
                self.free[spec.quote] += release
            self.free[spec.quote] -= notional + commission
            self.free[spec.base] += qty
        else:
            if order.type == "LIMIT":
                order.locked -= qty
                self.locked[spec.base] -= qty
            else:
                self.free[spec.base] -= qty
            self.free[spec.quote] += notional - commission
        order.executed_qty += qty
        order.cumulative_quote_qty += notional
        order.update_time_ms = max(order.update_time_ms, time_ms)
        if order.remaining_qty == 0:
            order.status = OrderState.FILLED
            self._release(order)  # a buy that filled below its limit leaves a reservation over
        else:
            order.status = OrderState.PARTIALLY_FILLED
        trade = SimTrade(
            trade_id=next(self._trade_ids),
            order_id=order.order_id,
            symbol=order.symbol,
            side=order.side,
            price=price,
            qty=qty,
            quote_qty=notional,
            commission=commission,
            commission_asset=spec.quote,
            time_ms=time_ms,
            is_maker=is_maker,
        )
        self.trades.append(trade)
        return trade
