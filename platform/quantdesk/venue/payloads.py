"""Binance spot JSON shapes for the simulated venue's answers."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import numpy as np

from quantdesk.venue.market import MarketSpec
from quantdesk.venue.orders import SimOrder, SimTrade

__all__ = ["decimal_text", "float_text", "market_info", "order_payload", "trade_payload"]


def decimal_text(value: Decimal) -> str:
    """Format an amount like Binance does: fixed point, 8 decimals."""
    return f"{value:.8f}"


def float_text(value: float) -> str:
    """Format a candle float positionally with the shortest text that round-trips."""
    text = repr(value)  # shortest round-trip text; positional unless tiny or huge
    if "e" in text or "n" in text:
        return np.format_float_positional(value, unique=True, trim="-")
    return text.removesuffix(".0")


def market_info(spec: MarketSpec) -> dict[str, Any]:
    """Return one `exchangeInfo.symbols[]` entry."""
    return {
        "symbol": spec.market_id,
        "status": "TRADING",
        "baseAsset": spec.base,
        "baseAssetPrecision": 8,
        "quoteAsset": spec.quote,
        "quotePrecision": 8,
        "quoteAssetPrecision": 8,
        "baseCommissionPrecision": 8,
        "quoteCommissionPrecision": 8,
        "orderTypes": ["LIMIT", "MARKET"],
        "icebergAllowed": False,
        "ocoAllowed": False,
        "otoAllowed": False,
        "quoteOrderQtyMarketAllowed": True,
        "allowTrailingStop": False,
        "cancelReplaceAllowed": False,
        "isSpotTradingAllowed": True,
        "isMarginTradingAllowed": False,
        "filters": [
            {
                "filterType": "PRICE_FILTER",
                "minPrice": decimal_text(spec.min_price),
                "maxPrice": decimal_text(spec.max_price),
                "tickSize": decimal_text(spec.tick_size),
            },
            {
                "filterType": "LOT_SIZE",
                "minQty": decimal_text(spec.min_qty),
                "maxQty": decimal_text(spec.max_qty),
                "stepSize": decimal_text(spec.step_size),
            },
            {
                "filterType": "NOTIONAL",
                "minNotional": decimal_text(spec.min_notional),
                "applyMinToMarket": True,
                "maxNotional": "9000000.00000000",
                "applyMaxToMarket": False,
                "avgPriceMins": 5,
            },
        ],
        "permissions": [],
        "permissionSets": [["SPOT"]],
        "defaultSelfTradePreventionMode": "NONE",
        "allowedSelfTradePreventionModes": ["NONE"],
    }


def order_payload(
    order: SimOrder, market_id: str, *, fills: list[SimTrade] | None = None
) -> dict[str, Any]:
    """Return an order as `GET /api/v3/order` shows it; with `fills`, the FULL create answer."""
    payload: dict[str, Any] = {
        "symbol": market_id,
        "orderId": order.order_id,
        "orderListId": -1,
        "clientOrderId": order.client_order_id,
        "price": decimal_text(order.price),
        "origQty": decimal_text(order.orig_qty),
        "executedQty": decimal_text(order.executed_qty),
        "cummulativeQuoteQty": decimal_text(order.cumulative_quote_qty),
        "status": order.status.value,
        "timeInForce": order.time_in_force or "GTC",
        "type": order.type,
        "side": order.side,
        "stopPrice": "0.00000000",
        "icebergQty": "0.00000000",
        "time": order.time_ms,
        "updateTime": order.update_time_ms,
        "isWorking": True,
        "workingTime": order.time_ms,
        "origQuoteOrderQty": "0.00000000",
        "selfTradePreventionMode": "NONE",
    }
    if fills is not None:
        payload["transactTime"] = order.time_ms
        payload["fills"] = [
            {
                "price": decimal_text(t.price),
                "qty": decimal_text(t.qty),
                "commission": decimal_text(t.commission),
                "commissionAsset": t.commission_asset,
                "tradeId": t.trade_id,
            }
            for t in fills
        ]
    return payload


def trade_payload(trade: SimTrade, market_id: str) -> dict[str, Any]:
    """Return one `GET /api/v3/myTrades` entry."""
    return {
        "symbol": market_id,
        "id": trade.trade_id,
        "orderId": trade.order_id,
        "orderListId": -1,
        "price": decimal_text(trade.price),
        "qty": decimal_text(trade.qty),
        "quoteQty": decimal_text(trade.quote_qty),
        "commission": decimal_text(trade.commission),
        "commissionAsset": trade.commission_asset,
        "time": trade.time_ms,
        "isBuyer": trade.side == "BUY",
        "isMaker": trade.is_maker,
        "isBestMatch": True,
    }
