"""`cross_venue_edge` on hand-built books: exact Decimal arithmetic, fees, lots and ticks, depth, bad sizes."""

from __future__ import annotations

from decimal import Decimal as D

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from quantdesk.arb import Size, cross_venue_edge
from quantdesk.core.errors import ArbitrageError, DataError, DepthExhaustedError

ASKS = {"bids": [], "asks": [["100.0", "1"], ["100.5", "2"], ["101.25", "5"]]}
BIDS = {"bids": [["102", "0.5"], ["101.75", "1.5"], ["101", "10"]], "asks": []}


def market(lot: str = "0", tick: str = "0", min_qty: str | None = None, min_cost: str | None = None) -> dict:
    """A ccxt market dict (TICK_SIZE precision mode)."""
    return {"precision": {"amount": float(lot) if lot != "0" else None, "price": float(tick) if tick != "0" else None},
            "limits": {"amount": {"min": None if min_qty is None else float(min_qty)},
                       "cost": {"min": None if min_cost is None else float(min_cost)}}}


def test_hummingbots_case_buy_10_btc_at_30000_sell_at_32000_is_2000_over_30000_before_fees() -> None:
    buy = {"bids": [], "asks": [[30000, 10]]}
    sell = {"bids": [[32000, 10]], "asks": []}
    edge = cross_venue_edge(buy, sell, 10, buy_fee=0, sell_fee=0)
    assert edge.edge == D(2000) / D(30000)
    assert edge.profit_quote == D(20000)
    assert edge.edge_bps == D(2000) / D(30000) * 10_000


def test_depth_weighted_prices_across_levels_fees_and_transfer_are_exact() -> None:
    qty = D("2.5")
    # by hand: asks 1 @ 100.0 + 1.5 @ 100.5; bids 0.5 @ 102 + 1.5 @ 101.75 + 0.5 @ 101
    cost = D("1") * D("100.0") + D("1.5") * D("100.5")
    proceeds = D("0.5") * D("102") + D("1.5") * D("101.75") + D("0.5") * D("101")
    buy_fee, sell_fee, transfer = D("0.001"), D("0.00075"), D("0.3")
    expected_profit = proceeds - proceeds * sell_fee - cost - cost * buy_fee - transfer
    edge = cross_venue_edge(ASKS, BIDS, qty, buy_fee=buy_fee, sell_fee=sell_fee, transfer_cost=transfer)
    assert edge.buy.avg_price == cost / qty and edge.sell.avg_price == proceeds / qty
    assert (edge.buy.levels, edge.sell.levels) == (2, 3)
    assert edge.buy.fee == cost * buy_fee and edge.sell.fee == proceeds * sell_fee
    assert edge.profit_quote == expected_profit
    assert edge.edge == expected_profit / (cost + cost * buy_fee)
    assert edge.edge_bps == edge.edge * 10_000


def test_quantities_round_down_to_both_lots_and_limit_prices_to_the_tick_away_from_the_book() -> None:
    buy_book = {"bids": [], "asks": [["100.013", "0.7"], ["100.027", "5"]]}  # off-tick levels: an order still reaches them
    sell_book = {"bids": [["101.009", "0.2"], ["100.991", "5"]], "asks": []}
    edge = cross_venue_edge(buy_book, sell_book, "1.23456", buy_fee=0, sell_fee=0,
                            buy_market=market(lot="0.001", tick="0.01"), sell_market=market(lot="0.01", tick="0.05"))
    assert edge.qty == D("1.23")  # 1.23456 -> 1.234 (buy lot) -> 1.23 (sell lot): both legs trade the same
    assert edge.buy.limit_price == D("100.03")  # worst ask 100.027 rounded up to the 0.01 tick
    assert edge.sell.limit_price == D("100.95")  # worst bid 100.991 rounded down to the 0.05 tick
    assert edge.buy.notional == D("0.7") * D("100.013") + D("0.53") * D("100.027")
    assert edge.sell.notional == D("0.2") * D("101.009") + D("1.03") * D("100.991")


def test_a_quote_size_buys_what_the_amount_pays_for_then_rounds_to_the_lot() -> None:
    edge = cross_venue_edge(ASKS, BIDS, Size.quote("250"), buy_fee=0, sell_fee=0, buy_market=market(lot="0.01"))
    # 100 buys 1 @ 100; the other 150 buy 150/100.5 = 1.4925... more -> 2.4925... -> 2.49 at the lot
    assert edge.qty == D("2.49")
    assert edge.buy.notional == D("100.0") + D("1.49") * D("100.5")


def test_floats_as_ccxt_parses_them_are_taken_at_their_shortest_repr() -> None:
    floats = cross_venue_edge({"bids": [], "asks": [[0.1, 3.0]]}, {"bids": [[0.3, 3.0]], "asks": []}, 3,
                              buy_fee=0.001, sell_fee=0.001)
    exact = cross_venue_edge({"bids": [], "asks": [["0.1", "3"]]}, {"bids": [["0.3", "3"]], "asks": []}, "3",
                             buy_fee="0.001", sell_fee="0.001")
    assert floats.profit_quote == exact.profit_quote == D("0.9") - D("0.0009") - D("0.3") - D("0.0003")


