"""A paper broker: fills against the latest bar or ticker with the backtest's cost model.

Deterministic under a fixed clock: trade ids are sequential, times come from the
injected clock, and partial fills follow `max_fill_ratio` exactly. Fees and slippage
come from `quantdesk.core.costs.CostModel`, the same object the backtest uses
(DESIGN.md, contract 3), so paper results compare with backtests.
"""

from __future__ import annotations

import bisect
import threading
import uuid
from collections.abc import Mapping
from dataclasses import replace
from datetime import datetime
from decimal import Decimal
from typing import Literal

from quantdesk.broker.paper_futures import Liquidation, PaperPerpetuals, is_perpetual
from quantdesk.broker.types import (
    Balance,
    BrokerFill,
    BrokerOrder,
    FuturesPosition,
    client_order_id_for,
)
from quantdesk.core.clock import Clock, SystemClock
from quantdesk.core.costs import CostModel, MarketRules
from quantdesk.core.errors import InsufficientFundsError, OrderNotFoundError, OrderRejectedError
from quantdesk.core.money import quantize_down, quantize_nearest, to_decimal
from quantdesk.core.orders import OrderIntent
from quantdesk.core.types import OrderStatus, OrderType, Side

__all__ = ["PaperBroker"]

Number = Decimal | float | int | str


def split_symbol(symbol: str) -> tuple[str, str]:
    """Return (base, quote) of a ccxt unified symbol such as `BTC/USDT` or `BTC/USDT:USDT`."""
    base, _, rest = symbol.partition("/")
    quote = rest.split(":", 1)[0]
    if not base or not quote:
        raise OrderRejectedError(f"symbol {symbol!r} is not a ccxt unified symbol; use BASE/QUOTE such as BTC/USDT")
    return base, quote


