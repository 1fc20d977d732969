"""The jitted bar loop of a USDT-M perpetual backtest (one contract, isolated margin).

Each bar, in this order (the order the exchange's clock gives them):

1. **fill** at the bar's open: the target decided at the previous close (when it changed, or
   every bar with `rebalance`) becomes a position of `target * equity * leverage / open`
   contracts, rounded toward zero to the lot step; slippage moves the fill against the
   trader, the fee is charged on the filled notional. Opening adds `notional / leverage` of
   isolated margin; reducing realises PnL and releases margin pro rata; a flip closes first.
2. **funding** (bars holding a settlement time; exchanges stamp it a few ms after the
   boundary, so after the open's fill): the position pays `qty * mark * rate` (longs pay a
   positive rate), taken from or added to the isolated margin, which moves the liquidation
   price.
3. **liquidation**: the mark price's bar range reaching the liquidation price closes the
   position there (at the mark open when the bar gapped through it) and costs the whole
   isolated margin (`quantdesk.core.margin`). A liquidated position stays flat until the
   strategy's target next changes.
4. **equity** at the close: wallet plus unrealised PnL at the trade close.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

__all__ = ["futures_kernel"]


@njit(cache=True)
def _tier(notional: float, floors: np.ndarray, rates: np.ndarray, amounts: np.ndarray) -> tuple[float, float]:
    i = np.searchsorted(floors, abs(notional), side="right") - 1
    if i < 0:
        i = 0
    return rates[i], amounts[i]


@njit(cache=True)
def _liq_price(q: float, e: float, m: float, floors: np.ndarray, rates: np.ndarray, amounts: np.ndarray) -> float:
    side = 1.0 if q > 0 else -1.0
    size = abs(q)
    mmr, cum = _tier(size * e, floors, rates, amounts)
    price = (m + cum - side * size * e) / (size * mmr - side * size)
    return price if price > 0.0 else 0.0


@njit(cache=True)
def futures_kernel(open_: np.ndarray, close: np.ndarray, mark_open: np.ndarray, mark_high: np.ndarray,
                   mark_low: np.ndarray, targets: np.ndarray, funding_rate: np.ndarray, leverage: float,
                   fee_rate: float, slippage_rate: float, initial_cash: float, lot_step: float,
                   min_qty: float, floors: np.ndarray, rates: np.ndarray, amounts: np.ndarray,
                   rebalance: bool):  # noqa: ANN201 - a tuple of arrays, named in futures_backtest
    n = open_.shape[0]
    equity = np.empty(n)
    wallet = np.empty(n)
    qty = np.empty(n)
    margin = np.empty(n)
    liq = np.full(n, np.nan)
    funding = np.zeros(n)
    cap = 2 * n + 1
    o_bar = np.empty(cap, dtype=np.int64)
    o_qty = np.empty(cap)
    o_price = np.empty(cap)
    o_fee = np.empty(cap)
    o_realised = np.empty(cap)
    o_kind = np.empty(cap, dtype=np.int64)  # 0 order, 1 liquidation
    k = 0
    w = initial_cash
    q = 0.0
    e = 0.0
    m = 0.0
    for i in range(n):
        # 1. fill at the open
        if i >= 1:
            t = targets[i - 1]
            if rebalance or i == 1 or t != targets[i - 2]:
                p = open_[i]
                eq = w + q * (p - e)
                if eq > 0.0:
                    desired = t * eq * leverage / p
                    if lot_step > 0.0:
                        desired = math.trunc(desired / lot_step) * lot_step
                    dq = desired - q
                    if abs(dq) > 1e-12 and abs(dq) >= min_qty:
                        fill = p * (1.0 + slippage_rate) if dq > 0 else p * (1.0 - slippage_rate)
                        fee = abs(dq) * fill * fee_rate
                        w -= fee
                        realised = 0.0
                        open_qty = dq
                        if q != 0.0 and (dq > 0) != (q > 0):
                            closing = min(abs(dq), abs(q))
                            side = 1.0 if q > 0 else -1.0
                            realised = side * closing * (fill - e)
                            w += realised
                            m -= m * closing / abs(q)
                            q -= side * closing
                            if abs(q) < 1e-12:
                                q = 0.0
                                e = 0.0
                                m = 0.0
                            open_qty = dq + side * closing
                        if abs(open_qty) > 1e-12:
                            new_q = q + open_qty
                            e = (q * e + open_qty * fill) / new_q
                            m += abs(open_qty) * fill / leverage
                            q = new_q
                        o_bar[k] = i
                        o_qty[k] = dq
                        o_price[k] = fill
                        o_fee[k] = fee
                        o_realised[k] = realised
                        o_kind[k] = 0
                        k += 1
        # 2. funding
        r = funding_rate[i]
        if q != 0.0 and not math.isnan(r):
            cash = -q * mark_open[i] * r
            w += cash
            m += cash
            funding[i] = cash
        # 3. liquidation
        if q != 0.0:
            lp = _liq_price(q, e, m, floors, rates, amounts)
            hit = mark_low[i] <= lp if q > 0 else mark_high[i] >= lp
            if hit:
                px = lp
                if (q > 0 and mark_open[i] < lp) or (q < 0 and mark_open[i] > lp):
                    px = mark_open[i]
                realised = q * (px - e)
                o_bar[k] = i
                o_qty[k] = -q
                o_price[k] = px
                o_fee[k] = m + realised  # the clearance fee: what was left of the margin
                o_realised[k] = realised
                o_kind[k] = 1
                k += 1
                w -= m
                q = 0.0
                e = 0.0
                m = 0.0
            else:
                liq[i] = lp
        # 4. mark to the close
        equity[i] = w + q * (close[i] - e)
        wallet[i] = w
        qty[i] = q
        margin[i] = m
    return (equity, wallet, qty, margin, liq, funding,
            o_bar[:k], o_qty[:k], o_price[:k], o_fee[:k], o_realised[:k], o_kind[:k])
