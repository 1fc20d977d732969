"""`quantdesk run DEPLOYMENT --once` on paper, and a graceful stop request between bars."""

from __future__ import annotations

import json
import threading
import time
from typing import Any

import pytest
from typer.testing import CliRunner

from tests.live.conftest import candles, make_deployment


@pytest.fixture
def paper(flip_strategy: str, monkeypatch: pytest.MonkeyPatch, operator: str) -> Any:
    from quantdesk.lake import Lake
    from quantdesk.ledger import Ledger

    frame = candles(300)
    Lake().write(frame, exchange="paper", symbol="BTC/USDT", timeframe="1m")
    now_ms = int(frame["ts"][200].timestamp() * 1000) + 30_000  # mid-bar 200: bar 199 just closed
    monkeypatch.setenv("QUANTDESK_CLOCK", f"scaled:{now_ms}:{int(time.time() * 1000)}:0.001")
    with Ledger() as ledger:
        make_deployment(ledger, "flip-paper", strategy=flip_strategy, params={"period": 1})
    return frame


def test_run_once_trades_the_newest_closed_bar_and_records_progress(paper: Any) -> None:
    from quantdesk.cli import app
    from quantdesk.ledger import Ledger
    from quantdesk.promotion import get_deployment

    result = CliRunner().invoke(app, ["run", "flip-paper", "--once", "--json"])
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    [bar] = doc["bars"]
    assert bar["ok"] and bar["bar_ts"] == paper["ts"][199].isoformat()
    with Ledger() as ledger:
        deployment = get_deployment(ledger, "flip-paper")
        assert deployment.last_bar_ts == paper["ts"][199]
        assert deployment.state.value == "stopped"
        assert len(ledger.orders(deployment="flip-paper")) == len(bar["orders"])
    # a second --once in the same bar does nothing: the bar was processed before
    again = CliRunner().invoke(app, ["run", "flip-paper", "--once", "--json"])
    assert again.exit_code == 0 and json.loads(again.stdout)["bars"] == []


def test_run_refuses_a_research_deployment(flip_strategy: str, operator: str) -> None:
    from quantdesk.cli import app
    from quantdesk.ledger import Ledger

    with Ledger() as ledger:
        make_deployment(ledger, "flip-research", strategy=flip_strategy, stage="research")
    result = CliRunner().invoke(app, ["run", "flip-research", "--once"])
    assert result.exit_code != 0 and "research" in result.output


def test_stop_request_finishes_the_current_bar_then_returns(paper: Any) -> None:
    from quantdesk.core.clock import ManualClock
    from quantdesk.ledger import Ledger
    from quantdesk.live.service import run_deployment
    from quantdesk.promotion import get_deployment

    clock = ManualClock(int(paper["ts"][150].timestamp() * 1000) + 1)
    stop = threading.Event()
    seen: list[Any] = []

    def on_bar(outcome: Any) -> None:
        seen.append(outcome)
        if len(seen) == 2:
            stop.set()  # what SIGTERM does: the loop ends after this bar
        clock.advance(60_000)

    with Ledger(clock=clock) as ledger:
        outcomes = run_deployment(ledger, "flip-paper", stop=stop, on_bar=on_bar, clock=clock,
                                  handle_sigterm=False)
        assert len(outcomes) == 2 and all(o.ok for o in outcomes)
        assert get_deployment(ledger, "flip-paper").state.value == "stopped"
