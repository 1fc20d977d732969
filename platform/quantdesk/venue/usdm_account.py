"""The USDⓈ-M futures account of the simulated venue: the signed subset ccxt's `binanceusdm` uses.

One account, one-way mode, isolated margin (the model of `quantdesk.backtest.futures`):

- `POST fapi/v1/leverage` sets a symbol's leverage (1..125, capped by the notional tier);
  `POST fapi/v1/marginType` accepts ISOLATED only.
- `POST fapi/v1/order` takes MARKET orders (`reduceOnly` honoured); they fill in full at the
  current trade price (the open of the bar holding the clock), fee `fee_bps` of the notional.
  Opening posts `notional / leverage` as the position's isolated margin out of the available
  balance; reducing realises PnL into the wallet and releases margin pro rata; a fill through
  zero closes and opens the rest on the other side.
- Funding: at each settlement the venue's clock passes, a position pays (long, positive rate)
  or receives `|qty| * mark * rate` at the settlement's mark price, from its isolated margin
  and the wallet (an income row `FUNDING_FEE`).
- Liquidation: when a mark bar's low (long) or high (short) reaches the liquidation price of
  `quantdesk.core.margin` (Binance's tiers), the position is closed there and its isolated
  margin is lost (income `INSURANCE_CLEAR`), as the backtest models it.
- Reads: `fapi/v2|v3/positionRisk`, `fapi/v2|v3/account`, `fapi/v2|v3/balance`,
  `fapi/v1/leverageBracket`, `fapi/v1/symbolConfig` (leverage per symbol), `fapi/v1/order`, `fapi/v1/openOrders`, `fapi/v1/userTrades`,
  `fapi/v1/income`, in Binance's shapes.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from decimal import ROUND_DOWN, Decimal
from typing import Any

import numpy as np

from quantdesk.core.clock import Clock
from quantdesk.core.margin import tiers_for
from quantdesk.core.perpetual import STEP, IsolatedPosition
from quantdesk.venue.orders import RejectedRequest
from quantdesk.venue.payloads import decimal_text
from quantdesk.venue.perpetuals import Perpetual

__all__ = ["USDM_SIGNED", "UsdmAccount"]

ZERO = Decimal(0)
USDM_SIGNED = frozenset({
    "fapi/v1/leverage", "fapi/v1/marginType", "fapi/v1/order", "fapi/v1/openOrders", "fapi/v1/userTrades",
    "fapi/v1/income", "fapi/v1/leverageBracket", "fapi/v1/symbolConfig", "fapi/v2/positionRisk", "fapi/v3/positionRisk",
    "fapi/v2/account", "fapi/v3/account", "fapi/v2/balance", "fapi/v3/balance", "fapi/v1/positionSide/dual",
    "fapi/v1/multiAssetsMargin",
})


@dataclass(slots=True)
class _Position:
    """A contract's position (the shared isolated-margin value) and when it last changed."""

    value: IsolatedPosition = field(default_factory=IsolatedPosition)
    updated_ms: int = 0

    @property
    def qty(self) -> Decimal:
        return self.value.qty

    @property
    def leverage(self) -> int:
        return int(self.value.leverage)


@dataclass(slots=True)
class _State:
    wallet: Decimal
    positions: dict[str, _Position] = field(default_factory=dict)
    orders: dict[int, dict[str, Any]] = field(default_factory=dict)
    trades: list[dict[str, Any]] = field(default_factory=list)
    income: list[dict[str, Any]] = field(default_factory=list)
    synced_ms: int = 0


