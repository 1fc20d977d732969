"""Benchmark the risk gate: one intent checked against every rule; print one JSON document.

Every rule is configured (market validity, band, size, position, gross exposure, active
orders, order/fill rates per second and per day, duplicates, loss limits via equity in the
context) over 5 symbols with open positions. The clock advances 1 ms per check, so the
per-second windows hold up to a thousand events and the per-day windows fill up to
`--checks` events: realistic windows, not empty ones. Target: p99 <= 100 µs.

A second run, `with_desk_var`, adds `max_desk_var_pct` over a day's VaR model of 50 assets x 365
days (historical, `quantdesk.risk.var_limit`): with the limit far above the book's VaR the cached
bound decides; a third run puts the limit just above it, so every order's VaR after the trade is
computed (a partition of the cached scenario P&L plus the order's column). Both p99 beside the
plain gate's.

The built-in limits (`quantdesk.risk.config.BUILTIN_LIMITS`: band, notional and equity share
per order, order rate, duplicates, leverage) hold under every run above, since CONFIG leaves
them in place; `fresh_install` measures a gate with nothing but them (no `[risk]` table), as a
new installation runs. At one check per millisecond the built-in 50 orders a second deny most
checks at the rate rule, after every other rule has run (see `decisions`).

Run: .venv/bin/python bench/risk.py [--checks 100000] [--assets 50]
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import time
from datetime import UTC, datetime
from decimal import Decimal

import numpy as np

from quantdesk.core import ManualClock, MarketRules, OrderIntent, OrderType, Side
from quantdesk.risk import BUILTIN_LIMITS, RiskConfig, RiskContext, RiskGate, VarModel

SYMBOLS = ["BTC/USDT", "ETH/USDT", "SOL/USDT", "BNB/USDT", "XRP/USDT"]
PRICES = {"BTC/USDT": "60000", "ETH/USDT": "3000", "SOL/USDT": "150", "BNB/USDT": "600", "XRP/USDT": "0.5"}
CONFIG = {
    "default": {
        "max_qty_per_order": 1_000_000,
        "max_notional_per_order": 50_000,
        "max_position_notional": 10_000_000,
        "max_active_orders_per_symbol": 50,
        "max_symbol_orders_per_second": 2_000,
        "max_symbol_orders_per_day": 10_000_000,
        "max_symbol_fills_per_second": 2_000,
        "max_symbol_fills_per_day": 10_000_000,
        "price_band_bps": 200,
        "duplicate_window_ms": 1_000,
        "max_gross_exposure": 50_000_000,
        "max_active_orders": 200,
        "max_orders_per_second": 5_000,
        "max_orders_per_day": 10_000_000,
        "max_fills_per_second": 5_000,
        "max_fills_per_day": 10_000_000,
        "daily_loss_limit_pct": 50,
        "max_drawdown_pct": 50,
    },
    "symbols": {"BTC/USDT": {"max_position_qty": 100}},
}


def _model(assets: int, days: int = 365) -> VarModel:
    """A day's VaR model of `assets` assets (the bench's 5 symbols first) with the desk long/short in all."""
    rng = np.random.default_rng(3)
    symbols = tuple(SYMBOLS) + tuple(f"ALT{i}/USDT" for i in range(assets - len(SYMBOLS)))
    prices = np.array([float(PRICES[s]) for s in SYMBOLS] + list(rng.uniform(0.1, 100, assets - len(SYMBOLS))))
    returns = rng.standard_t(4, size=(days, assets)) * 0.03
    desk = rng.uniform(10_000, 100_000, assets) * np.where(rng.random(assets) < 0.3, -1.0, 1.0)
    return VarModel(day="2026-01-05", symbols=symbols, returns=returns, prices=prices, confidence=0.99,
                    method="historical", desk=desk, desk_equity=100_000_000.0)


def _measure(config: dict, checks: int, var_model: VarModel | None = None) -> dict:
    clock = ManualClock(datetime(2026, 1, 5, tzinfo=UTC))
    gate = RiskGate(RiskConfig.from_dict(config), clock, var_model=None if var_model is None else (lambda: var_model))
    rules = MarketRules(lot_step=0.0001, tick_size=0.01, min_qty=0.0001, max_qty=100000, min_notional=5)
    context = RiskContext(
        positions={s: Decimal("1.5") if i % 2 else Decimal("-2") for i, s in enumerate(SYMBOLS)},
        mark_prices={s: Decimal(p) for s, p in PRICES.items()},
        last_prices={s: Decimal(p) for s, p in PRICES.items()},
        equity=Decimal("1000000"),
        active_orders={s: 3 for s in SYMBOLS},
        market_rules={s: rules for s in SYMBOLS},
    )
    rng = random.Random(7)
    intents = []
    for i in range(4096):
        symbol = rng.choice(SYMBOLS)
        last = Decimal(PRICES[symbol])
        price = (last * Decimal(str(1 + rng.uniform(-0.01, 0.01)))).quantize(Decimal("0.01"))
        qty = (Decimal(20) / price).quantize(Decimal("0.0001")) + Decimal(i % 7) / 10_000
        intents.append(
            OrderIntent(
                client_order_id=f"bench-{i}", deployment="bench", venue="sim", symbol=symbol,
                side=Side.BUY if i % 2 else Side.SELL, type=OrderType.LIMIT, qty=qty, price=price,
                ts=clock.now(),
            )
        )
    for _ in range(2_000):  # warm-up
        gate.check(intents[_ % len(intents)], context)

    samples: list[int] = []
    codes: dict[str, int] = {}
    perf = time.perf_counter_ns
    for i in range(checks):
        clock.advance(1)
        if i % 10 == 0:
            gate.on_fill(deployment="bench", symbol=SYMBOLS[i % 5])
        intent = intents[i % len(intents)]
        t0 = perf()
        decision = gate.check(intent, context)
        samples.append(perf() - t0)
        codes[decision.code.value] = codes.get(decision.code.value, 0) + 1
    samples.sort()

    def pct(q: float) -> float:
        return round(samples[min(len(samples) - 1, int(q * len(samples)))] / 1000, 2)

    return {"checks": checks, "p50_us": pct(0.50), "p99_us": pct(0.99), "p999_us": pct(0.999),
            "max_us": round(samples[-1] / 1000, 2), "mean_us": round(statistics.fmean(samples) / 1000, 2),
            "target_p99_us": 100, "meets_target": pct(0.99) <= 100, "decisions": codes}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--checks", type=int, default=100_000)
    parser.add_argument("--assets", type=int, default=50, help="assets in the VaR model of the second run")
    args = parser.parse_args()
    plain = _measure(CONFIG, args.checks)
    fresh = _measure({}, args.checks)  # the built-in limits only
    model = _model(args.assets)
    # a limit the book sits under: every check computes the order's VaR (the dot product) and passes on
    limited = {**CONFIG, "default": {**CONFIG["default"], "max_desk_var_pct": 50}}
    with_var = _measure(limited, args.checks, model)
    # a limit just above the book's VaR: the bound never settles it, every check computes the VaR after the order
    share = 100 * model.desk.var / model.desk.equity
    near = {**CONFIG, "default": {**CONFIG["default"], "max_desk_var_pct": round(share * 1.0001, 6)}}
    exact = _measure(near, args.checks, model)
    about = {"assets": args.assets, "scenarios": model.returns.shape[0], "method": model.method,
             "desk_var_quote": round(model.desk.var, 2)}
    print(json.dumps({"bench": "risk_gate_check", **plain, "builtin_limits": {k: str(v) for k, v in BUILTIN_LIMITS.items()},
                      "fresh_install": {**fresh, "config": "no [risk] table: the built-in limits alone"},
                      "with_desk_var": {**with_var, **about, "limit": "50 % of equity: the bound decides",
                                        "p99_added_us": round(with_var["p99_us"] - plain["p99_us"], 2)},
                      "with_desk_var_at_the_limit": {**exact, **about, "limit": "the book's VaR + 0.01 %: each "
                                                     "check computes the VaR after the order",
                                                     "p99_added_us": round(exact["p99_us"] - plain["p99_us"], 2)}},
                     indent=2))


if __name__ == "__main__":
    main()
