"""The risk table: every rule, its boundary (at the limit passes, one epsilon past is denied),
combinations, per-symbol and per-deployment overrides, and trading states.

A case is plain data: a config (`[risk]` table), trading states per scope, prior actions,
and the final action with the decision code it must get. `run_case` in test_risk_table.py
plays it against a real RiskGate on a ManualClock.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

BTC, ETH = "BTC/USDT", "ETH/USDT"
BTC_RULES = {"tick_size": 0.01, "lot_step": 0.001, "min_qty": 0.001, "max_qty": 1000.0, "min_notional": 5.0}


@dataclass(frozen=True)
class Case:
    id: str
    expect: str
    config: dict[str, Any] = field(default_factory=dict)
    intent: dict[str, Any] = field(default_factory=dict)  # overrides of the base intent
    context: dict[str, Any] = field(default_factory=dict)  # overrides of the base context
    states: dict[str, str] = field(default_factory=dict)  # scope -> TradingState
    prior: tuple[tuple[Any, ...], ...] = ()  # ("order", overrides) ("fill", sym) ("cancel", sym) ("wait", ms) ("equity", v)
    action: str = "order"  # or "cancel"
    # False: the case's config removes every built-in limit it does not set itself (written as
    # "none", the only way to remove one), so each case tests one rule; True: a fresh install's
    builtins: bool = False


CASES: list[Case] = []


def add(id: str, expect: str, **kw: Any) -> None:
    CASES.append(Case(id=id, expect=expect, **kw))


def dflt(**limits: Any) -> dict[str, Any]:
    return {"default": limits}


OK = "APPROVED"

# -- intent sanity ----------------------------------------------------------------------
add("qty-zero", "INVALID_QTY", intent={"qty": "0"})
add("qty-negative", "INVALID_QTY", intent={"qty": "-1"})
add("qty-nan", "INVALID_QTY", intent={"qty": "NaN"})
add("limit-price-zero", "INVALID_PRICE", intent={"price": "0"})
add("limit-price-negative", "INVALID_PRICE", intent={"price": "-100"})
add("limit-price-missing", "INVALID_PRICE", intent={"price": None})
add("market-no-price-ok", OK, intent={"type": "market", "price": None})
add("base-limit-ok", OK)
add("base-sell-ok", OK, intent={"side": "sell"})

# -- market validity ----------------------------------------------------------------------
for side in ("buy", "sell"):
    for price, expect in (("100.01", OK), ("99.99", OK), ("100.005", "PRICE_NOT_ON_TICK"),
                          ("100.015", "PRICE_NOT_ON_TICK"), ("100.0000001", "PRICE_NOT_ON_TICK")):
        add(f"tick-{side}-{price}", expect, intent={"side": side, "price": price})
    for qty, expect in (("0.001", OK), ("1.001", OK), ("0.0015", "QTY_NOT_ON_LOT_STEP"),
                        ("1.0005", "QTY_NOT_ON_LOT_STEP"), ("2.0001", "QTY_NOT_ON_LOT_STEP")):
        add(f"lot-{side}-{qty}", expect, intent={"side": side, "qty": qty, "price": "10000"})
    for qty, expect in (("0.01", OK), ("0.009", "QTY_BELOW_MIN")):
        add(f"minqty-{side}-{qty}", expect, intent={"side": side, "qty": qty, "price": "10000"},
            context={"rules": {**BTC_RULES, "min_qty": 0.01}})
    for qty, expect in (("1000", OK), ("1000.001", "QTY_ABOVE_MAX")):
        add(f"maxqty-{side}-{qty}", expect, intent={"side": side, "qty": qty, "price": "0.01"},
            context={"rules": {**BTC_RULES, "min_notional": 0.0}})
    for qty, expect in (("0.05", OK), ("0.049", "NOTIONAL_BELOW_MIN"), ("0.051", OK)):
        add(f"minnotional-{side}-{qty}", expect, intent={"side": side, "qty": qty})
        add(f"minnotional-market-{side}-{qty}", expect, intent={"side": side, "qty": qty, "type": "market", "price": None})
add("minnotional-market-no-last-price", "NO_MARKET_PRICE", intent={"type": "market", "price": None},
    context={"last_prices": {}, "mark_prices": {}})
add("minnotional-market-mark-fallback", OK, intent={"type": "market", "price": None},
    context={"last_prices": {}, "mark_prices": {BTC: "100"}})
add("no-rules-any-qty-ok", OK, intent={"qty": "0.0000001", "price": "100.0000001"}, context={"rules": None})
add("market-order-price-ignored-for-tick", OK, intent={"type": "market", "price": "100.005"})

# -- price band ----------------------------------------------------------------------------
band = dflt(price_band_bps=100)
for side in ("buy", "sell"):
    for price, expect in (("101", OK), ("101.01", "PRICE_OUTSIDE_BAND"), ("99", OK),
                          ("98.99", "PRICE_OUTSIDE_BAND"), ("100", OK), ("150", "PRICE_OUTSIDE_BAND")):
        add(f"band-{side}-{price}", expect, config=band, intent={"side": side, "price": price})
add("band-market-order-ignored", OK, config=band, intent={"type": "market", "price": None})
add("band-no-last-price", "NO_MARKET_PRICE", config=band, context={"last_prices": {}, "mark_prices": {}})
add("band-mark-fallback-ok", OK, config=band, context={"last_prices": {}, "mark_prices": {BTC: "100"}})
add("band-mark-fallback-deny", "PRICE_OUTSIDE_BAND", config=band, intent={"price": "102"},
    context={"last_prices": {}, "mark_prices": {BTC: "100"}})
add("band-uses-last-not-mark", OK, config=band, intent={"price": "110"},
    context={"last_prices": {BTC: "110"}, "mark_prices": {BTC: "100"}})
wide_eth = {"default": {"price_band_bps": 100}, "symbols": {ETH: {"price_band_bps": 500}}}
add("band-symbol-override-wider-ok", OK, config=wide_eth, intent={"symbol": ETH, "price": "10.5"})
add("band-symbol-override-wider-deny", "PRICE_OUTSIDE_BAND", config=wide_eth, intent={"symbol": ETH, "price": "10.51"})
add("band-symbol-override-other-symbol", "PRICE_OUTSIDE_BAND", config=wide_eth, intent={"price": "102"})

# -- per-order size --------------------------------------------------------------------------
for side in ("buy", "sell"):
    for qty, expect in (("2", OK), ("2.001", "QTY_EXCEEDS_MAX_PER_ORDER"), ("1.999", OK)):
        add(f"maxqtyorder-{side}-{qty}", expect, config=dflt(max_qty_per_order=2), intent={"side": side, "qty": qty})
    for qty, expect in (("10", OK), ("10.001", "NOTIONAL_EXCEEDS_MAX_PER_ORDER"), ("9.999", OK)):
        add(f"maxnotional-{side}-{qty}", expect, config=dflt(max_notional_per_order=1000), intent={"side": side, "qty": qty})
        add(f"maxnotional-market-{side}-{qty}", expect, config=dflt(max_notional_per_order=1000),
            intent={"side": side, "qty": qty, "type": "market", "price": None})
add("maxnotional-limit-uses-limit-price", "NOTIONAL_EXCEEDS_MAX_PER_ORDER", config=dflt(max_notional_per_order=1000),
    intent={"qty": "10", "price": "100.01"})
add("maxnotional-market-no-price", "NO_MARKET_PRICE", config=dflt(max_notional_per_order=1000),
    intent={"type": "market", "price": None}, context={"last_prices": {}, "mark_prices": {}, "rules": None})
add("maxnotional-decimal-exact", OK, config=dflt(max_notional_per_order=0.3),
    intent={"qty": "0.003", "price": "100"}, context={"rules": None})
# merge order: default < symbols.SYM < deployments.NAME < deployments.NAME.symbols.SYM
layered = {
    "default": {"max_qty_per_order": 1},
    "symbols": {BTC: {"max_qty_per_order": 2}},
    "deployments": {"alpha": {"max_qty_per_order": 3, "symbols": {BTC: {"max_qty_per_order": 4}}},
                    "beta": {"max_notional_per_order": 1_000_000}},
}
for dep, sym, limit in (("alpha", BTC, 4), ("alpha", ETH, 3), ("beta", BTC, 2), ("beta", ETH, 1), ("gamma", BTC, 2), ("gamma", ETH, 1)):
    price = "100" if sym == BTC else "10"
    add(f"merge-{dep}-{sym}-at", OK, config=layered, intent={"deployment": dep, "symbol": sym, "qty": str(limit), "price": price})
    add(f"merge-{dep}-{sym}-over", "QTY_EXCEEDS_MAX_PER_ORDER", config=layered,
        intent={"deployment": dep, "symbol": sym, "qty": f"{limit}.001", "price": price})

# -- position ---------------------------------------------------------------------------------
posq = dflt(max_position_qty=5)
for pos, side, qty, expect in (
    ("4", "buy", "1", OK), ("4", "buy", "1.001", "POSITION_EXCEEDS_MAX"), ("-4", "sell", "1", OK),
    ("-4", "sell", "1.001", "POSITION_EXCEEDS_MAX"), ("10", "sell", "1", OK), ("-10", "buy", "1", OK),
    ("3", "sell", "8", OK), ("3", "sell", "8.001", "POSITION_EXCEEDS_MAX"), ("0", "buy", "5", OK),
    ("0", "sell", "5.001", "POSITION_EXCEEDS_MAX"), ("10", "buy", "0.05", "POSITION_EXCEEDS_MAX"),
    ("10", "sell", "15", OK), ("10", "sell", "15.001", "POSITION_EXCEEDS_MAX"),
):
    add(f"posqty-{pos}-{side}-{qty}", expect, config=posq, intent={"side": side, "qty": qty},
        context={"positions": {BTC: pos}})
posn = dflt(max_position_notional=500)
for pos, side, qty, mark, expect in (
    ("4", "buy", "1", "100", OK), ("4", "buy", "1.001", "100", "POSITION_EXCEEDS_MAX"),
    ("4", "buy", "1", "100.01", "POSITION_EXCEEDS_MAX"), ("-4", "sell", "1", "100", OK),
    ("6", "sell", "1", "100", OK), ("0", "buy", "2", "250", OK), ("0", "buy", "2", "250.01", "POSITION_EXCEEDS_MAX"),
):
    add(f"posnotional-{pos}-{side}-{qty}-{mark}", expect, config=posn, intent={"side": side, "qty": qty},
        context={"positions": {BTC: pos}, "mark_prices": {BTC: mark}})
add("posqty-symbol-override", "POSITION_EXCEEDS_MAX",
    config={"default": {"max_position_qty": 5}, "deployments": {"alpha": {"symbols": {BTC: {"max_position_qty": 0.5}}}}},
    intent={"qty": "0.501"})
add("posqty-symbol-override-other-deployment", OK,
    config={"default": {"max_position_qty": 5}, "deployments": {"alpha": {"symbols": {BTC: {"max_position_qty": 0.5}}}}},
    intent={"qty": "0.501", "deployment": "beta"})

# -- gross exposure ---------------------------------------------------------------------------
gross = dflt(max_gross_exposure=500)
book = {"positions": {BTC: "2", ETH: "-10"}, "mark_prices": {BTC: "100", ETH: "10"}, "last_prices": {BTC: "100", ETH: "10"}}
for side, qty, sym, price, expect in (
    ("buy", "2", BTC, "100", OK), ("buy", "2.001", BTC, "100", "GROSS_EXPOSURE_EXCEEDS_MAX"),
    ("sell", "2", BTC, "100", OK), ("sell", "6", BTC, "100", OK), ("sell", "6.001", BTC, "100", "GROSS_EXPOSURE_EXCEEDS_MAX"),
    ("sell", "20", ETH, "10", OK), ("sell", "20.001", ETH, "10", "GROSS_EXPOSURE_EXCEEDS_MAX"),
    ("buy", "10", ETH, "10", OK), ("buy", "40", ETH, "10", OK), ("buy", "40.001", ETH, "10", "GROSS_EXPOSURE_EXCEEDS_MAX"),
):
    add(f"gross-{side}-{qty}-{sym}", expect, config=gross, intent={"side": side, "qty": qty, "symbol": sym, "price": price},
        context=book)
add("gross-over-but-shrinking-ok", OK, config=dflt(max_gross_exposure=100), intent={"side": "sell", "qty": "1"}, context=book)
add("gross-missing-other-mark", "NO_MARKET_PRICE", config=gross,
    context={"positions": {BTC: "1", ETH: "1"}, "mark_prices": {BTC: "100"}, "last_prices": {BTC: "100"}})
add("gross-zero-other-position-no-mark-needed", OK, config=gross,
    context={"positions": {BTC: "1", ETH: "0"}, "mark_prices": {BTC: "100"}, "last_prices": {BTC: "100"}})
add("gross-deployment-override", OK,
    config={"default": {"max_gross_exposure": 100}, "deployments": {"alpha": {"max_gross_exposure": 1000}}},
    intent={"qty": "5"})
add("gross-deployment-override-other", "GROSS_EXPOSURE_EXCEEDS_MAX",
    config={"default": {"max_gross_exposure": 100}, "deployments": {"alpha": {"max_gross_exposure": 1000}}},
    intent={"qty": "5", "deployment": "beta"})

# -- perpetual futures: leverage and distance to liquidation (BTC tiers: 125x up to 50k notional) --
fut = {"leverage": {BTC: "20"}}
for lev, limit, expect in (("20", 20, OK), ("21", 20, "LEVERAGE_EXCEEDS_MAX"), ("125", None, OK), ("126", None, "LEVERAGE_EXCEEDS_MAX")):
    add(f"leverage-{lev}-limit-{limit}", expect, config=dflt(max_leverage=limit) if limit else dflt(),
        context={"leverage": {BTC: lev}})
add("leverage-tier-cap-by-notional", "LEVERAGE_EXCEEDS_MAX", intent={"qty": "600"},  # 60k notional: 100x cap
    context={"leverage": {BTC: "101"}}, config=dflt())
add("leverage-spot-symbol-unchecked", OK, config=dflt(max_leverage=1))
add("leverage-shrinking-passes", OK, config=dflt(max_leverage=2), intent={"side": "sell", "qty": "1"},
    context={**fut, "positions": {BTC: "2"}, "entry_prices": {BTC: "100"}})
for lev, expect in (("10", OK), ("20", "LIQUIDATION_TOO_CLOSE")):  # 20x long: liquidated 4.6 % below
    add(f"liq-distance-{lev}x", expect, config=dflt(min_liquidation_distance_pct=5), context={"leverage": {BTC: lev}})
add("liq-distance-short-20x", "LIQUIDATION_TOO_CLOSE", config=dflt(min_liquidation_distance_pct=5),
    intent={"side": "sell"}, context=fut)
add("liq-distance-averaged-entry", "LIQUIDATION_TOO_CLOSE", config=dflt(min_liquidation_distance_pct=5),
    context={"leverage": {BTC: "10"}, "positions": {BTC: "5"}, "entry_prices": {BTC: "107"}})

# -- active orders (open + in flight) -----------------------------------------------------------
for active, expect in (({BTC: 2}, OK), ({BTC: 3}, "TOO_MANY_ACTIVE_ORDERS"), ({BTC: 4}, "TOO_MANY_ACTIVE_ORDERS"),
                       ({ETH: 3}, OK)):
    add(f"active-symbol-{active}", expect, config=dflt(max_active_orders_per_symbol=3), context={"active_orders": active})
for active, expect in (({BTC: 2, ETH: 2}, OK), ({BTC: 2, ETH: 3}, "TOO_MANY_ACTIVE_ORDERS"), ({ETH: 5}, "TOO_MANY_ACTIVE_ORDERS"),
                       ({}, OK)):
    add(f"active-total-{active}", expect, config=dflt(max_active_orders=5), context={"active_orders": active})
add("active-zero-limit", "TOO_MANY_ACTIVE_ORDERS", config=dflt(max_active_orders=0))
add("active-reducing-order-still-counted", "TOO_MANY_ACTIVE_ORDERS", config=dflt(max_active_orders=1),
    intent={"side": "sell"}, context={"active_orders": {BTC: 1}, "positions": {BTC: "5"}})


# -- rates ----------------------------------------------------------------------------------------
def orders(n: int, **overrides: Any) -> tuple[tuple[Any, ...], ...]:
    # distinct prices so the duplicate rule never interferes
    return tuple(("order", {"price": f"{90 + i * 0.01:.2f}", **overrides}) for i in range(n))


for n, expect in ((2, OK), (3, "ORDER_RATE_EXCEEDED"), (5, "ORDER_RATE_EXCEEDED")):
    add(f"rate-total-{n}", expect, config=dflt(max_orders_per_second=3), prior=orders(n))
    add(f"rate-symbol-{n}", expect, config=dflt(max_symbol_orders_per_second=3), prior=orders(n))
add("rate-total-other-symbol-counts", "ORDER_RATE_EXCEEDED", config=dflt(max_orders_per_second=3),
    prior=orders(3, symbol=ETH, price="10"), intent={"qty": "1"})
add("rate-symbol-other-symbol-not-counted", OK, config=dflt(max_symbol_orders_per_second=3),
    prior=tuple(("order", {"symbol": ETH, "price": f"{10 + i * 0.01:.2f}"}) for i in range(3)))
add("rate-other-deployment-not-counted", OK, config=dflt(max_orders_per_second=3), prior=orders(3, deployment="beta"))
for wait, expect in ((999, "ORDER_RATE_EXCEEDED"), (1000, OK), (5000, OK)):
    add(f"rate-window-{wait}ms", expect, config=dflt(max_orders_per_second=3), prior=(*orders(3), ("wait", wait)))
add("rate-sliding-partial", "ORDER_RATE_EXCEEDED", config=dflt(max_orders_per_second=2),
    prior=(*orders(1), ("wait", 500), *orders(1), ("wait", 400)), intent={"price": "99"})
add("rate-sliding-partial-expired", OK, config=dflt(max_orders_per_second=2),
    prior=(*orders(1), ("wait", 500), *orders(1), ("wait", 600)), intent={"price": "99"})
add("rate-denied-orders-not-counted", OK, config=dflt(max_orders_per_second=2, max_qty_per_order=5),
    prior=(("order", {"qty": "6"}), ("order", {"qty": "6", "price": "99"}), ("order", {"qty": "6", "price": "98"})))
add("rate-zero-limit", "ORDER_RATE_EXCEEDED", config=dflt(max_orders_per_second=0))
for n, expect in ((4, OK), (5, "DAILY_ORDER_LIMIT_EXCEEDED")):
    hourly = tuple(x for i in range(n) for x in (("order", {"price": f"{90 + i:.2f}"}), ("wait", 3_600_000)))
    add(f"daily-total-{n}", expect, config=dflt(max_orders_per_day=5), prior=hourly)
    add(f"daily-symbol-{n}", expect, config=dflt(max_symbol_orders_per_day=5), prior=hourly)
add("daily-expires-after-24h", OK, config=dflt(max_orders_per_day=2), prior=(*orders(2), ("wait", 86_400_000)))
add("daily-not-expired-before-24h", "DAILY_ORDER_LIMIT_EXCEEDED", config=dflt(max_orders_per_day=2),
    prior=(*orders(2), ("wait", 86_399_999)))
for n, expect in ((2, OK), (3, "FILL_RATE_EXCEEDED")):
    add(f"fillrate-total-{n}", expect, config=dflt(max_fills_per_second=2), prior=(("fill", ETH),) * n)
    add(f"fillrate-symbol-{n}", expect, config=dflt(max_symbol_fills_per_second=2), prior=(("fill", BTC),) * n)
add("fillrate-symbol-other-symbol", OK, config=dflt(max_symbol_fills_per_second=2), prior=(("fill", ETH),) * 3)
add("fillrate-expired", OK, config=dflt(max_fills_per_second=2), prior=(*(("fill", BTC),) * 3, ("wait", 1000)))
add("fillrate-daily", "DAILY_FILL_LIMIT_EXCEEDED", config=dflt(max_fills_per_day=2), prior=(*(("fill", BTC),) * 3, ("wait", 5000)))
add("fillrate-daily-symbol", "DAILY_FILL_LIMIT_EXCEEDED", config=dflt(max_symbol_fills_per_day=2),
    prior=(*(("fill", BTC),) * 3, ("wait", 5000)))
for n, expect in ((1, OK), (2, "CANCEL_RATE_EXCEEDED")):
    add(f"cancelrate-total-{n}", expect, action="cancel", config=dflt(max_cancels_per_second=2), prior=(("cancel", ETH),) * n)
    add(f"cancelrate-symbol-{n}", expect, action="cancel", config=dflt(max_symbol_cancels_per_second=2),
        prior=(("cancel", BTC),) * n)
add("cancelrate-window-expired", OK, action="cancel", config=dflt(max_cancels_per_second=2),
    prior=(("cancel", BTC), ("cancel", BTC), ("wait", 1000)))
add("cancelrate-daily", "DAILY_CANCEL_LIMIT_EXCEEDED", action="cancel", config=dflt(max_cancels_per_day=2),
    prior=(("cancel", BTC), ("wait", 60_000), ("cancel", BTC), ("wait", 60_000)))
add("cancelrate-daily-symbol", "DAILY_CANCEL_LIMIT_EXCEEDED", action="cancel", config=dflt(max_symbol_cancels_per_day=2),
    prior=(("cancel", BTC), ("wait", 60_000), ("cancel", BTC), ("wait", 60_000)))
add("cancel-order-rate-independent", OK, action="cancel", config=dflt(max_orders_per_second=1), prior=orders(3))
add("order-cancel-rate-independent", OK, config=dflt(max_cancels_per_second=1), prior=(("cancel", BTC),) * 3)

# -- duplicates ------------------------------------------------------------------------------------
dup = dflt(duplicate_window_ms=1000)
same = (("order", {}),)
add("dup-same-now", "DUPLICATE_ORDER", config=dup, prior=same)
add("dup-same-999ms", "DUPLICATE_ORDER", config=dup, prior=(*same, ("wait", 999)))
add("dup-same-1000ms", OK, config=dup, prior=(*same, ("wait", 1000)))
add("dup-other-qty", OK, config=dup, prior=same, intent={"qty": "1.001"})
add("dup-other-side", OK, config=dup, prior=same, intent={"side": "sell"})
add("dup-other-price", OK, config=dup, prior=same, intent={"price": "100.01"})
add("dup-other-symbol", OK, config=dup, prior=same, intent={"symbol": ETH, "price": "10"})
add("dup-other-deployment", OK, config=dup, prior=same, intent={"deployment": "beta"})
add("dup-equal-decimal-forms", "DUPLICATE_ORDER", config=dup, prior=same, intent={"qty": "1.000", "price": "100.0"})
add("dup-market-orders", "DUPLICATE_ORDER", config=dup, prior=(("order", {"type": "market", "price": None}),),
    intent={"type": "market", "price": None})
add("dup-off-when-removed", OK, prior=same)
add("dup-on-by-default", "DUPLICATE_ORDER", prior=same, builtins=True)
add("dup-denied-not-remembered", OK, config={"default": {"duplicate_window_ms": 1000, "max_qty_per_order": 0.5}},
    prior=(("order", {"qty": "1"}),), intent={"qty": "0.5"})
add("dup-symbol-override-off", OK, config={"default": {"duplicate_window_ms": 1000}, "symbols": {BTC: {"duplicate_window_ms": 0}}},
    prior=same)

# -- trading states ---------------------------------------------------------------------------------
for scope in ("global", "deployment:alpha"):
    for side, pos in (("buy", "0"), ("sell", "0"), ("sell", "5"), ("buy", "-5")):
        add(f"halted-{scope}-{side}-pos{pos}", "TRADING_HALTED", states={scope: "HALTED"}, intent={"side": side},
            context={"positions": {BTC: pos}})
    add(f"halted-{scope}-cancel-ok", OK, action="cancel", states={scope: "HALTED"})
add("halted-other-deployment-ok", OK, states={"deployment:beta": "HALTED"})
add("halted-beats-reducing", "TRADING_HALTED", states={"global": "REDUCING", "deployment:alpha": "HALTED"},
    intent={"side": "sell"}, context={"positions": {BTC: "5"}})
add("halted-beats-bad-tick", "TRADING_HALTED", states={"global": "HALTED"}, intent={"price": "100.005"})
add("active-explicit", OK, states={"global": "ACTIVE", "deployment:alpha": "ACTIVE"})
for scope in ("global", "deployment:alpha"):
    for pos, side, qty, expect in (
        ("2", "sell", "1", OK), ("2", "sell", "2", OK), ("2", "sell", "2.001", "REDUCING_ONLY"),
        ("2", "buy", "0.001", "REDUCING_ONLY"), ("0", "sell", "1", "REDUCING_ONLY"), ("0", "buy", "1", "REDUCING_ONLY"),
        ("-2", "buy", "2", OK), ("-2", "buy", "1.5", OK), ("-2", "buy", "3", "REDUCING_ONLY"), ("-2", "sell", "1", "REDUCING_ONLY"),
    ):
        add(f"reducing-{scope}-{pos}-{side}-{qty}", expect, states={scope: "REDUCING"},
            intent={"side": side, "qty": qty}, context={"positions": {BTC: pos}})
    add(f"reducing-{scope}-cancel-ok", OK, action="cancel", states={scope: "REDUCING"})
add("reducing-still-checks-tick", "PRICE_NOT_ON_TICK", states={"global": "REDUCING"},
    intent={"side": "sell", "price": "100.005"}, context={"positions": {BTC: "2"}})
add("reducing-still-checks-rate", "ORDER_RATE_EXCEEDED", config=dflt(max_orders_per_second=0), states={"global": "REDUCING"},
    intent={"side": "sell"}, context={"positions": {BTC: "2"}})
add("reducing-other-symbol-position-irrelevant", "REDUCING_ONLY", states={"global": "REDUCING"},
    intent={"side": "sell"}, context={"positions": {ETH: "5"}})
for pos, side, qty, expect in (("2", "sell", "1", OK), ("2", "sell", "2.001", "REDUCE_ONLY_WOULD_INCREASE"),
                               ("0", "sell", "1", "REDUCE_ONLY_WOULD_INCREASE"), ("-1", "buy", "1", OK),
                               ("-1", "sell", "1", "REDUCE_ONLY_WOULD_INCREASE")):
    add(f"reduceonly-flag-{pos}-{side}-{qty}", expect, intent={"side": side, "qty": qty, "reduce_only": True},
        context={"positions": {BTC: pos}})

# -- daily loss and drawdown -----------------------------------------------------------------------------
loss = dflt(daily_loss_limit=100)
for equity, expect in (("901", OK), ("900", "DAILY_LOSS_LIMIT"), ("899.99", "DAILY_LOSS_LIMIT"), ("1100", OK)):
    add(f"dailyloss-abs-{equity}", expect, config=loss, prior=(("equity", "1000"),), context={"equity": equity})
add("dailyloss-reducing-allows-shrink", OK, config=loss, prior=(("equity", "1000"),), intent={"side": "sell"},
    context={"equity": "850", "positions": {BTC: "3"}})
add("dailyloss-then-reducing-only", "REDUCING_ONLY", config=loss, prior=(("equity", "1000"), ("equity", "850")))
add("dailyloss-halted-action", "DAILY_LOSS_LIMIT", config=dflt(daily_loss_limit=100, on_daily_loss="HALTED"),
    prior=(("equity", "1000"),), intent={"side": "sell"}, context={"equity": "850", "positions": {BTC: "3"}})
add("dailyloss-halted-then-halted", "TRADING_HALTED", config=dflt(daily_loss_limit=100, on_daily_loss="HALTED"),
    prior=(("equity", "1000"), ("equity", "850")))
add("dailyloss-state-persists-after-recovery", "REDUCING_ONLY", config=loss,
    prior=(("equity", "1000"), ("equity", "850"), ("equity", "1000")))
add("dailyloss-new-day-resets-baseline", OK, config=loss,
    prior=(("equity", "1000"), ("wait", 86_400_000), ("equity", "950")), context={"equity": "860"})
add("dailyloss-same-day-accumulates", "DAILY_LOSS_LIMIT", config=loss,
    prior=(("equity", "1000"), ("wait", 3_600_000), ("equity", "950")), context={"equity": "900"})
for equity, expect in (("951", OK), ("950", "DAILY_LOSS_LIMIT"), ("700", "DAILY_LOSS_LIMIT")):
    add(f"dailyloss-pct-{equity}", expect, config=dflt(daily_loss_limit_pct=5), prior=(("equity", "1000"),),
        context={"equity": equity})
dd = dflt(max_drawdown_pct=10)
for equity, expect in (("1081", OK), ("1080", "MAX_DRAWDOWN"), ("1000", "MAX_DRAWDOWN")):
    add(f"drawdown-{equity}", expect, config=dd, prior=(("equity", "1000"), ("wait", 86_400_000), ("equity", "1200")),
        context={"equity": equity})
add("drawdown-halts-even-shrinking", "MAX_DRAWDOWN", config=dd, prior=(("equity", "1000"),), intent={"side": "sell"},
    context={"equity": "900", "positions": {BTC: "3"}})
add("drawdown-then-halted", "TRADING_HALTED", config=dd, prior=(("equity", "1000"), ("equity", "900")))
add("drawdown-reducing-action", "REDUCING_ONLY", config=dflt(max_drawdown_pct=10, on_max_drawdown="REDUCING"),
    prior=(("equity", "1000"), ("equity", "900")))
add("drawdown-beats-dailyloss", "MAX_DRAWDOWN", config=dflt(max_drawdown_pct=10, daily_loss_limit=50),
    prior=(("equity", "1000"),), context={"equity": "900"})
add("loss-limits-cancel-ok", OK, action="cancel", config=dd, prior=(("equity", "1000"), ("equity", "500")))
add("loss-limits-deployment-scoped", OK, config=dd, prior=(("equity", "1000", "beta"), ("equity", "500", "beta")))
add("no-loss-limits-no-state-change", OK, prior=(("equity", "1000"),), context={"equity": "1"})

# -- combinations: precedence --------------------------------------------------------------------------------
everything = dflt(max_qty_per_order=2, max_notional_per_order=150, price_band_bps=100, max_position_qty=3,
                  max_active_orders=1, max_orders_per_second=5, duplicate_window_ms=1000)
add("combo-tick-before-size", "PRICE_NOT_ON_TICK", config=everything, intent={"qty": "5", "price": "100.005"})
add("combo-lot-before-band", "QTY_NOT_ON_LOT_STEP", config=everything, intent={"qty": "1.0001", "price": "150"})
add("combo-band-before-size", "PRICE_OUTSIDE_BAND", config=everything, intent={"qty": "5", "price": "150"})
add("combo-qty-before-notional", "QTY_EXCEEDS_MAX_PER_ORDER", config=everything, intent={"qty": "3"})
add("combo-notional-before-position", "NOTIONAL_EXCEEDS_MAX_PER_ORDER", config=everything, intent={"qty": "1.6"},
    context={"positions": {BTC: "3"}})
add("combo-position-before-active", "POSITION_EXCEEDS_MAX", config=everything, intent={"qty": "1"},
    context={"positions": {BTC: "2.5"}, "active_orders": {BTC: 4}})
add("combo-active-before-rate", "TOO_MANY_ACTIVE_ORDERS", config=everything, context={"active_orders": {BTC: 1}},
    prior=orders(5))
add("combo-rate-before-duplicate", "ORDER_RATE_EXCEEDED", config=everything,
    prior=(("order", {}), *(("order", {"price": f"{100.5 + i * 0.01:.2f}"}) for i in range(4))))
add("combo-duplicate", "DUPLICATE_ORDER", config=everything, prior=(("order", {}),))
add("combo-all-pass", OK, config=everything, intent={"qty": "1.4", "price": "100.99"}, context={"positions": {BTC: "1.5"}})
add("combo-invalid-before-halted", "INVALID_QTY", states={"global": "HALTED"}, intent={"qty": "0"})
add("combo-reduce-only-before-market", "REDUCE_ONLY_WOULD_INCREASE", intent={"reduce_only": True, "price": "100.005"})
add("combo-market-before-band", "NOTIONAL_BELOW_MIN", config=band, intent={"qty": "0.001", "price": "200"})

# -- the book's VaR (issue 25): the gate's model in test_risk_table.TABLE_VAR_MODEL --------------------------
# BTC's worst days are -25 % and -12.5 % of 101: the 99 % historical VaR of x in BTC is 0.125 x. The desk holds
# 100 of BTC (equity 1000) and so does alpha (equity 500); buying 1 BTC at 100 makes either VaR 25.
add("var-desk-at-limit-ok", OK, config=dflt(max_desk_var_pct=2.5))
add("var-desk-over-limit", "VAR_LIMIT_EXCEEDED", config=dflt(max_desk_var_pct="2.49"))
add("var-desk-reduce-ok", OK, config=dflt(max_desk_var_pct="0.5"), intent={"side": "sell"})
add("var-desk-other-asset-ok", OK, config=dflt(max_desk_var_pct="1.5"), intent={"symbol": ETH, "price": "10"})
add("var-deployment-at-limit-ok", OK, config={"deployments": {"alpha": {"max_deployment_var_pct": 5}}})
add("var-deployment-over-limit", "VAR_LIMIT_EXCEEDED", config={"deployments": {"alpha": {"max_deployment_var_pct": "4.99"}}})
add("var-deployment-context-equity", OK, config=dflt(max_deployment_var_pct="2.5"), context={"equity": "1000"})
add("var-manual-desk-only", OK, config=dflt(max_deployment_var_pct="0.1"), intent={"deployment": "manual"})
add("var-before-active-orders", "VAR_LIMIT_EXCEEDED", config=dflt(max_desk_var_pct=1, max_active_orders=0))
add("var-after-position", "POSITION_EXCEEDS_MAX", config=dflt(max_desk_var_pct=1, max_position_qty="0.5"))

# -- built-in limits (issue 23): a fresh installation, no [risk] table at all --------------------
fresh = {"builtins": True}
add("builtin-limit-order-ok", OK, **fresh)
add("builtin-market-order-ok", OK, intent={"type": "market", "price": None}, **fresh)
add("builtin-band-500bps-ok", OK, intent={"price": "105"}, **fresh)
add("builtin-band-501bps", "PRICE_OUTSIDE_BAND", intent={"price": "105.01"}, **fresh)
add("builtin-band-below", "PRICE_OUTSIDE_BAND", intent={"price": "94.99"}, **fresh)
add("builtin-band-removed-with-none", OK, intent={"price": "105.01"}, config=dflt(price_band_bps="none"), **fresh)
add("builtin-band-removed-for-one-symbol", OK, intent={"price": "105.01"},
    config={"symbols": {BTC: {"price_band_bps": "None"}}}, **fresh)
add("builtin-band-widened", OK, intent={"price": "109"}, config=dflt(price_band_bps=1000), **fresh)
add("builtin-notional-100000-ok", OK, intent={"qty": "1000"}, **fresh)
add("builtin-notional-1000btc", "NOTIONAL_EXCEEDS_MAX_PER_ORDER", intent={"qty": "1000", "type": "market", "price": None},
    context={"last_prices": {BTC: "60000"}, "mark_prices": {BTC: "60000"}}, **fresh)
add("builtin-notional-above-fixed", "NOTIONAL_EXCEEDS_MAX_PER_ORDER", intent={"qty": "1000", "price": "100.01"},
    **fresh)
add("builtin-notional-no-price", "NO_MARKET_PRICE", intent={"type": "market", "price": None},
    context={"last_prices": {}, "mark_prices": {}, "rules": None}, **fresh)
add("builtin-equity-10pct-ok", OK, intent={"qty": "10"}, context={"equity": "10000"}, **fresh)
add("builtin-equity-above-10pct", "NOTIONAL_EXCEEDS_MAX_PER_ORDER", intent={"qty": "10.01"},
    context={"equity": "10000"}, **fresh)
add("builtin-equity-shrinking-order-ok", OK, intent={"qty": "50", "side": "sell"},
    context={"equity": "10000", "positions": {BTC: "50"}}, **fresh)
add("builtin-leverage-10x-ok", OK, context={"leverage": {BTC: "10"}}, **fresh)
add("builtin-leverage-11x", "LEVERAGE_EXCEEDS_MAX", context={"leverage": {BTC: "11"}}, **fresh)
add("builtin-leverage-spot-no-rule", OK, **fresh)
add("builtin-rate-50-ok", OK, prior=tuple(("order", {"qty": f"0.{i + 100}"}) for i in range(49)), **fresh)
add("builtin-rate-51", "ORDER_RATE_EXCEEDED", prior=tuple(("order", {"qty": f"0.{i + 100}"}) for i in range(50)),
    **fresh)
add("builtin-rate-next-second-ok", OK,
    prior=(*(("order", {"qty": f"0.{i + 100}"}) for i in range(50)), ("wait", 1000)), **fresh)
add("builtin-cancel-rate-50-ok", OK, action="cancel", prior=tuple(("cancel", BTC) for _ in range(49)), **fresh)
add("builtin-cancel-rate-51", "CANCEL_RATE_EXCEEDED", action="cancel", prior=tuple(("cancel", BTC) for _ in range(50)),
    **fresh)
add("builtin-dup-after-window-ok", OK, prior=(("order", {}), ("wait", 500)), **fresh)
add("builtin-dup-inside-window", "DUPLICATE_ORDER", prior=(("order", {}), ("wait", 499)), **fresh)
add("builtin-deployment-override", OK, intent={"qty": "1000", "price": "100.01"},
    config={"deployments": {"alpha": {"max_notional_per_order": 200000}}}, **fresh)
