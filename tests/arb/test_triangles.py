"""Triangular cycles: a known edge on hand-built books, none once fees remove it, and 200 markets against brute force."""

from __future__ import annotations

import itertools
import math
import random
from decimal import Decimal as D

import pytest

from quantdesk.arb import Quote, evaluate_cycle, find_cycles
from quantdesk.core.errors import DepthExhaustedError
from quantdesk.core.types import Side

# ETH/BTC bids 0.0700 while ETH/USDT and BTC/USDT imply 2000 / 30000 = 0.0667: USDT -> ETH -> BTC -> USDT pays
BOOKS = {
    "BTC/USDT": {"bids": [["30000", "1"], ["29990", "5"]], "asks": [["30010", "1"]]},
    "ETH/USDT": {"bids": [["1999", "10"]], "asks": [["2000", "0.2"], ["2001", "10"]]},
    "ETH/BTC": {"bids": [["0.0700", "0.3"], ["0.0699", "10"]], "asks": [["0.0701", "10"]]},
}
MARKETS = {"BTC/USDT": {"precision": {"amount": 0.00001, "price": 0.01}},
           "ETH/USDT": {"precision": {"amount": 0.0001, "price": 0.01}},
           "ETH/BTC": {"precision": {"amount": 0.0001, "price": 0.000001}}}


def quotes(fee: float) -> list[Quote]:
    return [Quote(symbol=s, bid=float(b["bids"][0][0]), ask=float(b["asks"][0][0]), fee=fee) for s, b in BOOKS.items()]


def test_the_planted_triangle_is_found_from_usdt_and_walked_exactly_with_depth_lots_and_fees() -> None:
    cycles = find_cycles(quotes(0.001), start="USDT")
    assert len(cycles) == 1
    cycle = cycles[0]
    assert [(e.symbol, e.side) for e in cycle.edges] == [("ETH/USDT", Side.BUY), ("ETH/BTC", Side.SELL),
                                                          ("BTC/USDT", Side.SELL)]
    top = (1 / 2000 * 0.999) * (0.07 * 0.999) * (30000 * 0.999)
    assert cycle.log_edge == pytest.approx(math.log(top), rel=1e-12)
    fee = D("0.001")
    result = evaluate_cycle(cycle, D("1000"), BOOKS, MARKETS, {s: fee for s in BOOKS})
    # by hand: 1000 USDT buys 0.2 @ 2000 (400) + 600/2001 = 0.29985 @ 2001 -> 0.4998 ETH at the 0.0001 lot
    eth = D("0.4998")
    spent = D("0.2") * D("2000") + (eth - D("0.2")) * D("2001")
    eth_kept = eth * (1 - fee)  # 0.4993002 -> 0.4993 at the lot
    btc = (D("0.3") * D("0.0700") + (D("0.4993") - D("0.3")) * D("0.0699")) * (1 - fee)
    btc_sold = D("0.03489")  # btc = 0.0348961... at the 0.00001 lot
    assert btc == D("0.03489613893") and eth_kept == D("0.4993002")
    usdt = btc_sold * D("30000") * (1 - fee)  # within the first bid level (1 BTC @ 30000)
    assert [leg.qty for leg in result.legs] == [eth, D("0.4993"), btc_sold]
    assert result.spent == spent
    assert result.received == usdt
    assert result.profit == usdt - spent
    assert result.edge_bps == (usdt - spent) / spent * 10_000
    assert result.edge_bps > 0


def test_no_cycle_once_fees_remove_the_edge() -> None:
    assert find_cycles(quotes(0.02), start="USDT") == []  # 3 x 2% eats the ~5% gap
    assert find_cycles(quotes(0.02)) == []
    # the same triangle walked anyway loses money: the cycle search and the exact walk agree
    cycle = find_cycles(quotes(0.001), start="USDT")[0]
    result = evaluate_cycle(cycle, D("1000"), BOOKS, MARKETS, {s: D("0.02") for s in BOOKS})
    assert result.edge_bps < 0


def test_a_thin_leg_is_depth_exhausted_and_named() -> None:
    cycle = find_cycles(quotes(0.001), start="USDT")[0]
    with pytest.raises(DepthExhaustedError, match=r"ETH/USDT \(buy\): depth exhausted at 2 levels"):
        evaluate_cycle(cycle, D("100000"), BOOKS, MARKETS, {s: D("0.001") for s in BOOKS})


def _brute_force(market_quotes: list[Quote], start: str) -> dict[frozenset, float]:
    """Every triangle through `start` with its log edge, by enumerating triples (the test's independent check)."""
    rate: dict[tuple[str, str], tuple[float, str, Side]] = {}
    for q in market_quotes:
        base, quote = q.symbol.split("/")
        rate[(quote, base)] = (math.log(1 / q.ask * (1 - q.fee)), q.symbol, Side.BUY)
        rate[(base, quote)] = (math.log(q.bid * (1 - q.fee)), q.symbol, Side.SELL)
    currencies = {c for pair in rate for c in pair} - {start}
    out = {}
    for a, b in itertools.permutations(currencies, 2):
        legs = [(start, a), (a, b), (b, start)]
        if all(leg in rate for leg in legs):
            out[frozenset((rate[leg][1], rate[leg][2]) for leg in legs)] = sum(rate[leg][0] for leg in legs)
    return out


@pytest.mark.parametrize("seed", range(5))
def test_200_markets_the_best_cycle_is_found_and_every_found_cycle_is_real(seed: int) -> None:
    rng = random.Random(seed)
    coins = [f"C{i}" for i in range(50)]
    value = {c: math.exp(rng.uniform(-3, 6)) for c in coins} | {"USDT": 1.0, "BTC": 30000.0}
    pairs = {("BTC", "USDT")} | {(c, "USDT") for c in coins} | {(c, "BTC") for c in coins}
    while len(pairs) < 200:  # and crosses between coins, as venues list a few
        base, quote = rng.sample(coins, 2)
        if (quote, base) not in pairs:
            pairs.add((base, quote))
    market_quotes = []
    for base, quote in sorted(pairs):
        fair = value[base] / value[quote] * math.exp(rng.gauss(0, 0.003))  # mispriced by a few bps, a few by more
        market_quotes.append(Quote(symbol=f"{base}/{quote}", bid=fair * (1 - 0.0001), ask=fair * (1 + 0.0001),
                                   fee=0.00075))
    truth = _brute_force(market_quotes, "USDT")
    positive = {k: v for k, v in truth.items() if v > 1e-12}
    found = find_cycles(market_quotes, start="USDT")
    assert positive, "the random books should hold some cycles that beat their fees"
    best = max(positive, key=positive.__getitem__)
    keys = [frozenset((e.symbol, e.side) for e in c.edges) for c in found]
    assert keys[0] == best  # the best cycle through USDT is always found, and ranked first
    for key, cycle in zip(keys, found, strict=True):
        assert key in positive and cycle.log_edge == pytest.approx(positive[key], rel=1e-9, abs=1e-12)
        assert cycle.edges[0].source == "USDT" and cycle.edges[-1].target == "USDT"