class PaperBroker:
    """Simulate one spot account: market orders fill at the reference price plus slippage.

    The reference price is the latest ticker (`update_price`) or bar close (`update_bar`);
    with `market_fill="next_open"` market orders wait for the next bar and fill at its open,
    exactly like the backtest (a target decided at bar t's close trades at t+1's open).
    Limit orders fill when marketable, else rest until a bar trades through their price.
    `max_fill_ratio` < 1 fills at most that fraction of a limit order's quantity per price
    update (market orders fill in full, as at the simulated venue).
    `balances` of None means an unlimited account (no funds check).

    Perpetuals (`XRP/USDT:USDT`) trade on isolated margin (`broker.paper_futures`): shorts
    need no borrowed asset, `set_leverage`, `settle_funding` and `update_mark` (liquidation)
    drive them, and `futures_position` tells the risk gate leverage, entry and mark.
    """

    def __init__(
        self,
        *,
        name: str = "paper",
        clock: Clock | None = None,
        cost_model: CostModel | None = None,
        balances: Mapping[str, Number] | None = None,
        rules: Mapping[str, MarketRules] | None = None,
        max_fill_ratio: float = 1.0,
        market_fill: Literal["last", "next_open"] = "last",
        run_id: str | None = None,
    ) -> None:
        if not 0 < max_fill_ratio <= 1:
            raise ValueError(f"max_fill_ratio must be in (0, 1], got {max_fill_ratio}")
        self.name = name
        self.clock = clock or SystemClock()
        self.cost_model = cost_model or CostModel()
        self.rules = dict(rules or {})
        self.max_fill_ratio = max_fill_ratio
        self.market_fill = market_fill
        self._balances: dict[str, Decimal] | None = (
            None if balances is None else {k: to_decimal(v) for k, v in balances.items()}
        )
        self._prices: dict[str, Decimal] = {}
        self._orders: dict[str, BrokerOrder] = {}
        self._fills: list[BrokerFill] = []
        self._fill_ts: list[datetime] = []  # the fills' times, ascending (the clock only moves forward)
        # client ids of orders not yet final, in arrival order: matching and open_orders walk these
        # only, so an active strategy's thousands of finished orders cost nothing per bar
        self._working: dict[str, None] = {}
        self._seq = 0
        self._perps = PaperPerpetuals()
        self._marks: dict[str, Decimal] = {}
        # ids unique across runs and processes: a restarted runner (or another paper runner)
        # never reuses a venue order id or trade id the ledger already holds
        # (`run_id` pins them, for a replay into a fresh scratch ledger or a test)
        self._run = run_id or uuid.uuid4().hex[:12]
        self._lock = threading.RLock()

    # -- market data ----------------------------------------------------------------------
    def update_price(self, symbol: str, price: Number) -> list[BrokerFill]:
        """Set the latest ticker price of `symbol`; match resting orders; return the new fills."""
        p = to_decimal(price)
        return self._on_market(symbol, open_=p, high=p, low=p, close=p)

    def update_bar(self, symbol: str, *, open: Number, high: Number, low: Number, close: Number) -> list[BrokerFill]:
        """Feed a new bar of `symbol`; match waiting and resting orders; return the new fills."""
        return self._on_market(
            symbol, open_=to_decimal(open), high=to_decimal(high), low=to_decimal(low), close=to_decimal(close)
        )

    def last_price(self, symbol: str) -> Decimal | None:
        """Return the reference price of `symbol` (None before any price was fed)."""
        return self._prices.get(symbol)

    # -- perpetuals -------------------------------------------------------------------------
    def set_leverage(self, symbol: str, leverage: int) -> None:
        """Set a perpetual's leverage (1..125; applies to margin posted from now on)."""
        if not is_perpetual(symbol):
            raise OrderRejectedError(f"{symbol} is a spot market; leverage applies to perpetuals such as {symbol}:USDT")
        if not 1 <= int(leverage) <= 125:
            raise OrderRejectedError(f"leverage {leverage} is outside 1..125; choose a whole number in that range")
        with self._lock:
            self._perps.set_leverage(symbol, int(leverage))

    def futures_position(self, symbol: str) -> FuturesPosition | None:
        """Return a perpetual's leverage, position, entry and mark (None for spot markets)."""
        if not is_perpetual(symbol):
            return None
        with self._lock:
            return self._perps.report(symbol, self._marks.get(symbol) or self._prices.get(symbol))

    def settle_funding(self, symbol: str, rate: Number, *, mark: Number | None = None) -> Decimal:
        """Settle one funding interval of a perpetual now, at `mark` (default: the last mark or price).

        Return the payment (< 0: the position paid); it comes out of the position's margin and
        the wallet. A flat position pays nothing.
        """
        with self._lock:
            price = to_decimal(mark) if mark is not None else (self._marks.get(symbol) or self._prices.get(symbol))
            if price is None:
                raise OrderRejectedError(f"no mark price for {symbol} yet; pass mark= or feed a bar first")
            payment = self._perps.settle(symbol, self.clock.now(), to_decimal(rate), price)
            if payment is None:
                return Decimal(0)
            self._credit(symbol, payment.amount)
            return payment.amount

    def update_mark(self, symbol: str, *, low: Number, high: Number, close: Number,
                    open: Number | None = None) -> Liquidation | None:
        """Feed a closed mark-price bar of a perpetual; liquidate the position if it reached its price.

        A liquidation is booked as an `autoclose-` market order filled at the liquidation price
        (at the bar's `open` when the mark gapped through it), with no fee; the margin left is
        the venue's clearance, so the position costs its margin.
        """
        with self._lock:
            self._marks[symbol] = to_decimal(close)
            event = self._perps.check_liquidation(symbol, self.clock.now(), to_decimal(low), to_decimal(high),
                                                  None if open is None else to_decimal(open))
            if event is None:
                return None
            self._seq += 1
            now = self.clock.now()
            side = Side.SELL if event.qty > 0 else Side.BUY
            order = BrokerOrder(
                client_order_id=f"autoclose-{self._run}-{self._seq}", venue_order_id=f"paper-{self._run}-{self._seq}",
                symbol=symbol, side=side, order_type=OrderType.MARKET, qty=abs(event.qty), price=None,
                status=OrderStatus.FILLED, filled_qty=abs(event.qty), average_price=event.price,
                created_at=now, updated_at=now)
            self._store(order)
            self._record_fill(order, abs(event.qty), event.price, Decimal(0), now)
            self._credit(symbol, event.realized + event.clearance)
            return event

    def _credit(self, symbol: str, amount: Decimal) -> None:
        if self._balances is not None:
            _, quote = split_symbol(symbol)
            self._balances[quote] = self._balances.get(quote, Decimal(0)) + amount

    # -- the Broker protocol ----------------------------------------------------------------
    def create_order(self, intent: OrderIntent) -> BrokerOrder:
        """Accept the intent's order (once per client order id) and fill what is marketable."""
        cid = client_order_id_for(intent)
        with self._lock:
            if cid in self._orders:  # a retry: the same intent never makes a second order
                return self._orders[cid]
            symbol = intent.symbol
            rules = self.rules.get(symbol, MarketRules())
            qty = quantize_down(intent.qty, rules.lot_step) if rules.lot_step else to_decimal(intent.qty)
            order_type = OrderType(intent.type)
            price = None if intent.price is None else to_decimal(intent.price)
            if price is not None and rules.tick_size:
                price = quantize_nearest(price, rules.tick_size)
            if qty <= 0:
                raise OrderRejectedError(f"order {cid} quantity {intent.qty} is zero after the lot step; raise the quantity")
            if order_type is OrderType.LIMIT and (price is None or price <= 0):
                raise OrderRejectedError(f"limit order {cid} needs a positive price, got {price}")
            side = Side(intent.side)
            self._check_funds(symbol, side, qty, price or self._prices.get(symbol))
            self._seq += 1
            now = self.clock.now()
            order = BrokerOrder(
                client_order_id=cid, venue_order_id=f"paper-{self._run}-{self._seq}", symbol=symbol, side=side,
                order_type=order_type, qty=qty, price=price, status=OrderStatus.OPEN,
                created_at=now, updated_at=now,
            )
            self._store(order)
            last = self._prices.get(symbol)
            if last is not None and not (order_type is OrderType.MARKET and self.market_fill == "next_open"):
                self._match(order, high=last, low=last, reference=last)
            return self._orders[cid]

    def fetch_order(self, client_order_id: str, symbol: str | None = None) -> BrokerOrder:
        """Return the order with this client order id."""
        with self._lock:
            order = self._orders.get(client_order_id)
        if order is None:
            raise OrderNotFoundError(f"paper broker {self.name!r} has no order {client_order_id!r}; check the id")
        return order

    def fetch_order_by_venue_id(self, venue_order_id: str, symbol: str | None = None) -> BrokerOrder:
        """Return the order with this paper venue id."""
        with self._lock:
            for order in self._orders.values():
                if order.venue_order_id == venue_order_id:
                    return order
        raise OrderNotFoundError(f"paper broker {self.name!r} has no order with venue id {venue_order_id!r}")

    def market_rules(self, symbol: str) -> MarketRules | None:
        """Return the configured rules of `symbol` (None when none were given)."""
        return self.rules.get(symbol)

    def cancel_order(self, client_order_id: str, symbol: str | None = None) -> BrokerOrder:
        """Cancel an open order; the filled part stays filled."""
        with self._lock:
            order = self.fetch_order(client_order_id)
            if order.status.is_final:
                raise OrderRejectedError(f"order {client_order_id} is already {order.status}; nothing to cancel")
            order = replace(order, status=OrderStatus.CANCELED, updated_at=self.clock.now())
            self._store(order)
            return order

    def open_orders(self, symbol: str | None = None) -> list[BrokerOrder]:
        """Return working orders, oldest first."""
        with self._lock:
            working = (self._orders[c] for c in self._working)
            return [o for o in working if symbol in (None, o.symbol)]

    def fills_since(self, since: datetime | None, symbol: str | None = None) -> list[BrokerFill]:
        """Return fills at or after `since`, oldest first."""
        with self._lock:
            start = 0 if since is None else bisect.bisect_left(self._fill_ts, since)
            return [f for f in self._fills[start:] if symbol in (None, f.symbol)]

    def balances(self) -> dict[str, Balance]:
        """Return non-zero balances (empty for an unlimited account)."""
        with self._lock:
            if self._balances is None:
                return {}
            used = self._locked()
            for symbol, position in self._perps.positions.items():  # perpetual margin is set aside
                quote = split_symbol(symbol)[1]
                used[quote] = used.get(quote, Decimal(0)) + position.margin
            return {
                asset: Balance(asset=asset, free=total - used.get(asset, Decimal(0)), used=used.get(asset, Decimal(0)))
                for asset, total in sorted(self._balances.items())
                if total != 0
            }

    # -- matching ---------------------------------------------------------------------------
    def _on_market(self, symbol: str, *, open_: Decimal, high: Decimal, low: Decimal, close: Decimal) -> list[BrokerFill]:
        with self._lock:
            before = len(self._fills)
            for cid in list(self._working):
                order = self._orders[cid]
                if order.symbol != symbol:
                    continue
                if order.order_type is OrderType.MARKET:
                    self._match(order, high=open_, low=open_, reference=open_)
                else:
                    self._match(order, high=high, low=low, reference=open_)
            self._prices[symbol] = close
            return self._fills[before:]

    def _match(self, order: BrokerOrder, *, high: Decimal, low: Decimal, reference: Decimal) -> None:
        sign = order.side.sign
        if order.order_type is OrderType.MARKET:
            price = to_decimal(self.cost_model.fill_price(float(reference), sign))
        else:
            assert order.price is not None
            if order.side is Side.BUY and low > order.price or order.side is Side.SELL and high < order.price:
                return
            # a marketable limit fills at the better of its limit and the slipped market price
            slipped = to_decimal(self.cost_model.fill_price(float(reference), sign))
            price = min(order.price, slipped) if order.side is Side.BUY else max(order.price, slipped)
        qty = order.remaining_qty
        if self.max_fill_ratio < 1 and order.order_type is OrderType.LIMIT:
            step = self.rules.get(order.symbol, MarketRules()).lot_step
            chunk = order.qty * to_decimal(self.max_fill_ratio)
            chunk = quantize_down(chunk, step) if step else chunk
            qty = min(qty, chunk) if chunk > 0 else qty
        self._fill(order, qty, price)

    def _fill(self, order: BrokerOrder, qty: Decimal, price: Decimal) -> None:
        base, quote = split_symbol(order.symbol)
        fee = to_decimal(self.cost_model.fee(float(qty * price)))
        now = self.clock.now()
        self._record_fill(order, qty, price, fee, now)
        sign = order.side.sign
        if is_perpetual(order.symbol):  # margin, not assets: the wallet moves by PnL and fees
            realized = self._perps.fill(order.symbol, sign * qty, price)
            self._credit(order.symbol, realized - fee)
        elif self._balances is not None:
            self._balances[base] = self._balances.get(base, Decimal(0)) + sign * qty
            self._balances[quote] = self._balances.get(quote, Decimal(0)) - sign * qty * price - fee
        filled = order.filled_qty + qty
        avg = ((order.average_price or Decimal(0)) * order.filled_qty + qty * price) / filled
        status = OrderStatus.FILLED if filled >= order.qty else OrderStatus.PARTIALLY_FILLED
        self._store(replace(order, filled_qty=filled, average_price=avg, status=status, updated_at=now))

    def _record_fill(self, order: BrokerOrder, qty: Decimal, price: Decimal, fee: Decimal, now: datetime) -> None:
        self._seq += 1
        self._fill_ts.append(now)
        self._fills.append(
            BrokerFill(
                trade_id=f"paper-{self._run}-t{self._seq}", client_order_id=order.client_order_id,
                venue_order_id=order.venue_order_id, symbol=order.symbol, side=order.side,
                qty=qty, price=price, fee=fee, fee_currency=split_symbol(order.symbol)[1], ts=now,
            )
        )

    def _store(self, order: BrokerOrder) -> None:
        self._orders[order.client_order_id] = order
        if order.status.is_final:
            self._working.pop(order.client_order_id, None)
        else:
            self._working[order.client_order_id] = None

    def _locked(self) -> dict[str, Decimal]:
        used: dict[str, Decimal] = {}
        for o in (self._orders[c] for c in self._working):
            if o.order_type is not OrderType.LIMIT or o.price is None:
                continue
            base, quote = split_symbol(o.symbol)
            if is_perpetual(o.symbol):  # a resting perpetual order holds its margin
                leverage = self._perps.position(o.symbol).leverage
                used[quote] = used.get(quote, Decimal(0)) + o.remaining_qty * o.price / leverage
            elif o.side is Side.BUY:
                used[quote] = used.get(quote, Decimal(0)) + o.remaining_qty * o.price
            else:
                used[base] = used.get(base, Decimal(0)) + o.remaining_qty
        return used

    def _check_funds(self, symbol: str, side: Side, qty: Decimal, price: Decimal | None) -> None:
        if self._balances is None:
            return
        base, quote = split_symbol(symbol)
        used = self._locked()
        if is_perpetual(symbol):  # the margin an opening fill posts, plus its fee, from the free wallet
            if price is None:
                raise OrderRejectedError(f"no price for {symbol} yet; feed a bar or ticker before a market order")
            slipped = to_decimal(self.cost_model.fill_price(float(price), side.sign))
            position = self._perps.position(symbol)
            need = position.initial_margin(side.sign * qty, slipped) + qty * slipped * to_decimal(self.cost_model.fee_rate)
            free = self._balances.get(quote, Decimal(0)) - used.get(quote, Decimal(0)) - self._perps.margin_posted()
            asset = quote
        elif side is Side.SELL:
            free = self._balances.get(base, Decimal(0)) - used.get(base, Decimal(0))
            need, asset = qty, base
        else:
            if price is None:
                raise OrderRejectedError(f"no price for {symbol} yet; feed a bar or ticker before a market buy")
            free = self._balances.get(quote, Decimal(0)) - used.get(quote, Decimal(0))
            slipped = to_decimal(self.cost_model.fill_price(float(price), 1))
            need = qty * slipped * (1 + to_decimal(self.cost_model.fee_rate))
            asset = quote
        if need > free:
            raise InsufficientFundsError(
                f"paper account {self.name!r} has {free} {asset} free, the {side} of {qty} {symbol} needs {need}; "
                "reduce the quantity or fund the account"
            )
