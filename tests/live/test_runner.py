"""The runner fails closed: stale data, a raising strategy, a ledger/venue mismatch, a changed code hash."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import polars as pl
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


class FrameMarket:
    """Candles in memory; `hide_from` makes bars at or after it missing (stale data)."""

    def __init__(self, frame: pl.DataFrame) -> None:
        self.frame = frame
        self.hide_from: int | None = None

    def refresh(self, bar_ms: int) -> None:
        """Nothing to fetch."""

    def window(self, bar_ms: int, bars: int) -> dict[str, pl.DataFrame]:
        ts = pl.col("ts").cast(pl.Datetime("ms", "UTC")).cast(pl.Int64)
        hi = bar_ms if self.hide_from is None else min(bar_ms, self.hide_from - STEP_MS)
        part = self.frame.filter((ts <= hi) & (ts > bar_ms - bars * STEP_MS))
        return {"BTC/USDT": part}


class BrokenVenue:
    """A paper broker wrapper whose venue reports an order the ledger cannot reconcile."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.name = inner.name

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)

    def balances(self) -> dict[str, Any]:
        from quantdesk.core.errors import VenueError

        raise VenueError("balances endpoint down")


def _runner(ledger: Any, frame: pl.DataFrame, strategy: str, alerts: Alerts, *, broker: Any = None,
            pin_check: Any = None, clock: Any = None) -> tuple[Any, FrameMarket]:
    from quantdesk.broker import GatedBroker, PaperBroker
    from quantdesk.live import Runner, RunSpec
    from quantdesk.promotion import get_deployment
    from quantdesk.risk import RiskConfig, RiskGate

    spec = RunSpec.from_deployment(get_deployment(ledger, "flip"))
    paper = broker or PaperBroker(name="paper", clock=clock, cost_model=spec.cost)
    gate = RiskGate(RiskConfig.from_dict({}), clock, ledger)
    gated = GatedBroker(paper, ledger, gate, venue="paper", clock=clock, notifier=alerts)
    market = FrameMarket(frame)
    runner = Runner(spec, ledger=ledger, gated=gated, market=market, clock=clock, notifier=alerts,
                    pin_check=pin_check, reconcile_every_bar=True)
    return runner, market


@pytest.fixture
def setup(flip_strategy: str) -> Any:
    from quantdesk.core.clock import ManualClock
    from quantdesk.ledger import Ledger

    frame = candles(200)
    clock = ManualClock(int(frame["ts"][100].timestamp() * 1000))
    with Ledger(clock=clock) as ledger:
        make_deployment(ledger, "flip", strategy=flip_strategy, params={"period": 1})
        yield {"ledger": ledger, "frame": frame, "clock": clock, "strategy": flip_strategy}


def _bar(frame: pl.DataFrame, i: int) -> int:
    return int(frame["ts"][i].timestamp() * 1000)


def test_a_healthy_bar_sends_the_order_the_target_asks_for(setup: dict[str, Any]) -> None:
    alerts = Alerts()
    runner, _ = _runner(setup["ledger"], setup["frame"], setup["strategy"], alerts, clock=setup["clock"])
    runner.start()
    outcomes = [runner.step(_bar(setup["frame"], i)) for i in range(100, 104)]
    assert all(o.ok for o in outcomes)
    assert sum(len(o.orders) for o in outcomes) >= 3  # period 1: the target flips every bar
    assert setup["ledger"].risk_events(deployment="flip") == []


def test_stale_data_places_no_order_and_alerts(setup: dict[str, Any]) -> None:
    alerts = Alerts()
    runner, market = _runner(setup["ledger"], setup["frame"], setup["strategy"], alerts, clock=setup["clock"])
    runner.start()
    market.hide_from = _bar(setup["frame"], 101)
    outcome = runner.step(_bar(setup["frame"], 101))
    assert outcome.skipped == "RUNNER_STALE_DATA" and not outcome.orders
    assert setup["ledger"].orders(deployment="flip") == []
    assert [e.code for e in setup["ledger"].risk_events(deployment="flip")] == ["RUNNER_STALE_DATA"]
    assert any("RUNNER_STALE_DATA" in e.title for e in alerts.events)


def test_a_raising_strategy_places_no_order_and_alerts(setup: dict[str, Any], tmp_path: Path) -> None:
    from quantdesk.ledger.registry import update_deployment

    bad = tmp_path / "bad.py"
    bad.write_text(
        "from quantdesk.strategies import Strategy\n\n"
        "class Bad(Strategy):\n"
        "    def target(self, candles):\n"
        "        raise ZeroDivisionError('boom')\n"
    )
    update_deployment(setup["ledger"], "flip", {"strategy_ref": f"{bad}:Bad", "params": "{}"})
    alerts = Alerts()
    runner, _ = _runner(setup["ledger"], setup["frame"], setup["strategy"], alerts, clock=setup["clock"])
    runner.start()
    outcome = runner.step(_bar(setup["frame"], 101))
    assert outcome.skipped == "RUNNER_STRATEGY_ERROR" and "boom" in outcome.detail
    assert setup["ledger"].orders(deployment="flip") == []
    assert any(e.code == "RUNNER_STRATEGY_ERROR" for e in setup["ledger"].risk_events(deployment="flip"))
    assert alerts.events


def test_reconciliation_mismatch_places_no_order_and_alerts(setup: dict[str, Any]) -> None:
    from quantdesk.broker import PaperBroker
    from quantdesk.core.errors import ReconciliationError

    alerts = Alerts()
    broken = BrokenVenue(PaperBroker(name="paper", clock=setup["clock"]))
    runner, _ = _runner(setup["ledger"], setup["frame"], setup["strategy"], alerts, broker=broken,
                        clock=setup["clock"])
    with pytest.raises(ReconciliationError):
        runner.start()
    assert any(e.code == "RUNNER_RECONCILIATION_MISMATCH" for e in setup["ledger"].risk_events(deployment="flip"))
    # a mismatch found at a later bar: no order for that bar either
    runner.gated.last_report = None
    outcome = runner.step(_bar(setup["frame"], 101))
    assert outcome.skipped == "RUNNER_RECONCILIATION_MISMATCH"
    assert setup["ledger"].orders(deployment="flip") == []
    assert any("RUNNER_RECONCILIATION_MISMATCH" in e.title for e in alerts.events)


def test_a_changed_strategy_source_blocks_the_pinned_deployment(setup: dict[str, Any]) -> None:
    from quantdesk.core.errors import PromotionError
    from quantdesk.promotion import check_pinned, get_deployment

    alerts = Alerts()
    ledger = setup["ledger"]
    runner, _ = _runner(ledger, setup["frame"], setup["strategy"], alerts, clock=setup["clock"],
                        pin_check=lambda: check_pinned(get_deployment(ledger, "flip")))
    runner.start()
    assert runner.step(_bar(setup["frame"], 101)).ok
    path = Path(setup["strategy"].split(":")[0])
    path.write_text(path.read_text() + "\n# edited after promotion\n")
    before = len(ledger.orders(deployment="flip"))
    outcome = runner.step(_bar(setup["frame"], 102))
    assert outcome.skipped == "RUNNER_CODE_HASH_CHANGED"
    assert len(ledger.orders(deployment="flip")) == before
    restarted, _ = _runner(ledger, setup["frame"], setup["strategy"], alerts, clock=setup["clock"],
                           pin_check=lambda: check_pinned(get_deployment(ledger, "flip")))
    with pytest.raises(PromotionError):
        restarted.start()
    assert any("RUNNER_CODE_HASH_CHANGED" in e.title for e in alerts.events)