class UsdmAccount:
    """Positions, margin, funding and liquidation of one USDⓈ-M account (see the module doc)."""

    def __init__(self, perpetuals: Mapping[str, Perpetual], clock: Clock, *, wallet: Decimal | float | str,
                 fee_bps: float = 4.0) -> None:
        self.perpetuals = dict(perpetuals)
        self.by_id = {p.market_id: p for p in self.perpetuals.values()}
        self.clock = clock
        self.fee_rate = Decimal(str(fee_bps)) / Decimal(10_000)
        self.state = _State(wallet=Decimal(str(wallet)), synced_ms=clock.now_ms())
        self._ids = itertools.count(1)

    def routes(self) -> dict[tuple[str, str], Callable[[Mapping[str, str]], Any]]:
        """Return the signed routes, keyed by (method, path)."""
        routes: dict[tuple[str, str], Callable[[Mapping[str, str]], Any]] = {
            ("POST", "fapi/v1/leverage"): self._leverage,
            ("POST", "fapi/v1/marginType"): self._margin_type,
            ("POST", "fapi/v1/order"): self._create_order,
            ("GET", "fapi/v1/order"): self._order,
            ("DELETE", "fapi/v1/order"): self._cancel_order,
            ("GET", "fapi/v1/openOrders"): lambda p: [],  # market orders only: nothing rests
            ("GET", "fapi/v1/userTrades"): self._user_trades,
            ("GET", "fapi/v1/income"): self._income,
            ("GET", "fapi/v1/leverageBracket"): self._brackets,
            ("GET", "fapi/v1/symbolConfig"): self._symbol_config,
            ("GET", "fapi/v1/positionSide/dual"): lambda p: {"dualSidePosition": False},
            ("GET", "fapi/v1/multiAssetsMargin"): lambda p: {"multiAssetsMargin": False},
        }
        for version in ("v2", "v3"):
            routes[("GET", f"fapi/{version}/positionRisk")] = self._position_risk
            routes[("GET", f"fapi/{version}/account")] = self._account
            routes[("GET", f"fapi/{version}/balance")] = self._balance
        return routes

    # -- time: funding and liquidation up to the clock ------------------------------------

    def sync(self) -> None:
        """Apply every funding settlement and liquidation between the last sync and the clock."""
        now = self.clock.now_ms()
        since, self.state.synced_ms = self.state.synced_ms, max(now, self.state.synced_ms)
        for symbol, pos in self.state.positions.items():
            if pos.qty != 0:
                self._advance(symbol, pos, since, now)

    def _advance(self, symbol: str, pos: _Position, since: int, now: int) -> None:
        perp = self.perpetuals[symbol]
        book, tiers = perp.mark, tiers_for(symbol)
        settlements = [int(t) for t in perp.funding_ts[(perp.funding_ts > since) & (perp.funding_ts <= now)]]
        cursor = since
        for stop in [*settlements, None]:
            # between settlements the liquidation price is constant (only funding moves the margin)
            end = now if stop is None else stop
            # the mark bars that closed in (cursor, end]: a bar is judged at its close
            lo = int(np.searchsorted(book.ts, cursor - book.timeframe_ms, side="right"))
            hi = int(np.searchsorted(book.ts, end - book.timeframe_ms, side="right"))
            if hi > lo and pos.qty != 0:
                liq = pos.value.liquidation_price(tiers)
                hit = np.flatnonzero(book.low[lo:hi] <= liq) if pos.qty > 0 else np.flatnonzero(book.high[lo:hi] >= liq)
                if len(hit):
                    i = lo + int(hit[0])
                    price = pos.value.liquidated_by(float(book.low[i]), float(book.high[i]), tiers,
                                                    float(book.open[i]))
                    self._liquidate(symbol, pos, price if price is not None else liq, int(book.ts[i]))
                    return
            if stop is None or pos.qty == 0:
                return
            i = int(np.searchsorted(perp.funding_ts, stop))
            mark = Decimal(str(book.price(stop) or float(pos.value.entry)))
            pos.value, payment = pos.value.funding(mark, perp.funding_rate[i])
            self.state.wallet += payment
            self._add_income(symbol, "FUNDING_FEE", payment, stop)
            cursor = stop

    def _liquidate(self, symbol: str, pos: _Position, price: float, ts: int) -> None:
        # as Binance: an `autoclose-` market order closes the position at the price, and what
        # is left of the margin is the clearance fee; the position costs its whole margin
        value, at = pos.value, Decimal(str(price))
        _, realized = value.fill(-value.qty, at)
        side = "SELL" if value.qty > 0 else "BUY"
        self._book(symbol, side, abs(value.qty), at, ZERO, realized, f"autoclose-{ts}", True, ts)
        self._add_income(symbol, "INSURANCE_CLEAR", -(value.margin + realized), ts, info=f"liquidated at {at}")
        self.state.wallet -= value.margin
        pos.value, pos.updated_ms = value.flat, ts

    def _add_income(self, symbol: str, kind: str, amount: Decimal, ts: int, *, info: str = "", trade: int = 0) -> None:
        self.state.income.append({"symbol": self.perpetuals[symbol].market_id, "incomeType": kind,
                                  "income": decimal_text(amount), "asset": "USDT", "info": info or kind,
                                  "time": ts, "tranId": next(self._ids), "tradeId": str(trade) if trade else ""})

    # -- helpers ------------------------------------------------------------------------

    def _perp(self, params: Mapping[str, str]) -> tuple[str, Perpetual]:
        perp = self.by_id.get(params.get("symbol", ""))
        if perp is None:
            raise RejectedRequest(-1121, "Invalid symbol.")
        return perp.symbol, perp

    def _position(self, symbol: str) -> _Position:
        return self.state.positions.setdefault(symbol, _Position())

    def _mark(self, perp: Perpetual) -> Decimal:
        price = perp.mark.price(self.clock.now_ms())
        return Decimal(str(price)) if price is not None else ZERO

    def _available(self) -> Decimal:
        return self.state.wallet - sum((p.value.margin for p in self.state.positions.values()), ZERO)

    # -- trading --------------------------------------------------------------------------

    def _leverage(self, params: Mapping[str, str]) -> dict[str, Any]:
        symbol, perp = self._perp(params)
        try:
            leverage = int(params.get("leverage", ""))
        except ValueError:
            raise RejectedRequest(-1102, "Mandatory parameter 'leverage' was not sent, was empty/null, or malformed.") from None
        if not 1 <= leverage <= 125:
            raise RejectedRequest(-4028, f"Leverage {leverage} is not valid")
        pos = self._position(symbol)
        notional = float(abs(pos.qty) * self._mark(perp))
        if leverage > tiers_for(symbol).max_leverage(notional):
            raise RejectedRequest(-2027, "Exceeded the maximum allowable position at current leverage.")
        pos.value = replace(pos.value, leverage=Decimal(leverage))
        return {"leverage": leverage, "maxNotionalValue": decimal_text(_max_notional(symbol, leverage)),
                "symbol": perp.market_id}

    def _margin_type(self, params: Mapping[str, str]) -> dict[str, Any]:
        self._perp(params)
        if params.get("marginType", "").upper() != "ISOLATED":
            raise RejectedRequest(-4046, "The simulated venue trades isolated margin only; keep ISOLATED.")
        return {"code": 200, "msg": "success"}

    def _create_order(self, params: Mapping[str, str]) -> dict[str, Any]:
        symbol, perp = self._perp(params)
        if params.get("type", "").upper() != "MARKET":
            raise RejectedRequest(-1116, "Invalid orderType: the simulated USDⓈ-M venue takes MARKET orders only.")
        side = params.get("side", "").upper()
        if side not in ("BUY", "SELL"):
            raise RejectedRequest(-1117, "Invalid side.")
        try:
            qty = Decimal(params.get("quantity", ""))
        except ArithmeticError:
            raise RejectedRequest(-1102, "Mandatory parameter 'quantity' was not sent, was empty/null, or malformed.") from None
        if qty <= 0 or qty % perp.spec.step_size != 0:
            raise RejectedRequest(-1111, "Precision is over the maximum defined for this asset.")
        cid = params.get("newClientOrderId") or f"sim-{next(self._ids)}"
        if any(o["clientOrderId"] == cid for o in self.state.orders.values()):
            raise RejectedRequest(-4116, "ClientOrderId is duplicated.")
        now = self.clock.now_ms()
        price = perp.trades.price(now)
        if price is None:
            raise RejectedRequest(-1013, "No price yet: the market has no candle before the venue's clock.")
        pos = self._position(symbol)
        signed = qty if side == "BUY" else -qty
        reduce_only = params.get("reduceOnly", "false").lower() == "true"
        if reduce_only and (pos.qty == 0 or (pos.qty > 0) == (signed > 0) or abs(signed) > abs(pos.qty)):
            raise RejectedRequest(-2022, "ReduceOnly Order is rejected.")
        fill = Decimal(str(price))
        fee = (qty * fill * self.fee_rate).quantize(STEP, ROUND_DOWN)
        if pos.value.opening_qty(signed) > 0 and pos.value.initial_margin(signed, fill) + fee > self._available():
            raise RejectedRequest(-2019, "Margin is insufficient.")
        pos.value, realized = pos.value.fill(signed, fill)
        pos.updated_ms = now
        self.state.wallet += realized - fee
        return self._book(symbol, side, qty, fill, fee, realized, cid, reduce_only, now)

    def _book(self, symbol: str, side: str, qty: Decimal, price: Decimal, fee: Decimal, realized: Decimal,
              cid: str, reduce_only: bool, now: int) -> dict[str, Any]:
        """Store a filled market order, its trade and its income rows; return the order."""
        market_id = self.perpetuals[symbol].market_id
        order_id, trade_id = next(self._ids), next(self._ids)
        self.state.trades.append({
            "buyer": side == "BUY", "commission": decimal_text(fee), "commissionAsset": "USDT", "id": trade_id,
            "maker": False, "orderId": order_id, "price": decimal_text(price), "qty": decimal_text(qty),
            "quoteQty": decimal_text(qty * price), "realizedPnl": decimal_text(realized), "side": side,
            "positionSide": "BOTH", "symbol": market_id, "time": now})
        if realized:
            self._add_income(symbol, "REALIZED_PNL", realized, now, trade=trade_id)
        if fee:
            self._add_income(symbol, "COMMISSION", -fee, now, trade=trade_id)
        order = {
            "orderId": order_id, "symbol": market_id, "status": "FILLED", "clientOrderId": cid, "price": "0",
            "avgPrice": decimal_text(price), "origQty": decimal_text(qty), "executedQty": decimal_text(qty),
            "cumQty": decimal_text(qty), "cumQuote": decimal_text(qty * price), "timeInForce": "GTC",
            "type": "MARKET", "origType": "MARKET", "reduceOnly": reduce_only, "closePosition": False,
            "side": side, "positionSide": "BOTH", "stopPrice": "0", "workingType": "CONTRACT_PRICE",
            "priceProtect": False, "time": now, "updateTime": now, "priceMatch": "NONE",
            "selfTradePreventionMode": "NONE", "goodTillDate": 0}
        self.state.orders[order_id] = order
        return order

    def _order(self, params: Mapping[str, str]) -> dict[str, Any]:
        self._perp(params)
        if params.get("orderId"):
            found = self.state.orders.get(int(params["orderId"]))
        else:
            cid = params.get("origClientOrderId")
            found = next((o for o in self.state.orders.values() if o["clientOrderId"] == cid), None)
        if found is None:
            raise RejectedRequest(-2013, "Order does not exist.")
        return found

    def _cancel_order(self, params: Mapping[str, str]) -> dict[str, Any]:
        self._order(params)
        raise RejectedRequest(-2011, "Unknown order sent.")  # market orders are filled: nothing to cancel

    # -- reads ----------------------------------------------------------------------------

    def _position_row(self, symbol: str, pos: _Position) -> dict[str, Any]:
        perp, value = self.perpetuals[symbol], pos.value
        mark = self._mark(perp)
        unrealized = value.unrealized(mark)
        liq = value.liquidation_price(tiers_for(symbol))
        mmr, cum = tiers_for(symbol).tier(float(abs(pos.qty) * mark))
        return {
            "symbol": perp.market_id, "positionSide": "BOTH", "positionAmt": decimal_text(pos.qty),
            "entryPrice": decimal_text(value.entry), "breakEvenPrice": decimal_text(value.entry),
            "markPrice": decimal_text(mark), "unRealizedProfit": decimal_text(unrealized),
            "unrealizedProfit": decimal_text(unrealized),
            "liquidationPrice": "0" if math.isnan(liq) else f"{liq:.8f}", "leverage": str(pos.leverage),
            "maxNotionalValue": decimal_text(_max_notional(symbol, pos.leverage)), "marginType": "isolated",
            "isolatedMargin": decimal_text(value.margin + unrealized), "isolatedWallet": decimal_text(value.margin),
            "isAutoAddMargin": "false", "notional": decimal_text(pos.qty * mark), "marginAsset": "USDT",
            "initialMargin": decimal_text(value.margin), "positionInitialMargin": decimal_text(value.margin),
            "maintMargin": f"{max(float(abs(pos.qty) * mark) * mmr - cum, 0.0):.8f}", "openOrderInitialMargin": "0",
            "adl": 0, "bidNotional": "0", "askNotional": "0", "updateTime": pos.updated_ms,
        }

    def _position_risk(self, params: Mapping[str, str]) -> list[dict[str, Any]]:
        wanted = self._perp(params)[0] if params.get("symbol") else None
        return [self._position_row(s, p) for s, p in self.state.positions.items()
                if (wanted is None or s == wanted) and (p.qty != 0 or wanted is not None)]

    def _totals(self) -> dict[str, str]:
        unrealized = sum((p.value.unrealized(self._mark(self.perpetuals[s])) for s, p in self.state.positions.items()),
                         ZERO)
        margin = sum((p.value.margin for p in self.state.positions.values()), ZERO)
        wallet = self.state.wallet
        return {"walletBalance": decimal_text(wallet), "unrealizedProfit": decimal_text(unrealized),
                "marginBalance": decimal_text(wallet + unrealized), "initialMargin": decimal_text(margin),
                "positionInitialMargin": decimal_text(margin), "openOrderInitialMargin": "0",
                "maintMargin": "0", "crossWalletBalance": decimal_text(wallet - margin), "crossUnPnl": "0",
                "availableBalance": decimal_text(wallet - margin), "maxWithdrawAmount": decimal_text(wallet - margin)}

    def _account(self, params: Mapping[str, str]) -> dict[str, Any]:
        t = self._totals()
        rows = [self._position_row(s, p) for s, p in self.state.positions.items() if p.qty != 0]
        return {
            "totalInitialMargin": t["initialMargin"], "totalMaintMargin": t["maintMargin"],
            "totalWalletBalance": t["walletBalance"], "totalUnrealizedProfit": t["unrealizedProfit"],
            "totalMarginBalance": t["marginBalance"], "totalPositionInitialMargin": t["positionInitialMargin"],
            "totalOpenOrderInitialMargin": "0", "totalCrossWalletBalance": t["crossWalletBalance"],
            "totalCrossUnPnl": "0", "availableBalance": t["availableBalance"],
            "maxWithdrawAmount": t["maxWithdrawAmount"], "canTrade": True, "canDeposit": False,
            "canWithdraw": False, "multiAssetsMargin": False, "feeTier": 0, "updateTime": self.clock.now_ms(),
            "assets": [{"asset": "USDT", **t, "marginAvailable": True, "updateTime": self.clock.now_ms()}],
            "positions": rows,
        }

    def _balance(self, params: Mapping[str, str]) -> list[dict[str, Any]]:
        t = self._totals()
        return [{"accountAlias": "sim", "asset": "USDT", "balance": t["walletBalance"],
                 "crossWalletBalance": t["crossWalletBalance"], "crossUnPnl": "0",
                 "availableBalance": t["availableBalance"], "maxWithdrawAmount": t["maxWithdrawAmount"],
                 "marginAvailable": True, "updateTime": self.clock.now_ms()}]

    def _symbol_config(self, params: Mapping[str, str]) -> list[dict[str, Any]]:
        perps = [self._perp(params)[1]] if params.get("symbol") else list(self.perpetuals.values())
        return [{"symbol": p.market_id, "marginType": "ISOLATED", "isAutoAddMargin": "false",
                 "leverage": self._position(p.symbol).leverage,
                 "maxNotionalValue": decimal_text(_max_notional(p.symbol, self._position(p.symbol).leverage))}
                for p in perps]

    def _brackets(self, params: Mapping[str, str]) -> list[dict[str, Any]]:
        perps = [self._perp(params)[1]] if params.get("symbol") else list(self.perpetuals.values())
        out = []
        for perp in perps:
            tiers = tiers_for(perp.symbol)
            caps = list(tiers.floors[1:]) + [float(BINANCE_BRACKETS_CAP)]
            out.append({"symbol": perp.market_id, "brackets": [
                {"bracket": i + 1, "initialLeverage": int(tiers.max_leverage(floor)), "notionalCap": int(cap),
                 "notionalFloor": int(floor), "maintMarginRatio": rate, "cum": amount}
                for i, (floor, cap, rate, amount) in enumerate(zip(tiers.floors, caps, tiers.rates, tiers.amounts,
                                                                    strict=True))]})
        return out

    @staticmethod
    def _window(rows: list[dict[str, Any]], params: Mapping[str, str], key: str = "time") -> list[dict[str, Any]]:
        start, end = params.get("startTime"), params.get("endTime")
        rows = [r for r in rows if (start is None or r[key] >= int(start)) and (end is None or r[key] <= int(end))]
        limit = max(1, min(int(params.get("limit") or 500), 1000))
        return rows[:limit] if start is not None else rows[-limit:]

    def _user_trades(self, params: Mapping[str, str]) -> list[dict[str, Any]]:
        _, perp = self._perp(params)
        return self._window([t for t in self.state.trades if t["symbol"] == perp.market_id], params)

    def _income(self, params: Mapping[str, str]) -> list[dict[str, Any]]:
        market_id = self._perp(params)[1].market_id if params.get("symbol") else None
        kind = params.get("incomeType")
        rows = [r for r in self.state.income
                if (market_id is None or r["symbol"] == market_id) and (kind is None or r["incomeType"] == kind)]
        return self._window(rows, params)


BINANCE_BRACKETS_CAP = 10_000_000_000  # the notional cap of the last tier (Binance lists a large number)


def _max_notional(symbol: str, leverage: int) -> float:
    """Return the largest notional the tiers allow at `leverage`."""
    tiers = tiers_for(symbol)
    allowed = [floor for floor in tiers.floors[1:] if tiers.max_leverage(floor) < leverage]
    return float(allowed[0]) if allowed else float(BINANCE_BRACKETS_CAP)
