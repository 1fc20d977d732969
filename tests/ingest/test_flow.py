"""The Prefect ingest flow, run under prefect_test_harness against the simulated venue."""

from __future__ import annotations

import importlib.util
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from quantdesk.core.clock import ManualClock
from quantdesk.core.config_file import update_config
from quantdesk.core.settings import config_path
from quantdesk.lake import Lake
from quantdesk.venue import SimulatedVenue

from .test_ingest_venue import _candles

pytestmark = [pytest.mark.integration, pytest.mark.slow]

FLOW_FILE = Path(__file__).resolve().parents[2] / "flows" / "ingest.py"


def _load_flow_module():
    spec = importlib.util.spec_from_file_location("flows_ingest", FLOW_FILE)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _venue_and_config(bars: int) -> tuple[SimulatedVenue, datetime]:
    end = datetime(2024, 1, 1, tzinfo=UTC) + timedelta(minutes=bars)
    venue = SimulatedVenue({"BTC/USDT": _candles(bars)}, clock=ManualClock(end)).start()
    update_config(config_path(), "venues", "sim", {"exchange": "binance", "api_url": venue.url})
    return venue, end


def test_ingest_task_body_fills_the_lake() -> None:
    module = _load_flow_module()
    venue, end = _venue_and_config(300)
    with venue:
        report = module.ingest_symbol.fn("sim", "BTC/USDT", "1m", "2024-01-01", end.isoformat())
    assert (report["symbol"], report["fetched"]) == ("BTC/USDT", 300)
    assert Lake().candles("BTC/USDT", "1m", exchange="sim").height == 300


def test_ingest_flow_under_the_test_harness(tmp_path: Path) -> None:
    # no skip when the server cannot start: a Prefect server broken by a lock bump must fail here
    from tests.prefect_servers import logged_test_harness

    module = _load_flow_module()
    venue, end = _venue_and_config(300)
    with venue, logged_test_harness(tmp_path / "server.log"):
        reports = module.ingest_flow(venue="sim", timeframe="1m", symbols=["BTC/USDT"], since="2024-01-01",
                                     until=end.isoformat())
    assert [(r["symbol"], r["fetched"]) for r in reports] == [("BTC/USDT", 300)]
    assert Lake().candles("BTC/USDT", "1m", exchange="sim").height == 300