def test_a_size_beyond_the_book_is_depth_exhausted_not_a_made_up_price() -> None:
    with pytest.raises(DepthExhaustedError, match="depth exhausted at 3 levels") as raised:
        cross_venue_edge(ASKS, BIDS, 9, buy_fee=0, sell_fee=0)  # the asks hold 8
    assert raised.value.levels == 3
    with pytest.raises(DepthExhaustedError, match="depth exhausted at 3 levels: the bids hold 12"):
        cross_venue_edge({"bids": [], "asks": [["1", "100"]]}, BIDS, 13, buy_fee=0, sell_fee=0)


@pytest.mark.parametrize("size", [0, -1, "0", "-0.5", "abc", float("nan")])
def test_zero_negative_or_non_numeric_sizes_are_refused(size: object) -> None:
    with pytest.raises(ArbitrageError, match="size"):
        cross_venue_edge(ASKS, BIDS, size, buy_fee=0, sell_fee=0)  # type: ignore[arg-type]


def test_sizes_under_a_lot_or_the_markets_minimum_are_refused_by_name() -> None:
    with pytest.raises(ArbitrageError, match="rounds to 0 at lot steps 0.01"):
        cross_venue_edge(ASKS, BIDS, "0.004", buy_fee=0, sell_fee=0, buy_market=market(lot="0.01"))
    with pytest.raises(ArbitrageError, match="minimum order quantity 0.5"):
        cross_venue_edge(ASKS, BIDS, "0.2", buy_fee=0, sell_fee=0, sell_market=market(min_qty="0.5"))
    with pytest.raises(ArbitrageError, match="below the market's minimum 50"):
        cross_venue_edge(ASKS, BIDS, "0.2", buy_fee=0, sell_fee=0, buy_market=market(min_cost="50"))


def test_fee_rates_and_books_are_checked() -> None:
    with pytest.raises(ArbitrageError, match="buy_fee 10 is not a fee rate"):
        cross_venue_edge(ASKS, BIDS, 1, buy_fee=10, sell_fee=0)
    with pytest.raises(DataError, match="not best first"):
        cross_venue_edge({"bids": [], "asks": [["101", "1"], ["100", "1"]]}, BIDS, 2, buy_fee=0, sell_fee=0)
    with pytest.raises(DataError, match="has no 'asks'"):
        cross_venue_edge({"bids": []}, BIDS, 1, buy_fee=0, sell_fee=0)


def test_quote_rates_convert_each_leg_into_the_reference_currency() -> None:
    edge = cross_venue_edge(ASKS, BIDS, 1, buy_fee=0, sell_fee=0, sell_quote_rate="0.99")
    assert edge.proceeds_quote == D("102") * D("0.5") * D("0.99") + D("101.75") * D("0.5") * D("0.99")
    assert edge.profit_quote == edge.proceeds_quote - D("100.0")


prices = st.decimals(min_value=D("1"), max_value=D("1000"), places=2)
quantities = st.decimals(min_value=D("0.01"), max_value=D("10"), places=2)


@st.composite
def books(draw: st.DrawFn) -> tuple[dict, dict]:
    asks = sorted(draw(st.lists(st.tuples(prices, quantities), min_size=1, max_size=6)))
    bids = sorted(draw(st.lists(st.tuples(prices, quantities), min_size=1, max_size=6)), reverse=True)
    return {"bids": [], "asks": [list(a) for a in asks]}, {"bids": [list(b) for b in bids], "asks": []}


@settings(max_examples=150, deadline=None)
@given(books(), st.decimals(min_value=D("0.01"), max_value=D("1"), places=2),
       st.decimals(min_value=D("0.01"), max_value=D("1"), places=2))
def test_edge_never_improves_with_size_and_splitting_a_level_changes_nothing(pair: tuple[dict, dict], a: D, b: D) -> None:
    buy, sell = pair
    depth = min(sum(q for _, q in buy["asks"]), sum(q for _, q in sell["bids"]))
    small, large = sorted((a * depth, b * depth))
    if small <= 0:
        return
    first = cross_venue_edge(buy, sell, small, buy_fee="0.001", sell_fee="0.001")
    second = cross_venue_edge(buy, sell, large, buy_fee="0.001", sell_fee="0.001")
    assert second.edge <= first.edge  # deeper levels are never better than the ones before
    price, qty = buy["asks"][0]
    split = {"bids": [], "asks": [[price, qty / 2], [price, qty - qty / 2], *buy["asks"][1:]]}
    assert cross_venue_edge(split, sell, small, buy_fee="0.001", sell_fee="0.001").profit_quote == first.profit_quote
