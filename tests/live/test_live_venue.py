"""The live runner against the simulated venue (real ccxt client over HTTP), bar by bar on a manual clock."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from tests.live.conftest import candles, make_deployment

STEP_MS = 60_000


class Alerts:
    """A notifier fake: keeps every notification."""

    def __init__(self) -> None:
        self.events: list[Any] = []

    def notify(self, event: Any) -> bool:
        self.events.append(event)
        return True


@pytest.fixture
def venue_setup(flip_strategy: str, quantdesk_home: Any) -> Any:
    from quantdesk.core.clock import ManualClock
    from quantdesk.lake import Lake
    from quantdesk.ledger import Ledger
    from quantdesk.venue import SimulatedVenue, binance_client

    frame = candles(400)
    start_ms = int(frame["ts"][200].timestamp() * 1000)
    clock = ManualClock(start_ms + 1)
    with SimulatedVenue({"BTC/USDT": frame}, clock=clock) as venue:
        ledger = Ledger(clock=clock)
        make_deployment(ledger, "flip-live", strategy=flip_strategy, stage="live", venue="sim", exchange="sim")
        yield {"venue": venue, "clock": clock, "ledger": ledger, "lake": Lake(clock=clock),
               "exchange": binance_client(venue)}
        ledger.close()


def _runner(setup: dict[str, Any], alerts: Alerts | None = None) -> Any:
    from quantdesk.live.service import build_runner

    return build_runner(setup["ledger"], "flip-live", clock=setup["clock"], lake=setup["lake"],
                        exchange=setup["exchange"], notifier=alerts or Alerts())


def _advance(setup: dict[str, Any], bars: int = 1) -> int:
    venue = setup["venue"]
    venue.advance(by=bars * STEP_MS)
    now = setup["clock"].now_ms()
    return now - now % STEP_MS - STEP_MS


def test_live_runner_trades_on_each_target_change_and_ledger_matches_venue(venue_setup: Any) -> None:
    runner = _runner(venue_setup)
    runner.start()
    outcomes = []
    for _ in range(12):
        outcomes.append(runner.step(_advance(venue_setup)))
    assert all(o.ok for o in outcomes), [o.detail for o in outcomes if not o.ok]
    sent = [o for out in outcomes for o in out.orders]
    assert len(sent) >= 3  # the flip strategy changes target every 3 bars
    venue, ledger = venue_setup["venue"], venue_setup["ledger"]
    venue_ids = [o.client_order_id for o in venue.orders()]
    assert len(venue_ids) == len(set(venue_ids)) == len(sent)
    assert {o.client_order_id for o in ledger.orders(deployment="flip-live")} == set(venue_ids)
    assert {str(t.trade_id) for t in venue.trades()} == {f.trade_id for f in ledger.fills(venue="sim")}
    base = venue.balances().get("BTC", (Decimal(0), Decimal(0)))
    assert ledger.position("BTC/USDT", venue="sim") == base[0] + base[1]


def test_restart_rederives_the_same_order_id_and_sends_nothing_twice(venue_setup: Any) -> None:
    runner = _runner(venue_setup)
    runner.start()
    bar = _advance(venue_setup)
    while not runner.step(bar).orders:
        bar = _advance(venue_setup)
    before = len(venue_setup["venue"].orders())
    again = _runner(venue_setup)  # a restarted process: fresh runner, same ledger and venue
    again.start()
    outcome = again.step(bar)  # it re-processes the same bar
    assert outcome.ok
    assert len(venue_setup["venue"].orders()) == before
    assert all(o.code == "ALREADY_SUBMITTED" for o in outcome.orders)


def test_the_runner_takes_bar_closes_from_the_stream_and_rest_only_fills_what_it_lacks(
    venue_setup: Any, quantdesk_home: Any,
) -> None:
    from quantdesk.live.service import build_runner
    from quantdesk.venue.streams import KlineStreams

    venue = venue_setup["venue"]
    streams = KlineStreams(venue).start()
    (quantdesk_home / "quantdesk.toml").write_text(
        f'[venues.sim]\nexchange = "binance"\napi_url = "{venue.url}"\nws_url = "{streams.url}"\n'
        'options = { defaultType = "spot", fetchCurrencies = false, fetchMargins = false }\n')
    try:
        runner = build_runner(venue_setup["ledger"], "flip-live", clock=venue_setup["clock"], lake=venue_setup["lake"],
                              exchange=venue_setup["exchange"], notifier=Alerts(), stream=True)
        updater = runner.market.updater
        try:
            runner.start()
            klines_before = venue.request_count("klines")
            outcomes = [runner.step(_advance(venue_setup)) for _ in range(12)]
        finally:
            updater.close()
    finally:
        streams.stop()
    assert all(o.ok for o in outcomes), [o.detail for o in outcomes if not o.ok]
    assert updater.from_stream >= 10, (updater.from_stream, updater.from_rest)
    # the first refresh loads history over REST; after that the stream answers every bar close
    assert venue.request_count("klines") - klines_before <= updater.from_rest * 3
    ledger = venue_setup["ledger"]
    assert {o.client_order_id for o in ledger.orders(deployment="flip-live")} == {o.client_order_id
                                                                                 for o in venue.orders()}
    assert len(venue.orders()) >= 3
