"""The USDⓈ-M futures market data the simulated venue serves (what ccxt's `binanceusdm` reads).

A perpetual is given as its trade candles, optionally mark-price candles and funding
settlements (the lake's shapes). Served, at Binance's paths and in its shapes:
`fapi/v1/exchangeInfo` (one PERPETUAL contract per symbol, margin asset = quote),
`fapi/v1/klines`, `fapi/v1/markPriceKlines` (the trade candles where no mark is given),
`fapi/v1/fundingRate` and `fapi/v1/premiumIndex`, and the sentiment statistics of
`quantdesk.venue.sentiment` (taker buy volume in the klines, `futures/data/openInterestHist`,
`globalLongShortAccountRatio`, `takerlongshortRatio`). As with spot, nothing after the venue's
clock is visible.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import polars as pl

from quantdesk.core.clock import Clock
from quantdesk.core.errors import DataError
from quantdesk.core.timeframes import timeframe_ms
from quantdesk.venue.market import CandleBook, MarketSpec
from quantdesk.venue.orders import RejectedRequest
from quantdesk.venue.payloads import decimal_text, float_text
from quantdesk.venue.sentiment import SentimentBook, long_short_rows, open_interest_rows, taker_rows

__all__ = ["Perpetual", "UsdmMarketData"]

FUNDING_INTERVAL_MS = 8 * 3_600_000


@dataclass(frozen=True, slots=True, kw_only=True)
class Perpetual:
    """One USDT-margined perpetual: trade candles, mark candles and funding settlements."""

    symbol: str  # unified, "XRP/USDT:USDT"
    spec: MarketSpec
    trades: CandleBook
    mark: CandleBook
    funding_ts: np.ndarray  # int64 ms, ascending
    funding_rate: np.ndarray
    sentiment: SentimentBook  # derived from the trade candles (synthetic, see quantdesk.venue.sentiment)

    @property
    def market_id(self) -> str:
        return self.spec.market_id

    @classmethod
    def build(cls, symbol: str, candles: pl.DataFrame, mark: pl.DataFrame | None = None,
              funding: pl.DataFrame | None = None) -> Perpetual:
        if ":" not in symbol or "/" not in symbol:
            raise DataError(f"perpetual {symbol!r} is not in unified swap form: use BASE/QUOTE:SETTLE like XRP/USDT:USDT")
        trades = _book(symbol, candles)
        pair = symbol.split(":")[0]
        funding = funding if funding is not None else pl.DataFrame(schema={"ts": pl.Int64, "rate": pl.Float64})
        ts = funding["ts"]
        stamps = (ts.dt.epoch("ms") if isinstance(ts.dtype, pl.Datetime) else ts.cast(pl.Int64)).to_numpy()
        order = np.argsort(stamps, kind="stable")
        return cls(symbol=symbol, spec=MarketSpec.for_price(pair, float(trades.close[-1])), trades=trades,
                   sentiment=SentimentBook.derive(trades),
                   mark=_book(symbol, mark) if mark is not None and mark.height else trades,
                   funding_ts=stamps[order].astype(np.int64),
                   funding_rate=funding["rate"].to_numpy().astype(np.float64)[order])


def _book(symbol: str, frame: pl.DataFrame) -> CandleBook:
    if frame.height < 2:
        raise DataError(f"perpetual {symbol} needs at least 2 candles to serve")
    if not isinstance(frame["ts"].dtype, pl.Datetime):
        raise DataError(f"perpetual {symbol}: candles need a UTC datetime `ts` column (the lake's shape)")
    return CandleBook(frame, int(np.diff(frame["ts"].dt.epoch("ms").to_numpy()).min()))


class UsdmMarketData:
    """Routes of the USDⓈ-M public API over a set of perpetuals."""

    def __init__(self, perpetuals: Mapping[str, Perpetual], clock: Clock, wall_clock: Clock) -> None:
        self.perpetuals = dict(perpetuals)
        self.by_id = {p.market_id: p for p in self.perpetuals.values()}
        self.clock, self.wall_clock = clock, wall_clock

    def routes(self) -> dict[tuple[str, str], Callable[[Mapping[str, str]], Any]]:
        return {
            ("GET", "fapi/v1/exchangeInfo"): self._exchange_info,
            ("GET", "fapi/v1/time"): lambda p: {"serverTime": self.clock.now_ms()},  # the market's time
            ("GET", "fapi/v1/klines"): lambda p: self._klines(p, mark=False),
            ("GET", "fapi/v1/markPriceKlines"): lambda p: self._klines(p, mark=True),
            ("GET", "fapi/v1/fundingRate"): self._funding_rate,
            ("GET", "fapi/v1/premiumIndex"): self._premium_index,
            ("GET", "fapi/v1/ticker/24hr"): self._ticker,
            ("GET", "fapi/v1/ticker/price"): self._ticker,
            ("GET", "futures/data/openInterestHist"): self._open_interest_hist,
            ("GET", "futures/data/globalLongShortAccountRatio"): self._long_short_ratio,
            ("GET", "futures/data/takerlongshortRatio"): self._taker_ratio,
        }

    def _open_interest_hist(self, params: Mapping[str, str]) -> list[dict[str, Any]]:
        perp = self._perp(params)
        return open_interest_rows(perp.sentiment, perp.market_id, perp.sentiment.snapshots(params, self.clock.now_ms()))

    def _long_short_ratio(self, params: Mapping[str, str]) -> list[dict[str, Any]]:
        perp = self._perp(params)
        return long_short_rows(perp.sentiment, perp.market_id, perp.sentiment.snapshots(params, self.clock.now_ms()))

    def _taker_ratio(self, params: Mapping[str, str]) -> list[dict[str, Any]]:
        perp, now = self._perp(params), self.clock.now_ms()
        idx = perp.sentiment.snapshots(params, now)
        return taker_rows(perp.sentiment, perp.trades.volume, idx, timeframe_ms(params["period"]), now)

    def _ticker(self, params: Mapping[str, str]) -> Any:
        # the last trade price is the open of the bar holding the clock (as spot's ticker)
        now = self.clock.now_ms()
        perps = [self._perp(params)] if params.get("symbol") else list(self.perpetuals.values())
        out = []
        for perp in perps:
            price = perp.trades.price(now)
            text = float_text(price) if price is not None else "0"
            out.append({"symbol": perp.market_id, "price": text, "lastPrice": text, "openPrice": text,
                        "highPrice": text, "lowPrice": text, "volume": "0", "quoteVolume": "0",
                        "priceChange": "0", "priceChangePercent": "0", "weightedAvgPrice": text,
                        "openTime": now - 86_400_000, "closeTime": now, "count": 0, "time": now})
        return out[0] if params.get("symbol") else out

    def _perp(self, params: Mapping[str, str]) -> Perpetual:
        market_id = params.get("symbol")
        if market_id is None:
            raise RejectedRequest(-1102, "Mandatory parameter 'symbol' was not sent, was empty/null, or malformed.")
        perp = self.by_id.get(market_id)
        if perp is None:
            raise RejectedRequest(-1121, "Invalid symbol.")
        return perp

    @staticmethod
    def _int(params: Mapping[str, str], name: str) -> int | None:
        value = params.get(name)
        return int(value) if value is not None and value.lstrip("-").isdigit() else None

    def _exchange_info(self, params: Mapping[str, str]) -> dict[str, Any]:
        return {"timezone": "UTC", "serverTime": self.clock.now_ms(), "futuresType": "U_MARGINED",
                "rateLimits": [{"rateLimitType": "REQUEST_WEIGHT", "interval": "MINUTE", "intervalNum": 1,
                                "limit": 2400}],
                "exchangeFilters": [], "assets": [{"asset": "USDT", "marginAvailable": True, "autoAssetExchange": "0"}],
                "symbols": [_contract(p) for p in self.perpetuals.values()]}

    def _klines(self, params: Mapping[str, str], *, mark: bool) -> list[list[Any]]:
        perp = self._perp(params)
        try:
            interval_ms = timeframe_ms(params.get("interval", ""))
        except Exception:
            raise RejectedRequest(-1120, "Invalid interval.") from None
        limit = max(1, min(self._int(params, "limit") or 500, 1500))
        book = perp.mark if mark else perp.trades
        try:
            rows = book.klines(self.clock.now_ms(), interval_ms, self._int(params, "startTime"),
                               self._int(params, "endTime"), limit)
        except DataError:
            raise RejectedRequest(-1120, "Invalid interval.") from None
        now = self.clock.now_ms()
        out = []
        for ts, o, h, lo, c, v in rows:
            # fields 9-10: taker buy base and quote volume (0 for mark klines, as Binance sends)
            buy = 0.0 if mark else perp.sentiment.taker_buy_between(ts, ts + interval_ms, now)
            vol, quote = ("0", "0") if mark else (float_text(v), float_text(v * c))
            out.append([ts, float_text(o), float_text(h), float_text(lo), float_text(c), vol, ts + interval_ms - 1,
                        quote, 0, float_text(buy), float_text(buy * c), "0"])
        return out

    def _mark_at(self, perp: Perpetual, ts: int) -> str:
        book = perp.mark
        i = int(np.searchsorted(book.ts, ts, side="right")) - 1
        return float_text(float(book.open[i])) if i >= 0 else ""

    def _funding_rate(self, params: Mapping[str, str]) -> list[dict[str, Any]]:
        perp = self._perp(params)
        now = self.clock.now_ms()
        limit = max(1, min(self._int(params, "limit") or 100, 1000))
        start, end = self._int(params, "startTime"), self._int(params, "endTime")
        visible = perp.funding_ts <= (min(now, end) if end is not None else now)
        idx = np.flatnonzero(visible & (perp.funding_ts >= start if start is not None else visible))
        idx = idx[:limit] if start is not None else idx[-limit:]
        return [{"symbol": perp.market_id, "fundingTime": int(perp.funding_ts[i]),
                 "fundingRate": f"{perp.funding_rate[i]:.8f}", "markPrice": self._mark_at(perp, int(perp.funding_ts[i]))}
                for i in idx]

    def _premium_index(self, params: Mapping[str, str]) -> Any:
        now = self.clock.now_ms()
        perps = [self._perp(params)] if params.get("symbol") else list(self.perpetuals.values())
        out = []
        for perp in perps:
            past = np.flatnonzero(perp.funding_ts <= now)
            rate = f"{perp.funding_rate[past[-1]]:.8f}" if len(past) else "0.00000000"
            mark = self._mark_at(perp, now)
            out.append({"symbol": perp.market_id, "markPrice": mark, "indexPrice": mark,
                        "estimatedSettlePrice": mark, "lastFundingRate": rate, "interestRate": "0.00010000",
                        "nextFundingTime": (now // FUNDING_INTERVAL_MS + 1) * FUNDING_INTERVAL_MS, "time": now})
        return out[0] if params.get("symbol") else out


def _contract(perp: Perpetual) -> dict[str, Any]:
    spec = perp.spec
    return {
        "symbol": spec.market_id, "pair": spec.market_id, "contractType": "PERPETUAL",
        "deliveryDate": 4133404800000, "onboardDate": int(perp.trades.ts[0]), "status": "TRADING",
        "maintMarginPercent": "2.5000", "requiredMarginPercent": "5.0000", "baseAsset": spec.base,
        "quoteAsset": spec.quote, "marginAsset": spec.quote, "pricePrecision": max(0, -spec.tick_size.as_tuple().exponent),
        "quantityPrecision": max(0, -spec.step_size.as_tuple().exponent), "baseAssetPrecision": 8,
        "quotePrecision": 8, "underlyingType": "COIN", "underlyingSubType": [], "settlePlan": 0,
        "triggerProtect": "0.0500", "liquidationFee": "0.012500", "marketTakeBound": "0.05",
        "maxMoveOrderLimit": 10000,
        "filters": [
            {"filterType": "PRICE_FILTER", "minPrice": decimal_text(spec.tick_size), "maxPrice": decimal_text(spec.max_price),
             "tickSize": decimal_text(spec.tick_size)},
            {"filterType": "LOT_SIZE", "minQty": decimal_text(spec.min_qty), "maxQty": decimal_text(spec.max_qty),
             "stepSize": decimal_text(spec.step_size)},
            {"filterType": "MARKET_LOT_SIZE", "minQty": decimal_text(spec.min_qty), "maxQty": decimal_text(spec.max_qty),
             "stepSize": decimal_text(spec.step_size)},
            {"filterType": "MAX_NUM_ORDERS", "limit": 200},
            {"filterType": "MIN_NOTIONAL", "notional": decimal_text(spec.min_notional)},
            {"filterType": "PERCENT_PRICE", "multiplierUp": "1.0500", "multiplierDown": "0.9500",
             "multiplierDecimal": "4"},
        ],
        "orderTypes": ["LIMIT", "MARKET"], "timeInForce": ["GTC", "IOC", "FOK", "GTX"],
    }
