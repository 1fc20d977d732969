"""Stateless rules: the intent against the market and the account snapshot.

Each function returns None when the rule passes, else a denying RiskDecision. Limits are
inclusive: a value equal to its limit passes. Decimal arithmetic throughout (money).
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal

from quantdesk.core.costs import MarketRules
from quantdesk.core.margin import MarginTiers, liquidation_price, tiers_for
from quantdesk.core.money import to_decimal
from quantdesk.risk.config import RiskLimits
from quantdesk.risk.decision import DenialCode, RiskDecision

__all__ = ["DecimalRules", "check_exposure", "check_leverage", "check_market", "check_order_size", "check_price_band"]

ZERO = Decimal(0)
_BPS = Decimal(10_000)


def _deny(code: DenialCode, detail: str) -> RiskDecision:
    return RiskDecision(approved=False, code=code, detail=detail)


class DecimalRules:
    """MarketRules converted once to Decimal (None where the market has no constraint)."""

    __slots__ = ("lot_step", "max_qty", "min_notional", "min_qty", "tick_size")

    def __init__(self, rules: MarketRules) -> None:
        def conv(value: float) -> Decimal | None:
            return to_decimal(value) if value > 0 else None

        self.lot_step = conv(rules.lot_step)
        self.tick_size = conv(rules.tick_size)
        self.min_qty = conv(rules.min_qty)
        self.max_qty = conv(rules.max_qty)
        self.min_notional = conv(rules.min_notional)


def check_market(
    rules: DecimalRules, qty: Decimal, price: Decimal | None, notional: Decimal | None
) -> RiskDecision | None:
    """Check tick, lot step, min/max quantity and min notional (`price` is None for market orders)."""
    if rules.tick_size is not None and price is not None and price % rules.tick_size != ZERO:
        return _deny(DenialCode.PRICE_NOT_ON_TICK, f"price {price} is not a multiple of the tick {rules.tick_size}")
    if rules.lot_step is not None and qty % rules.lot_step != ZERO:
        return _deny(DenialCode.QTY_NOT_ON_LOT_STEP, f"qty {qty} is not a multiple of the lot step {rules.lot_step}")
    if rules.min_qty is not None and qty < rules.min_qty:
        return _deny(DenialCode.QTY_BELOW_MIN, f"qty {qty} is below the market minimum {rules.min_qty}")
    if rules.max_qty is not None and qty > rules.max_qty:
        return _deny(DenialCode.QTY_ABOVE_MAX, f"qty {qty} is above the market maximum {rules.max_qty}")
    if rules.min_notional is not None:
        if notional is None:
            return _deny(DenialCode.NO_MARKET_PRICE, "no price to value the order against the min notional")
        if notional < rules.min_notional:
            return _deny(
                DenialCode.NOTIONAL_BELOW_MIN, f"notional {notional} is below the market minimum {rules.min_notional}"
            )
    return None


def check_price_band(limits: RiskLimits, price: Decimal | None, last: Decimal | None) -> RiskDecision | None:
    """Deny a limit price more than `price_band_bps` away from the last trade price (fat finger)."""
    band = limits.price_band_bps
    if band is None or price is None:
        return None
    if last is None or last <= ZERO:
        return _deny(DenialCode.NO_MARKET_PRICE, "no last trade price to check the price band against")
    if abs(price - last) * _BPS > band * last:
        away = abs(price - last) * _BPS / last
        return _deny(
            DenialCode.PRICE_OUTSIDE_BAND,
            f"limit price {price} is {away:.1f} bps from the last trade {last}; band is {band} bps",
        )
    return None


def check_order_size(limits: RiskLimits, qty: Decimal, notional: Decimal | None,
                     equity: Decimal | None = None, *, shrinks: bool = False) -> RiskDecision | None:
    """Check max quantity and max notional per order (a fixed amount, and a share of equity when known).

    The share of equity caps only orders that add risk: closing a position larger than 10 % of
    the equity must stay possible in one order (a deleveraging account shrinks its equity).
    """
    if limits.max_qty_per_order is not None and qty > limits.max_qty_per_order:
        return _deny(
            DenialCode.QTY_EXCEEDS_MAX_PER_ORDER, f"qty {qty} exceeds the max per order {limits.max_qty_per_order}"
        )
    if limits.max_notional_per_order is not None:
        if notional is None:
            return _deny(DenialCode.NO_MARKET_PRICE, "no price to value the order against max_notional_per_order")
        if notional > limits.max_notional_per_order:
            return _deny(
                DenialCode.NOTIONAL_EXCEEDS_MAX_PER_ORDER,
                f"notional {notional} exceeds the max per order {limits.max_notional_per_order} "
                "(max_notional_per_order)",
            )
    pct = limits.max_order_equity_pct
    if pct is not None and equity is not None and equity > ZERO and not shrinks:
        if notional is None:
            return _deny(DenialCode.NO_MARKET_PRICE, "no price to value the order against max_order_equity_pct")
        if notional * 100 > equity * pct:
            return _deny(
                DenialCode.NOTIONAL_EXCEEDS_MAX_PER_ORDER,
                f"notional {notional} is above max_order_equity_pct {pct} % of the equity {equity}",
            )
    return None


def check_exposure(
    limits: RiskLimits,
    symbol: str,
    position: Decimal,
    post: Decimal,
    mark: Decimal | None,
    positions: Mapping[str, Decimal],
    mark_prices: Mapping[str, Decimal],
    last_prices: Mapping[str, Decimal],
) -> RiskDecision | None:
    """Check post-trade position (qty, notional) and gross exposure; an order that shrinks passes."""
    # only the part of an order that adds exposure is limited: shrinking always passes, but a
    # flip past zero opens a new position on the other side, which must fit the limit
    flips = post * position < ZERO
    if abs(post) <= abs(position) and not flips:
        return None
    if limits.max_position_qty is not None and abs(post) > limits.max_position_qty:
        return _deny(
            DenialCode.POSITION_EXCEEDS_MAX,
            f"{symbol} position would be {post}, above max_position_qty {limits.max_position_qty}",
        )
    if limits.max_position_notional is not None:
        if mark is None:
            return _deny(DenialCode.NO_MARKET_PRICE, f"no mark price for {symbol} to value the position")
        if abs(post) * mark > limits.max_position_notional:
            return _deny(
                DenialCode.POSITION_EXCEEDS_MAX,
                f"{symbol} position would be worth {abs(post) * mark}, above max_position_notional "
                f"{limits.max_position_notional}",
            )
    if limits.max_gross_exposure is not None:
        if mark is None:
            return _deny(DenialCode.NO_MARKET_PRICE, f"no mark price for {symbol} to value the exposure")
        gross_pre = ZERO
        for other, qty in positions.items():
            if not qty or other == symbol:
                continue
            other_mark = mark_prices.get(other) or last_prices.get(other)
            if other_mark is None:
                return _deny(DenialCode.NO_MARKET_PRICE, f"no mark price for {other} to value the gross exposure")
            gross_pre += abs(qty) * other_mark
        gross_post = gross_pre + abs(post) * mark
        if gross_post > limits.max_gross_exposure and abs(post) > abs(position):
            return _deny(
                DenialCode.GROSS_EXPOSURE_EXCEEDS_MAX,
                f"gross exposure would be {gross_post}, above max_gross_exposure {limits.max_gross_exposure}",
            )
    return None


def check_leverage(
    limits: RiskLimits,
    symbol: str,
    leverage: Decimal,
    position: Decimal,
    post: Decimal,
    entry: Decimal | None,
    exec_price: Decimal | None,
    mark: Decimal | None,
    tiers: MarginTiers | None,
) -> RiskDecision | None:
    """Futures: the leverage setting under `max_leverage` and the exchange tier's cap, and the
    post-trade liquidation price at least `min_liquidation_distance_pct` away from the mark.

    Only orders that add exposure are checked (closing risk always passes). The position is
    isolated with margin `|post| * entry / leverage`; an increase averages the entry price.
    """
    flips = post * position < ZERO
    if abs(post) <= abs(position) and not flips:
        return None
    if limits.max_leverage is not None and leverage > limits.max_leverage:
        return _deny(DenialCode.LEVERAGE_EXCEEDS_MAX,
                     f"{symbol} leverage {leverage}x is above max_leverage {limits.max_leverage}x; lower the "
                     "account's leverage for the symbol")
    tiers = tiers or tiers_for(symbol)
    price = exec_price or mark
    if price is None:
        return _deny(DenialCode.NO_MARKET_PRICE, f"no price for {symbol} to value the futures position")
    if flips or position == ZERO or entry is None:
        new_entry = price
    else:
        new_entry = (abs(position) * entry + (abs(post) - abs(position)) * price) / abs(post)
    notional = abs(post) * new_entry
    cap = Decimal(str(tiers.max_leverage(float(notional))))
    if leverage > cap:
        return _deny(DenialCode.LEVERAGE_EXCEEDS_MAX,
                     f"{symbol} leverage {leverage}x is above the exchange's {float(cap):.4g}x cap for a {notional:.2f} "
                     "notional (its maintenance tier); lower the leverage or the size")
    if limits.min_liquidation_distance_pct is None:
        return None
    if mark is None:
        return _deny(DenialCode.NO_MARKET_PRICE, f"no mark price for {symbol} to measure the liquidation distance")
    margin = notional / leverage
    liq = Decimal(str(liquidation_price(float(post), float(new_entry), float(margin), tiers)))
    # signed: a liquidation price already on the wrong side of the mark is a negative distance
    distance = (mark - liq if post > ZERO else liq - mark) / mark * 100
    if distance < limits.min_liquidation_distance_pct:
        return _deny(DenialCode.LIQUIDATION_TOO_CLOSE,
                     f"{symbol} would be liquidated at {liq:.6g}, {distance:.2f}% from the mark {mark}; "
                     f"min_liquidation_distance_pct is {limits.min_liquidation_distance_pct}: lower the leverage or size")
    return None
