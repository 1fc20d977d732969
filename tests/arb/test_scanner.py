"""The cross-venue scanner on in-memory books: best pair, stale and refused books, rate series, transfers, episodes."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from datetime import datetime
from decimal import Decimal as D
from typing import Any

import pytest

from quantdesk.arb import (
    BookStore,
    CrossVenueScanner,
    DiffBook,
    Listing,
    OpportunityTracker,
    RateSeries,
    Size,
    TransferCosts,
    cross_venue_edge,
)
from quantdesk.arb.transfers import withdraw_fees
from quantdesk.core.clock import ManualClock
from quantdesk.core.errors import ArbitrageError, SequenceGapError

T0 = 1_700_000_000_000
FEE = D("0.001")


def book(bid: str, ask: str, qty: str = "10") -> dict[str, Any]:
    return {"bids": [[bid, qty]], "asks": [[ask, qty]]}


def rig(books: Mapping[str, dict[str, Any]], *, symbol: str = "BTC/USDT", max_age_ms: int = 1000,
        **kwargs: Any) -> tuple[CrossVenueScanner, BookStore, ManualClock]:
    clock = ManualClock(T0)
    store = BookStore(clock, max_age_ms=max_age_ms)
    for venue, levels in books.items():
        store.put(venue, symbol, levels)
    listings = {symbol: [Listing(venue=v, symbol=symbol, taker_fee=FEE) for v in books]}
    return CrossVenueScanner(listings, store, kwargs.pop("size", Size.base(1)), **kwargs), store, clock


def test_the_cheapest_buy_and_the_dearest_sell_are_priced_exactly() -> None:
    scanner, _, _ = rig({"a": book("29990", "30000"), "b": book("30120", "30130"), "c": book("30050", "30060")})
    found = scanner.evaluate("BTC/USDT").opportunity
    assert found is not None
    assert [(leg.side.value, leg.venue) for leg in found.legs] == [("buy", "a"), ("sell", "b")]
    exact = cross_venue_edge(book("29990", "30000"), book("30120", "30130"), 1, buy_fee=FEE, sell_fee=FEE)
    assert found.edge_bps == exact.edge_bps and found.profit_quote == exact.profit_quote
    assert found.key == "cross_venue:BTC/USDT|buy:BTC/USDT@a,sell:BTC/USDT@b"


def test_below_the_threshold_is_the_best_but_not_an_opportunity() -> None:
    scanner, _, _ = rig({"a": book("29990", "30000"), "b": book("30010", "30020")}, min_edge_bps=5)
    result = scanner.evaluate("BTC/USDT")
    assert result.opportunity is None and result.best is not None and result.best.edge_bps < 5


def test_an_old_book_is_not_used_and_its_venue_is_named() -> None:
    scanner, store, clock = rig({"a": book("29990", "30000"), "b": book("30120", "30130"),
                                 "c": book("30080", "30090")})
    clock.advance(800)
    store.put("a", "BTC/USDT", book("29990", "30000"))
    store.put("c", "BTC/USDT", book("30080", "30090"))
    clock.advance(400)  # b's book is 1200 ms old now, a's and c's 400 ms
    result = scanner.evaluate("BTC/USDT")
    assert [(s.venue, s.age_ms) for s in result.stale] == [("b", 1200)]
    assert "no update for 1200 ms" in result.stale[0].reason
    assert result.opportunity is not None and {leg.venue for leg in result.opportunity.legs} == {"a", "c"}
    assert result.opportunity.book_age_ms == 400


def test_a_refused_book_stays_unused_until_a_new_one_arrives() -> None:
    scanner, store, _ = rig({"a": book("29990", "30000"), "b": book("30120", "30130")})
    store.refuse("b", "BTC/USDT", "sequence gap in the stream")
    result = scanner.evaluate("BTC/USDT")
    assert result.opportunity is None and result.stale[0].reason == "sequence gap in the stream"
    store.put("b", "BTC/USDT", book("30120", "30130"))
    assert scanner.evaluate("BTC/USDT").opportunity is not None


def test_diff_book_splices_events_by_update_id_and_refuses_a_gap() -> None:
    local = DiffBook({"lastUpdateId": 100, "bids": [["10", "1"]], "asks": [["11", "1"]]})
    assert not local.apply({"U": 90, "u": 100, "b": [["9", "5"]], "a": []})  # before the snapshot: dropped
    assert local.apply({"U": 95, "u": 101, "b": [["10", "0"], ["10.5", "2"]], "a": []})  # straddles it: first
    assert local.apply({"U": 102, "u": 104, "b": [], "a": [["11", "3"], ["11.5", "1"]]})
    assert local.book() == {"bids": [[D("10.5"), D("2")]], "asks": [[D("11"), D("3")], [D("11.5"), D("1")]]}
    with pytest.raises(SequenceGapError, match="update 106 arrived after 104"):
        local.apply({"U": 106, "u": 107, "b": [], "a": []})


def test_another_quote_is_converted_through_the_named_rate_series_and_never_silently() -> None:
    clock = ManualClock(T0)
    store = BookStore(clock)
    store.put("a", "BTC/USDT", book("29990", "30000"))
    store.put("b", "BTC/USDC", book("30200", "30210"))
    store.put("a", "USDC/USDT", book("0.9990", "0.9992", "1000000"))
    listings = {"BTC/USDT": [Listing(venue="a", symbol="BTC/USDT", taker_fee=FEE),
                             Listing(venue="b", symbol="BTC/USDC", taker_fee=FEE)]}
    with pytest.raises(ArbitrageError, match=r"quoted in USDC.*--rate USDC/USDT@VENUE.*never taken as 1:1"):
        CrossVenueScanner(listings, store, Size.base(1))
    scanner = CrossVenueScanner(listings, store, Size.base(1), rates=[RateSeries.parse("USDC/USDT@a")])
    found = scanner.evaluate("BTC/USDT").opportunity
    assert found is not None and [leg.venue for leg in found.legs] == ["a", "b"]
    # the USDC proceeds are sold for USDT at the rate series' bid
    proceeds = D("30200") * (1 - FEE) * D("0.9990")
    cost = D("30000") * (1 + FEE)
    assert found.profit_quote == proceeds - cost
    assert found.conversions[0]["series"] == "USDC/USDT@a" and found.conversions[0]["sell_rate"] == "0.9990"
    store.refuse("a", "USDC/USDT", "fetch failed")
    stale = scanner.evaluate("BTC/USDT").stale
    assert stale[0].venue == "b" and "rate series USDC/USDT@a is unusable" in stale[0].reason


def test_transfer_costs_come_from_the_venue_then_configuration_and_say_which() -> None:
    reported = withdraw_fees({"BTC": {"withdraw": {"fee": 0.0002}, "networks": {}},
                              "USDT": {"withdraw": {"fee": None}, "networks": {"TRX": {"withdraw": {"fee": 1.0}},
                                                                              "ETH": {"withdraw": {"fee": 4.5}}}}})
    assert reported == {"BTC": D("0.0002"), "USDT": D("1.0")}  # no default: the cheapest network
    transfers = TransferCosts({"a": {"BTC": D("0.0002")}}, {"USDT": "1.5"})
    scanner, _, _ = rig({"a": book("29990", "30000"), "b": book("30120", "30130")}, transfers=transfers)
    found = scanner.evaluate("BTC/USDT").opportunity
    assert found is not None
    assert found.transfer_cost == D("0.0002") * D("30120") + D("1.5")
    assert found.transfer_cost_source == "BTC out of a: 0.0002 (venue); USDT out of b: 1.5 (config)"
    exact = cross_venue_edge(book("29990", "30000"), book("30120", "30130"), 1, buy_fee=FEE, sell_fee=FEE,
                             transfer_cost=found.transfer_cost)
    assert found.profit_quote == exact.profit_quote


class MemoryStore:
    """An OpportunityStore in a dict (the ledger's is tested in tests/ledger)."""

    def __init__(self) -> None:
        self.rows: dict[str, dict[str, Any]] = {}
        self.notified: list[str] = []
        self.closed: list[str] = []

    def open(self, record: Mapping[str, Any]) -> bool:
        if record["key"] in self.rows:
            return False
        self.rows[record["key"]] = dict(record)
        self.notified.append(record["key"])
        return True

    def touch(self, key: str, *, seen_at: datetime, edge_bps: D, observations: int) -> None:
        self.rows[key]["observations"] = observations

    def close_missing(self, scope: str, keep: Iterable[str], *, at: datetime,
                      closable: Callable[[str], bool] | None = None) -> list[str]:
        gone = [k for k in self.rows if k.startswith(scope + "|") and k not in set(keep) and (closable or bool)(k)]
        for key in gone:
            del self.rows[key]
        self.closed += gone
        return gone


def test_an_opportunity_is_notified_once_while_it_lasts_and_again_when_it_returns() -> None:
    scanner, store, clock = rig({"a": book("29990", "30000"), "b": book("30120", "30130")})
    memory = MemoryStore()
    tracker = OpportunityTracker(memory, clock=clock, touch_every_ms=1000)
    for _ in range(20):
        clock.advance(100)
        store.put("a", "BTC/USDT", book("29990", "30000"))
        store.put("b", "BTC/USDT", book("30120", "30130"))
        result = scanner.evaluate("BTC/USDT")
        tracker.observe("cross_venue:BTC/USDT", [result.opportunity] if result.opportunity else [])
    assert len(memory.notified) == 1 and memory.rows[memory.notified[0]]["observations"] >= 10
    store.put("b", "BTC/USDT", book("29995", "30005"))  # gone
    update = tracker.observe("cross_venue:BTC/USDT", [o for o in [scanner.evaluate("BTC/USDT").opportunity] if o])
    assert update.closed == (memory.notified[0],) and memory.closed == [memory.notified[0]]
    store.put("b", "BTC/USDT", book("30120", "30130"))  # back: a new episode, a new message
    tracker.observe("cross_venue:BTC/USDT", [scanner.evaluate("BTC/USDT").opportunity])
    assert len(memory.notified) == 2


def test_a_new_tracker_closes_what_an_earlier_process_left_open_in_its_scope() -> None:
    memory = MemoryStore()
    memory.rows["cross_venue:BTC/USDT|buy:BTC/USDT@a,sell:BTC/USDT@b"] = {"key": "..."}
    memory.rows["cross_venue:ETH/USDT|buy:ETH/USDT@a,sell:ETH/USDT@b"] = {"key": "..."}
    OpportunityTracker(memory).observe("cross_venue:BTC/USDT", [])
    assert memory.closed == ["cross_venue:BTC/USDT|buy:BTC/USDT@a,sell:BTC/USDT@b"]  # other scopes untouched


def test_a_symbol_on_one_venue_is_refused() -> None:
    store = BookStore(ManualClock(T0))
    with pytest.raises(ArbitrageError, match="listed on 1 venue"):
        CrossVenueScanner({"BTC/USDT": [Listing(venue="a", symbol="BTC/USDT")]}, store, Size.base(1))


def test_listings_refuse_a_missing_symbol_and_take_another_quote_only_through_a_rate() -> None:
    from quantdesk.arb.feeds import Venue, listings_for

    def venue(name: str, *symbols: str) -> Venue:
        return Venue(name=name, exchange=None, markets={s: {"symbol": s, "taker": 0.001} for s in symbols})

    venues = {"a": venue("a", "BTC/USDT", "USDC/USDT"), "b": venue("b", "BTC/USDC", "ETH/USDC")}
    with pytest.raises(ArbitrageError, match=r"BTC/USDT is not listed on venue b: it lists BTC/USDC; .*"
                                             r"--rate USDC/USDT@VENUE"):
        listings_for(venues, ["BTC/USDT"])
    found = listings_for(venues, ["BTC/USDT"], rates=[RateSeries.parse("USDC/USDT@a")], taker_fee_bps={"b": 7.5})
    assert [(x.venue, x.symbol, x.taker_fee) for x in found["BTC/USDT"]] == [("a", "BTC/USDT", D("0.001")),
                                                                             ("b", "BTC/USDC", D("0.00075"))]
    with pytest.raises(ArbitrageError, match="SOL/USDT is not listed on venue a: check the symbol"):
        listings_for(venues, ["SOL/USDT"])


def test_arb_settings_come_from_quantdesk_toml_and_options_win(quantdesk_home: Any) -> None:
    from quantdesk.arb.config import ArbConfig
    from quantdesk.core.errors import ConfigError

    (quantdesk_home / "quantdesk.toml").write_text(
        '[arb]\nmin_edge_bps = 4\nrates = ["USDC/USDT@a"]\n[arb.taker_fee_bps]\na = 7.5\n'
        '[arb.transfer_costs]\nBTC = 0.0002\n"b:USDT" = 1\n')
    config = ArbConfig.load(taker_fee_bps=["a=5"], transfer_costs=["ETH=0.001"])
    assert config.min_edge_bps == 4 and config.taker_fee_bps == {"a": D("5")}
    assert config.transfer_costs == {"BTC": D("0.0002"), "b:USDT": D("1"), "ETH": D("0.001")}
    assert [r.name for r in config.rates] == ["USDC/USDT@a"]
    assert ArbConfig.load(min_edge_bps=0).min_edge_bps == 0
    with pytest.raises(ConfigError, match="--transfer-cost 'BTC' is not NAME=NUMBER"):
        ArbConfig.load(transfer_costs=["BTC"])


def test_a_quote_size_spends_that_much_on_the_cheapest_venue() -> None:
    asks = {"bids": [["29990", "1"]], "asks": [["30000", "0.5"], ["30010", "5"]]}
    bids = {"bids": [["30150", "5"]], "asks": [["30160", "5"]]}
    scanner, _, _ = rig({"a": asks, "b": bids}, size=Size.quote("30000"))
    found = scanner.evaluate("BTC/USDT").opportunity
    assert found is not None and found.size == D("30000") and found.size_unit == "quote"
    exact = cross_venue_edge(asks, bids, Size.quote("30000"), buy_fee=FEE, sell_fee=FEE)
    assert found.legs[0].qty == exact.qty == D("0.5") + D("15000") / D("30010")
    assert found.edge_bps == exact.edge_bps
