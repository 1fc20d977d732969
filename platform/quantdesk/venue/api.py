"""The Binance spot REST subset, independent of HTTP: (method, path, params) -> JSON answer."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from decimal import Decimal, InvalidOperation
from typing import Any

from quantdesk.core.clock import Clock
from quantdesk.core.errors import DataError
from quantdesk.core.timeframes import timeframe_ms
from quantdesk.venue.auth import check_signed
from quantdesk.venue.book_shape import BookShape, Levels, shaped_book
from quantdesk.venue.engine import MatchingEngine
from quantdesk.venue.orders import RejectedRequest
from quantdesk.venue.payloads import (
    decimal_text,
    float_text,
    market_info,
    order_payload,
    trade_payload,
)
from quantdesk.venue.perpetuals import Perpetual, UsdmMarketData
from quantdesk.venue.usdm_account import USDM_SIGNED, UsdmAccount

__all__ = ["BinanceApi"]

_DAY_MS = 86_400_000
_SIGNED = {"order", "openOrders", "allOrders", "myTrades", "account", "capital/config/getall", "margin/isolated/allPairs"}


class BinanceApi:
    """Answer Binance spot REST requests from a matching engine and its candle books."""

    def __init__(
        self,
        engine: MatchingEngine,
        *,
        clock: Clock,
        wall_clock: Clock,
        api_key: str,
        api_secret: str,
        perpetuals: Mapping[str, Perpetual] | None = None,
        futures_wallet: Decimal | float | str = 100_000,
        book_shape: BookShape | None = None,
        withdraw_fees: Mapping[str, Decimal] | None = None,
    ) -> None:
        self.engine = engine
        self.book_shape = book_shape or BookShape()  # the book GET depth, tickers and the depth stream show
        self.withdraw_fees = dict(withdraw_fees or {})  # asset -> fee, served by capital/config/getall
        self.clock = clock
        self.wall_clock = wall_clock
        self.api_key = api_key
        self.api_secret = api_secret
        self._by_id = {spec.market_id: symbol for symbol, spec in engine.specs.items()}
        self._routes: dict[tuple[str, str], Callable[[Mapping[str, str]], Any]] = {
            ("GET", "ping"): lambda p: {},
            ("GET", "time"): lambda p: {"serverTime": self.clock.now_ms()},  # the market's time
            ("GET", "exchangeInfo"): self._exchange_info,
            ("GET", "klines"): self._klines,
            ("GET", "uiKlines"): self._klines,
            ("GET", "ticker/24hr"): self._ticker_24hr,
            ("GET", "ticker/price"): self._ticker_price,
            ("GET", "ticker/bookTicker"): self._book_ticker,
            ("GET", "depth"): self._depth,
            ("POST", "order"): self._create_order,
            ("GET", "order"): self._get_order,
            ("DELETE", "order"): self._cancel_order,
            ("GET", "openOrders"): self._open_orders,
            ("GET", "allOrders"): self._all_orders,
            ("GET", "myTrades"): self._my_trades,
            ("GET", "account"): self._account,
            # What a default-configured ccxt.binance also asks while loading markets and
            # currencies (keys set): margin pairs, currency configuration, and the futures
            # families' exchangeInfo. The venue trades spot only, so these say "nothing here"
            # in Binance's own shapes; see tests/venue/test_default_client.py.
            ("GET", "capital/config/getall"): self._currencies,
            ("GET", "margin/allPairs"): lambda p: [],
            ("GET", "margin/isolated/allPairs"): lambda p: [],
            ("GET", "fapi/v1/exchangeInfo"): self._futures_exchange_info,
            ("GET", "dapi/v1/exchangeInfo"): self._futures_exchange_info,
        }
        self.usdm_account: UsdmAccount | None = None
        if perpetuals:
            self.usdm = UsdmMarketData(perpetuals, clock, wall_clock)
            self._routes.update(self.usdm.routes())
            self.usdm_account = UsdmAccount(perpetuals, clock, wallet=futures_wallet,
                                            fee_bps=engine.policy.fee_bps)
            self._routes.update(self.usdm_account.routes())

    def handle(
        self,
        method: str,
        path: str,
        params: Mapping[str, str],
        *,
        headers: Mapping[str, str],
        query: str,
        body: str,
    ) -> Any:
        """Return the JSON answer of one request or raise `RejectedRequest`."""
        endpoint = path.strip("/").removeprefix("api/v3/").removeprefix("sapi/v1/")
        route = self._routes.get((method, endpoint))
        if route is None:
            raise RejectedRequest(
                -1000, f"The simulated venue does not serve {method} {path}.", status=404
            )
        if endpoint in _SIGNED or endpoint in USDM_SIGNED:
            check_signed(
                headers=headers,
                query=query,
                body=body,
                params=params,
                api_key=self.api_key,
                api_secret=self.api_secret,
                server_time_ms=self.wall_clock.now_ms(),
                market_time_ms=self.clock.now_ms(),
            )
        self.engine.sync(self.clock.now_ms())
        if self.usdm_account is not None and endpoint.startswith("fapi/"):
            self.usdm_account.sync()  # funding settlements and liquidations up to the clock
        return route(params)

    # -- helpers ------------------------------------------------------------------------

    def _symbol(self, params: Mapping[str, str], *, required: bool = True) -> str | None:
        market_id = params.get("symbol")
        if market_id is None:
            if required:
                raise RejectedRequest(
                    -1102,
                    "Mandatory parameter 'symbol' was not sent, was empty/null, or malformed.",
                )
            return None
        try:
            return self._by_id[market_id]
        except KeyError:
            raise RejectedRequest(-1121, "Invalid symbol.") from None

    @staticmethod
    def _int(params: Mapping[str, str], name: str, default: int | None = None) -> int | None:
        value = params.get(name)
        if value is None:
            return default
        try:
            return int(value)
        except ValueError:
            raise RejectedRequest(
                -1100, f"Illegal characters found in parameter '{name}'."
            ) from None

    @staticmethod
    def _decimal(params: Mapping[str, str], name: str) -> Decimal | None:
        value = params.get(name)
        if value is None:
            return None
        try:
            return Decimal(value)
        except InvalidOperation:
            raise RejectedRequest(
                -1100, f"Illegal characters found in parameter '{name}'."
            ) from None

    def _limit(self, params: Mapping[str, str], default: int, maximum: int = 1000) -> int:
        limit = self._int(params, "limit", default) or default
        return max(1, min(limit, maximum))

    def _symbols(self, params: Mapping[str, str]) -> list[str]:
        one = self._symbol(params, required=False)
        return [one] if one else list(self.engine.specs)

    # -- market data --------------------------------------------------------------------

    def _exchange_info(self, params: Mapping[str, str]) -> dict[str, Any]:
        return {
            "timezone": "UTC",
            "serverTime": self.clock.now_ms(),
            "rateLimits": [
                {
                    "rateLimitType": "REQUEST_WEIGHT",
                    "interval": "MINUTE",
                    "intervalNum": 1,
                    "limit": 6000,
                },
                {"rateLimitType": "ORDERS", "interval": "SECOND", "intervalNum": 10, "limit": 100},
            ],
            "exchangeFilters": [],
            "symbols": [market_info(spec) for spec in self.engine.specs.values()],
        }

    def _futures_exchange_info(self, params: Mapping[str, str]) -> dict[str, Any]:
        # No futures markets: Binance's shape with an empty symbol list.
        return {"timezone": "UTC", "serverTime": self.clock.now_ms(), "rateLimits": [],
                "exchangeFilters": [], "assets": [], "symbols": []}

    def _currencies(self, params: Mapping[str, str]) -> list[dict[str, Any]]:
        # One entry per asset the venue trades; deposits and withdrawals are off (no networks) unless the
        # venue was given a withdrawal fee for the asset (`--withdraw-fee BTC=0.0002`): then one network.
        assets = sorted({a for spec in self.engine.specs.values() for a in (spec.base, spec.quote)} | set(self.engine.free))
        return [
            {"coin": a, "name": a, "depositAllEnable": a in self.withdraw_fees,
             "withdrawAllEnable": a in self.withdraw_fees, "trading": True,
             "isLegalMoney": False, "free": decimal_text(self.engine.free.get(a, Decimal(0))),
             "locked": decimal_text(self.engine.locked.get(a, Decimal(0))), "freeze": "0", "withdrawing": "0",
             "ipoing": "0", "ipoable": "0", "storage": "0", "networkList": _networks(a, self.withdraw_fees.get(a))}
            for a in assets
        ]

    def book(self, symbol: str, now_ms: int, limit: int | None = None) -> tuple[Levels, Levels]:
        """Return the (bids, asks) the venue shows for `symbol` at `now_ms` (see `quantdesk.venue.book_shape`)."""
        price = self.engine.current_price(symbol, now_ms) or Decimal(0)
        return shaped_book(price, self.engine.specs[symbol].tick_size, self.book_shape, symbol, limit=limit)

    def _klines(self, params: Mapping[str, str]) -> list[list[Any]]:
        symbol = self._symbol(params)
        try:
            interval_ms = timeframe_ms(params.get("interval", ""))
        except Exception:
            raise RejectedRequest(-1120, "Invalid interval.") from None
        book = self.engine.books[symbol]
        try:
            rows = book.klines(
                self.clock.now_ms(),
                interval_ms,
                self._int(params, "startTime"),
                self._int(params, "endTime"),
                self._limit(params, 500),
            )
        except DataError:
            raise RejectedRequest(-1120, "Invalid interval.") from None
        return [
            [
                ts,
                float_text(o),
                float_text(h),
                float_text(lo),
                float_text(c),
                float_text(v),
                ts + interval_ms - 1,
                float_text(v * c),
                0,
                "0",
                "0",
                "0",
            ]
            for ts, o, h, lo, c, v in rows
        ]

    def _ticker(self, symbol: str) -> dict[str, Any]:
        now = self.clock.now_ms()
        book = self.engine.books[symbol]
        rows = book.klines(
            now, book.timeframe_ms, now - _DAY_MS, None, _DAY_MS // book.timeframe_ms + 1
        )
        last = self.engine.current_price(symbol, now) or Decimal(0)
        bids, asks = self.book(symbol, now, limit=1)
        first_open = rows[0][1] if rows else float(last)
        high = max((r[2] for r in rows), default=float(last))
        low = min((r[3] for r in rows), default=float(last))
        volume = sum(r[5] for r in rows)
        quote_volume = sum(r[5] * r[4] for r in rows)
        change = float(last) - first_open
        return {
            "symbol": self.engine.specs[symbol].market_id,
            "priceChange": float_text(change),
            "priceChangePercent": float_text(
                round(100 * change / first_open, 3) if first_open else 0.0
            ),
            "weightedAvgPrice": float_text(quote_volume / volume if volume else float(last)),
            "prevClosePrice": float_text(first_open),
            "lastPrice": decimal_text(last),
            "lastQty": "0.00000000",
            "bidPrice": decimal_text(bids[0][0]) if bids else decimal_text(last),
            "bidQty": decimal_text(bids[0][1]) if bids else "0.00000000",
            "askPrice": decimal_text(asks[0][0]) if asks else decimal_text(last),
            "askQty": decimal_text(asks[0][1]) if asks else "0.00000000",
            "openPrice": float_text(first_open),
            "highPrice": float_text(high),
            "lowPrice": float_text(low),
            "volume": float_text(volume),
            "quoteVolume": float_text(quote_volume),
            "openTime": now - _DAY_MS,
            "closeTime": now,
            "firstId": -1,
            "lastId": -1,
            "count": len(rows),
        }

    def _ticker_24hr(self, params: Mapping[str, str]) -> Any:
        tickers = [self._ticker(s) for s in self._symbols(params)]
        return tickers[0] if "symbol" in params else tickers

    def _ticker_price(self, params: Mapping[str, str]) -> Any:
        now = self.clock.now_ms()
        prices = [
            {
                "symbol": self.engine.specs[s].market_id,
                "price": decimal_text(self.engine.current_price(s, now) or Decimal(0)),
            }
            for s in self._symbols(params)
        ]
        return prices[0] if "symbol" in params else prices

    def _book_ticker(self, params: Mapping[str, str]) -> Any:
        tickers = [
            {k: t[k] for k in ("symbol", "bidPrice", "bidQty", "askPrice", "askQty")}
            for t in (self._ticker(s) for s in self._symbols(params))
        ]
        return tickers[0] if "symbol" in params else tickers

    def _depth(self, params: Mapping[str, str]) -> dict[str, Any]:
        symbol = self._symbol(params)
        now = self.clock.now_ms()
        bids, asks = self.book(symbol, now, limit=self._limit(params, 100, maximum=5000))
        return {
            "lastUpdateId": now,
            "bids": [[decimal_text(p), decimal_text(q)] for p, q in bids],
            "asks": [[decimal_text(p), decimal_text(q)] for p, q in asks],
        }

    # -- trading ------------------------------------------------------------------------

    def _create_order(
        self, params: Mapping[str, str], *, force_insufficient: bool = False
    ) -> dict[str, Any]:
        symbol = self._symbol(params)
        now = self.clock.now_ms()
        client_order_id = (
            params.get("newClientOrderId") or f"sim-{now}-{len(self.engine.orders) + 1}"
        )
        order, fills = self.engine.place(
            symbol=symbol,
            side=params.get("side", ""),
            type=params.get("type", ""),
            now_ms=now,
            quantity=self._decimal(params, "quantity"),
            quote_order_qty=self._decimal(params, "quoteOrderQty"),
            price=self._decimal(params, "price"),
            time_in_force=params.get("timeInForce"),
            client_order_id=client_order_id,
            force_insufficient=force_insufficient,
        )
        payload = order_payload(order, params["symbol"], fills=fills)
        if params.get("newOrderRespType") == "ACK":
            return {
                k: payload[k]
                for k in ("symbol", "orderId", "orderListId", "clientOrderId", "transactTime")
            }
        return payload

    def create_order_insufficient(self, params: Mapping[str, str]) -> dict[str, Any]:
        """Validate an order like `POST /order` but answer -2010 (the INSUFFICIENT_BALANCE fault)."""
        return self._create_order(params, force_insufficient=True)

    def _order_ref(self, params: Mapping[str, str]) -> tuple[int | None, str | None]:
        order_id = self._int(params, "orderId")
        client_order_id = params.get("origClientOrderId")
        if order_id is None and client_order_id is None:
            raise RejectedRequest(
                -1102,
                "Param 'origClientOrderId' or 'orderId' must be sent, but both were empty/null!",
            )
        return order_id, client_order_id

    def _get_order(self, params: Mapping[str, str]) -> dict[str, Any]:
        symbol = self._symbol(params)
        order = self.engine.find(symbol, *self._order_ref(params))
        if order is None:
            raise RejectedRequest(-2013, "Order does not exist.")
        return order_payload(order, params["symbol"])

    def _cancel_order(self, params: Mapping[str, str]) -> dict[str, Any]:
        symbol = self._symbol(params)
        order = self.engine.cancel(symbol, *self._order_ref(params), self.clock.now_ms())
        payload = order_payload(order, params["symbol"])
        payload["origClientOrderId"] = order.client_order_id
        payload["transactTime"] = order.update_time_ms
        return payload

    def _open_orders(self, params: Mapping[str, str]) -> list[dict[str, Any]]:
        symbols = set(self._symbols(params))
        return [
            order_payload(o, self.engine.specs[o.symbol].market_id)
            for o in self.engine.orders.values()
            if o.symbol in symbols and o.status.is_open
        ]

    def _window(self, params: Mapping[str, str]) -> tuple[int, int]:
        start = self._int(params, "startTime", 0) or 0
        end = self._int(params, "endTime", 2**62) or 2**62
        return start, end

    def _all_orders(self, params: Mapping[str, str]) -> list[dict[str, Any]]:
        symbol = self._symbol(params)
        start, end = self._window(params)
        from_id = self._int(params, "orderId", 0) or 0
        orders = [
            o
            for o in self.engine.orders.values()
            if o.symbol == symbol and o.order_id >= from_id and start <= o.time_ms <= end
        ]
        return [order_payload(o, params["symbol"]) for o in orders[: self._limit(params, 500)]]

    def _my_trades(self, params: Mapping[str, str]) -> list[dict[str, Any]]:
        symbol = self._symbol(params)
        start, end = self._window(params)
        from_id = self._int(params, "fromId", 0) or 0
        order_id = self._int(params, "orderId")
        trades = [
            t
            for t in self.engine.trades
            if t.symbol == symbol
            and t.trade_id >= from_id
            and start <= t.time_ms <= end
            and (order_id is None or t.order_id == order_id)
        ]
        return [trade_payload(t, params["symbol"]) for t in trades[: self._limit(params, 500)]]

    def _account(self, params: Mapping[str, str]) -> dict[str, Any]:
        fee = int(self.engine.policy.fee_bps)
        return {
            "makerCommission": fee,
            "takerCommission": fee,
            "buyerCommission": 0,
            "sellerCommission": 0,
            "canTrade": True,
            "canWithdraw": False,
            "canDeposit": False,
            "brokered": False,
            "requireSelfTradePrevention": False,
            "preventSor": False,
            "updateTime": self.clock.now_ms(),
            "accountType": "SPOT",
            "balances": [
                {
                    "asset": a,
                    "free": decimal_text(self.engine.free[a]),
                    "locked": decimal_text(self.engine.locked[a]),
                }
                for a in sorted(self.engine.free)
            ],
            "permissions": ["SPOT"],
            "uid": 1,
        }


def _networks(asset: str, fee: Decimal | None) -> list[dict[str, Any]]:
    """Binance's `networkList` for an asset with a withdrawal fee: one default network named after it."""
    if fee is None:
        return []
    return [{"network": asset, "coin": asset, "name": asset, "isDefault": True, "depositEnable": True,
             "withdrawEnable": True, "withdrawFee": decimal_text(fee), "withdrawMin": decimal_text(fee * 2),
             "withdrawMax": "9000000.00000000", "withdrawIntegerMultiple": "0.00000001", "minConfirm": 1,
             "unLockConfirm": 0, "depositDesc": "", "withdrawDesc": "", "specialTips": "", "busy": False}]
