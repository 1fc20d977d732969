"""A broker for any ccxt exchange: idempotent orders by client order id, typed errors, no leaks.

`create_order` is never retried blindly: after a timeout or network error the order is
looked up by its client order id, and it is sent again only when the venue answered
that it does not have it. A 429/418 opens a window (from `Retry-After`) inside which
nothing is sent. Messages are redacted so API keys and signatures never leave.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # ccxt is imported by whoever builds the client, not at import time
    from ccxt import Exchange

from quantdesk.broker.errors import SecretRedactingFilter, map_ccxt_error, redact
from quantdesk.broker.types import (
    Balance,
    BrokerFill,
    BrokerOrder,
    FuturesPosition,
    client_order_id_for,
)
from quantdesk.core.clock import Clock, SystemClock
from quantdesk.core.costs import MarketRules
from quantdesk.core.errors import (
    OrderNotFoundError,
    OrderRejectedError,
    OrderStateUnknownError,
    RateLimitedError,
    VenueError,
)
from quantdesk.core.money import to_decimal
from quantdesk.core.orders import OrderIntent
from quantdesk.core.types import OrderStatus, OrderType, Side

__all__ = ["CcxtBroker"]

log = logging.getLogger(__name__)

_STATUS = {
    "closed": OrderStatus.FILLED,
    "canceled": OrderStatus.CANCELED,
    "cancelled": OrderStatus.CANCELED,
    "expired": OrderStatus.EXPIRED,
    "rejected": OrderStatus.REJECTED,
}
_CCXT_LOGGER = "ccxt.base.exchange"
_LOG_FILTER = SecretRedactingFilter()


class _Uncertain(Exception):
    """A request may or may not have reached the venue (timeout, dropped connection, 5xx)."""


def _dt(ms: Any) -> datetime | None:
    return None if ms is None else datetime.fromtimestamp(int(ms) / 1000, UTC)


class CcxtBroker:
    """Trade one account of a ccxt exchange (`exchange` is a configured, synchronous ccxt client).

    `symbols` are the markets to scan for fills (Binance needs a symbol for its trade
    history); symbols of orders sent through this broker are added automatically.
    `sleep` and `clock` are injected so tests control waiting and the rate-limit window.
    """

    def __init__(
        self,
        exchange: Exchange,
        *,
        name: str | None = None,
        clock: Clock | None = None,
        symbols: Iterable[str] = (),
        lookup_attempts: int = 3,
        lookup_delay_s: float = 0.2,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.exchange = exchange
        self.name = name or str(exchange.id)
        self.clock = clock or SystemClock()
        self.symbols: list[str] = list(dict.fromkeys(symbols))
        self.lookup_attempts = lookup_attempts
        self.lookup_delay_s = lookup_delay_s
        self._sleep = sleep
        self._blocked_until_ms = 0
        self._secrets = [s for s in (exchange.apiKey, exchange.secret, getattr(exchange, "password", None)) if s]
        exchange.enableLastResponseHeaders = True
        exchange.options["warnOnFetchOpenOrdersWithoutSymbol"] = False
        # ccxt logs request headers (with the API key) at DEBUG: scrub them at the source
        _LOG_FILTER.add_secrets(self._secrets)
        ccxt_logger = logging.getLogger(_CCXT_LOGGER)
        if _LOG_FILTER not in ccxt_logger.filters:
            ccxt_logger.addFilter(_LOG_FILTER)

    # -- the Broker protocol ----------------------------------------------------------------
    def create_order(self, intent: OrderIntent) -> BrokerOrder:
        """Send the intent's order with its client order id; resolve timeouts by lookup, never by resending blindly."""
        cid = client_order_id_for(intent)
        self.track_symbols([intent.symbol])
        try:
            return self._send(intent, cid)
        except _Uncertain as e:
            log.warning("create order %s: no answer (%s); looking it up by client order id", cid, e)
            return self._resolve_after_uncertain_send(intent, cid)

    def fetch_order(self, client_order_id: str, symbol: str) -> BrokerOrder:
        """Look an order up by client order id; OrderNotFoundError when the venue has none."""
        try:
            return self._fetch(client_order_id, symbol)
        except _Uncertain as e:
            raise VenueError(f"looking up order {client_order_id} at {self.name} failed: {e}; retry later") from None

    def cancel_order(self, client_order_id: str, symbol: str) -> BrokerOrder:
        """Cancel an order by client order id; return its state after the cancel."""
        try:
            raw = self._call(
                "cancel order", self.exchange.cancel_order, client_order_id, symbol, {"clientOrderId": client_order_id}
            )
        except OrderNotFoundError:
            # Binance answers -2011 for orders that are already final: report the final state
            order = self.fetch_order(client_order_id, symbol)
            if order.status.is_final:
                return order
            raise
        except _Uncertain:
            order = self.fetch_order(client_order_id, symbol)
            if order.status.is_final:
                return order
            raise OrderStateUnknownError(
                f"cancel of {client_order_id} got no answer and the order is still {order.status}; retry the cancel"
            ) from None
        order = self._to_order(raw, client_order_id=client_order_id)
        if order.status is OrderStatus.CANCELED and order.qty > 0:
            return order
        return self.fetch_order(client_order_id, symbol)

    def open_orders(self, symbol: str | None = None) -> list[BrokerOrder]:
        """Return the venue's open orders (of `symbol`, or of the whole account)."""
        raws = self._read("fetch open orders", self.exchange.fetch_open_orders, symbol)
        return [self._to_order(r) for r in raws]

    def fills_since(self, since: datetime | None, symbol: str | None = None) -> list[BrokerFill]:
        """Return the account's trades at or after `since` in `symbol` or every tracked symbol, oldest first."""
        symbols = [symbol] if symbol else list(self.symbols)
        since_ms = None if since is None else int(since.timestamp() * 1000)
        fills: dict[str, BrokerFill] = {}
        for sym in symbols:
            cursor = since_ms
            while True:
                raws = self._read("fetch my trades", self.exchange.fetch_my_trades, sym, cursor, 1000)
                new = [self._to_fill(r) for r in raws if str(r["id"]) not in fills]
                for fill in new:
                    fills[fill.trade_id] = fill
                if len(raws) < 1000 or not new:
                    break
                cursor = max(int(r["timestamp"]) for r in raws)
        return sorted(fills.values(), key=lambda f: (f.ts, f.trade_id))

    def balances(self) -> dict[str, Balance]:
        """Return non-zero balances by asset."""
        raw = self._read("fetch balance", self.exchange.fetch_balance)
        free, used, total = raw.get("free") or {}, raw.get("used") or {}, raw.get("total") or {}
        out: dict[str, Balance] = {}
        for asset in sorted(total):
            if total.get(asset):
                out[asset] = Balance(asset=asset, free=to_decimal(free.get(asset) or 0), used=to_decimal(used.get(asset) or 0))
        return out

    def fetch_order_by_venue_id(self, venue_order_id: str, symbol: str) -> BrokerOrder:
        """Look an order up by the venue's own id (for fills whose client order id is not reported)."""
        try:
            raw = self._call("fetch order", self.exchange.fetch_order, venue_order_id, symbol)
        except _Uncertain as e:
            raise VenueError(f"looking up order {venue_order_id} at {self.name} failed: {e}; retry later") from None
        return self._to_order(raw)

    def last_price(self, symbol: str) -> Decimal | None:
        """Return the venue's last trade price of `symbol` (None when the ticker has none)."""
        ticker = self._read("fetch ticker", self.exchange.fetch_ticker, symbol)
        last = ticker.get("last") or ticker.get("close")
        return to_decimal(last) if last else None

    def set_leverage(self, symbol: str, leverage: int) -> None:
        """Set a perpetual's leverage on the venue (the account setting the margin follows)."""
        self._read("set leverage", self.exchange.set_leverage, int(leverage), symbol)  # idempotent: retried as a read

    def futures_position(self, symbol: str) -> FuturesPosition | None:
        """Return the leverage and position of a perpetual (None for spot markets).

        One `fetch_positions` round trip: the risk gate needs the account's leverage setting
        and the position's entry and mark prices to judge an order on a perpetual.
        """
        self._read("load markets", self.exchange.load_markets)
        market = self.exchange.markets.get(symbol)
        if market is None or not (market.get("swap") or market.get("future")):
            return None
        rows = self._read("fetch positions", self.exchange.fetch_positions, [symbol])
        row = next((r for r in rows if r.get("symbol") == symbol), None)
        if row is None or not row.get("leverage"):  # flat: ccxt lists no row; the leverage is a setting
            info = self._read("fetch leverage", self.exchange.fetch_leverages, [symbol]).get(symbol) or {}
            leverage = info.get("longLeverage") or info.get("shortLeverage")
            if not leverage:
                return None
            return FuturesPosition(symbol=symbol, leverage=to_decimal(leverage), qty=Decimal(0), entry_price=None,
                                   mark_price=None)
        contracts = to_decimal(row.get("contracts") or 0) * to_decimal(row.get("contractSize") or 1)
        qty = contracts if row.get("side") != "short" else -contracts
        entry, mark = row.get("entryPrice"), row.get("markPrice")
        return FuturesPosition(symbol=symbol, leverage=to_decimal(row["leverage"]), qty=qty,
                               entry_price=to_decimal(entry) if entry and qty else None,
                               mark_price=to_decimal(mark) if mark else None)

    def market_rules(self, symbol: str) -> MarketRules | None:
        """Return tick, lot step and limits of `symbol` from the venue's market info."""
        self._read("load markets", self.exchange.load_markets)
        market = self.exchange.markets.get(symbol)
        return None if market is None else MarketRules.from_ccxt_market(market)

    def track_symbols(self, symbols: Iterable[str]) -> None:
        """Add markets to scan for fills."""
        for s in symbols:
            if s and s not in self.symbols:
                self.symbols.append(s)

    @property
    def blocked_until_ms(self) -> int:
        """Return the end of the current rate-limit window (epoch ms; 0 when none was opened)."""
        return self._blocked_until_ms

    # -- sending and resolving ---------------------------------------------------------------
    def _send(self, intent: Any, cid: str) -> BrokerOrder:
        order_type = OrderType(intent.type)
        price = float(intent.price) if intent.price is not None and order_type is OrderType.LIMIT else None
        raw = self._call(
            "create order", self.exchange.create_order, intent.symbol, order_type.value,
            Side(intent.side).value, float(intent.qty), price, {"clientOrderId": cid},
        )
        return self._to_order(raw, client_order_id=cid)

    def _resolve_after_uncertain_send(self, intent: Any, cid: str) -> BrokerOrder:
        sends_left = 1
        for attempt in range(self.lookup_attempts):
            if attempt:
                self._sleep(self.lookup_delay_s * attempt)
            try:
                return self._fetch(cid, intent.symbol)
            except _Uncertain:
                continue
            except RateLimitedError:
                break
            except OrderNotFoundError:
                if sends_left == 0:
                    continue
                # the venue certainly does not have it: sending again (same id) cannot duplicate it
                sends_left -= 1
                log.warning("order %s is not at %s; sending it again", cid, self.name)
                try:
                    return self._send(intent, cid)
                except _Uncertain:
                    continue
                except OrderRejectedError as e:
                    if "duplicate" not in str(e).lower():
                        raise
        raise OrderStateUnknownError(
            f"order {cid} ({intent.symbol}) got no answer from {self.name} and lookups could not find out "
            "whether the venue has it; it stays in flight: run `quantdesk reconcile` once the venue answers"
        )

    def _fetch(self, cid: str, symbol: str) -> BrokerOrder:
        raw = self._call("fetch order", self.exchange.fetch_order, cid, symbol, {"clientOrderId": cid})
        return self._to_order(raw, client_order_id=cid)

    def _read(self, action: str, fn: Callable[..., Any], *args: Any) -> Any:
        """Call a read-only endpoint; reads are safe to retry after network errors."""
        for attempt in range(self.lookup_attempts):
            if attempt:
                self._sleep(self.lookup_delay_s * attempt)
            try:
                return self._call(action, fn, *args)
            except _Uncertain as e:
                last = e
        raise VenueError(f"{action} at {self.name} failed {self.lookup_attempts} times: {last}; retry later")

    def _call(self, action: str, fn: Callable[..., Any], *args: Any) -> Any:
        import ccxt

        self._guard(action)
        for resync in (True, False):
            try:
                return fn(*args)
            except (ccxt.RateLimitExceeded, ccxt.DDoSProtection) as e:
                error = map_ccxt_error(e, action=action, secrets=self._secrets, headers=self.exchange.last_response_headers)
                wait = error.retry_after_s if isinstance(error, RateLimitedError) else None
                if wait:
                    self._blocked_until_ms = max(self._blocked_until_ms, self.clock.now_ms() + int(wait * 1000))
                raise error from None
            except ccxt.InvalidNonce as e:
                # a definite rejection (-1021 timestamp skew): resync the time offset and retry once
                if not resync:
                    raise map_ccxt_error(e, action=action, secrets=self._secrets) from None
                self._guard(action)
                self.exchange.load_time_difference()
            except ccxt.NetworkError as e:
                raise _Uncertain(redact(str(e), self._secrets)) from None
            except ccxt.BaseError as e:
                raise map_ccxt_error(e, action=action, secrets=self._secrets) from None
        raise AssertionError("unreachable")

    def _guard(self, action: str) -> None:
        remaining_ms = self._blocked_until_ms - self.clock.now_ms()
        if remaining_ms > 0:
            raise RateLimitedError(
                f"{action} not sent: {self.name} asked us to wait, {remaining_ms / 1000:g}s left of its Retry-After window",
                retry_after_s=remaining_ms / 1000,
            )

    # -- parsing -----------------------------------------------------------------------------
    def _to_order(self, raw: dict[str, Any], *, client_order_id: str | None = None) -> BrokerOrder:
        filled = to_decimal(raw.get("filled") or 0)
        status = _STATUS.get(str(raw.get("status") or ""))
        if status is None:
            status = OrderStatus.PARTIALLY_FILLED if filled > 0 else OrderStatus.OPEN
        order_type = OrderType(raw["type"]) if raw.get("type") in ("market", "limit") else OrderType.LIMIT
        price = raw.get("price")
        return BrokerOrder(
            client_order_id=str(raw.get("clientOrderId") or client_order_id or ""),
            venue_order_id=None if raw.get("id") is None else str(raw["id"]),
            symbol=raw["symbol"],
            side=Side(raw["side"]),
            order_type=order_type,
            qty=to_decimal(raw.get("amount") or 0),
            price=to_decimal(price) if price and order_type is OrderType.LIMIT else None,
            status=status,
            filled_qty=filled,
            average_price=to_decimal(raw["average"]) if raw.get("average") else None,
            created_at=_dt(raw.get("timestamp")),
            updated_at=_dt(raw.get("lastUpdateTimestamp") or raw.get("lastTradeTimestamp") or raw.get("timestamp")),
        )

    def _to_fill(self, raw: dict[str, Any]) -> BrokerFill:
        fee = raw.get("fee") or {}
        info = raw.get("info") or {}
        return BrokerFill(
            trade_id=str(raw["id"]),
            client_order_id=raw.get("clientOrderId") or info.get("clientOrderId"),
            venue_order_id=None if raw.get("order") is None else str(raw["order"]),
            symbol=raw["symbol"],
            side=Side(raw["side"]),
            qty=to_decimal(raw["amount"]),
            price=to_decimal(raw["price"]),
            fee=to_decimal(fee.get("cost") or 0),
            fee_currency=fee.get("currency"),
            ts=_dt(raw["timestamp"]) or self.clock.now(),
        )
