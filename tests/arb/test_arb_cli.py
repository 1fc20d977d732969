"""`quantdesk arb ...` as a user types it: the JSON shape, one-line errors for bad input, nothing stored then."""

from __future__ import annotations

import json
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import pytest
from typer.testing import CliRunner

from quantdesk.cli import app
from quantdesk.core.clock import ManualClock
from quantdesk.core.config_file import update_config
from quantdesk.ledger import Ledger
from quantdesk.ledger.opportunities import EVENT_TYPE, LedgerOpportunities
from quantdesk.ledger.outbox import LedgerOutbox
from quantdesk.venue import SimulatedVenue
from quantdesk.venue.book_shape import BookShape
from quantdesk.venue.crosses import cross_spec, implied_cross
from tests.arb.conftest import FEE_BPS, Pair, planted_edge
from tests.live.conftest import candles

pytestmark = pytest.mark.integration
runner = CliRunner()
SCAN = ["arb", "scan", "--venue", "sim-a", "--venue", "sim-b", "--symbol", "BTC/USDT"]


def stored() -> tuple[int, int]:
    with Ledger() as ledger:
        return len(LedgerOpportunities(ledger).history()), len(LedgerOutbox(ledger).history(event_type=EVENT_TYPE))


def test_scan_json_has_the_issues_shape_and_the_planted_edge(pair: Pair) -> None:
    result = runner.invoke(app, [*SCAN, "--size", "0.5", "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert set(data) >= {"opportunities", "stale"} and data["stale"] == []
    [found] = data["opportunities"]
    assert set(found) >= {"kind", "legs", "size", "edge_bps", "profit_quote", "book_age_ms"}
    assert found["kind"] == "cross_venue" and found["size"] == "0.5"
    assert [{k: leg[k] for k in ("venue", "symbol", "side", "qty")} for leg in found["legs"]] == [
        {"venue": "sim-a", "symbol": "BTC/USDT", "side": "buy", "qty": "0.5"},
        {"venue": "sim-b", "symbol": "BTC/USDT", "side": "sell", "qty": "0.5"}]
    assert all(set(leg) >= {"avg_price", "fee"} for leg in found["legs"])
    expected = planted_edge(pair.price(), pair.tick(), Decimal("0.5"), FEE_BPS / 10_000, transfer=Decimal(1))
    assert Decimal(found["edge_bps"]) == expected
    assert stored() == (1, 1)


@pytest.mark.parametrize(("extra", "message"), [
    (["--venue", "nowhere", "--size", "0.5"], "unknown ccxt exchange id 'nowhere'"),
    (["--symbol", "ETH/USDT", "--size", "0.5"], "ETH/USDT is not listed on venue sim-b"),
    (["--size", "5"], "depth exhausted at 5 levels"),
    (["--size", "0"], "size 0 must be a positive number"),
    (["--size", "-0.5"], "size -0.5 must be a positive number"),
    (["--size", "0.000001"], "rounds to 0 at lot step 0.00001"),
    (["--size-quote", "1000", "--size", "1"], "give one size"),
    (["--size", "0.5", "--rate", "USDC"], "rate series 'USDC' is not MARKET@VENUE"),
    (["--size", "0.5", "--max-age-ms", "0"], "max_age_ms 0 must be positive"),
])
def test_bad_input_is_one_line_and_stores_nothing(pair: Pair, extra: list[str], message: str) -> None:
    result = runner.invoke(app, [*SCAN, *extra], env={"COLUMNS": "400"})
    assert result.exit_code != 0
    assert message in result.stderr, result.stderr
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr
    assert result.stdout == ""
    assert stored() == (0, 0)


def test_one_venue_is_not_a_cross_venue_scan(pair: Pair) -> None:
    result = runner.invoke(app, ["arb", "scan", "--venue", "sim-a", "--symbol", "BTC/USDT", "--size", "1"])
    assert result.exit_code != 0 and "needs two or more --venue" in result.stderr


@pytest.fixture
def triangle_venue(quantdesk_home: Path) -> Iterator[SimulatedVenue]:
    """One venue: BTC/USDT, ETH/USDT and the implied ETH/BTC, whose book sits 60 bps above the implied price."""
    frames = {"BTC/USDT": candles(300), "ETH/USDT": candles(300, symbol="ETH/USDT", seed=11)}
    frames["ETH/BTC"] = implied_cross("ETH/BTC", frames)
    shape = BookShape(levels=5, spread_bps=Decimal(2), level_qty=Decimal(2),
                      symbol_offsets_bps={"ETH/BTC": Decimal(60)})
    clock = ManualClock(int(frames["BTC/USDT"]["ts"][200].timestamp() * 1000))
    with SimulatedVenue(frames, clock=clock, book_shape=shape,
                        specs={"ETH/BTC": cross_spec("ETH/BTC", frames)}) as venue:
        update_config(quantdesk_home / "quantdesk.toml", "venues", "sim-c",
                      {"exchange": "binance", "api_url": venue.url, "options": {"fetchMargins": False}})
        yield venue


def test_triangles_finds_the_planted_cycle_and_none_once_fees_remove_it(triangle_venue: SimulatedVenue) -> None:
    result = runner.invoke(app, ["arb", "triangles", "--venue", "sim-c", "--size-quote", "1000", "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    [found] = data["opportunities"]
    assert found["kind"] == "triangular" and found["size"] == "1000"
    assert [(leg["symbol"], leg["side"]) for leg in found["legs"]] == [("ETH/USDT", "buy"), ("ETH/BTC", "sell"),
                                                                      ("BTC/USDT", "sell")]
    # 60 bps planted, three half-spreads (3 bps) and three 10 bps fees: 27 bps at most, lot dust below
    assert Decimal(20) < Decimal(found["edge_bps"]) < Decimal(27)
    assert stored() == (1, 1)
    costly = runner.invoke(app, ["arb", "triangles", "--venue", "sim-c", "--size-quote", "1000", "--json",
                                 "--taker-fee-bps", "sim-c=25"])
    assert costly.exit_code == 0, costly.output
    assert json.loads(costly.stdout)["opportunities"] == []
    assert stored() == (1, 1)  # the first episode is closed, nothing new
    with Ledger() as ledger:
        assert [r.is_open for r in LedgerOpportunities(ledger).history()] == [False]


def test_triangles_refuses_a_base_size_and_an_unknown_start(triangle_venue: SimulatedVenue) -> None:
    unknown = runner.invoke(app, ["arb", "triangles", "--venue", "sim-c", "--size-quote", "1000", "--quote", "XYZ"])
    assert unknown.exit_code != 0 and "XYZ is traded in no market of sim-c" in unknown.stderr
    zero = runner.invoke(app, ["arb", "triangles", "--venue", "sim-c", "--size-quote", "0"])
    assert zero.exit_code != 0 and "size 0 must be a positive number" in zero.stderr


def test_watch_runs_for_its_duration_and_reports_in_json(pair: Pair) -> None:
    pair.ticking.set()
    result = runner.invoke(app, ["arb", "watch", "--venue", "sim-a", "--venue", "sim-b", "--symbol", "BTC/USDT",
                                 "--size", "0.5", "--min-edge-bps", "5", "--duration-s", "3", "--source", "rest",
                                 "--max-age-ms", "5000", "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["evaluations"] > 1 and len(data["opportunities"]) == 1 and data["opened"] == [
        "cross_venue:BTC/USDT|buy:BTC/USDT@sim-a,sell:BTC/USDT@sim-b"]
    assert stored() == (1, 1)


def test_watch_stops_cleanly_on_ctrl_c(pair: Pair) -> None:
    import signal
    import subprocess
    import sys
    import time

    pair.ticking.set()
    command = [str(Path(sys.executable).parent / "quantdesk"), "arb", "watch", "--venue", "sim-a", "--venue", "sim-b",
               "--symbol", "BTC/USDT", "--size", "0.5", "--max-age-ms", "5000"]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 120
    lines = []
    assert process.stdout is not None
    while time.monotonic() < deadline:
        line = process.stdout.readline()
        lines.append(line)
        if line.startswith("opened:"):
            break
    assert lines[-1].startswith("opened: buy BTC/USDT@sim-a → sell BTC/USDT@sim-b"), lines
    process.send_signal(signal.SIGINT)
    out, err = process.communicate(timeout=60)
    assert process.returncode == 0, err
    assert "opportunities opened" in out and "Traceback" not in err
    assert stored() == (1, 1)
