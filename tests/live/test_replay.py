"""Replay follows the backtest's execution semantics exactly: same targets, same fills (1e-9)."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import numpy as np
import polars as pl
import pytest
from typer.testing import CliRunner

from tests.live.conftest import candles, make_deployment

REL = 1e-9


def _spec(strategy: str = "sma_cross", params: dict | None = None, **kw: object):  # type: ignore[no-untyped-def]
    from quantdesk.core.costs import CostModel, MarketRules
    from quantdesk.live import RunSpec

    return RunSpec(name="replay-test", strategy=strategy, params={"fast": 5, "slow": 20} if params is None else params,
                   symbols=("BTC/USDT",), timeframe="1m", capital=10_000.0,
                   cost=CostModel(fee_bps=10, slippage_bps=3),
                   rules={"BTC/USDT": MarketRules(lot_step=0.001, min_qty=0.002)}, **kw)  # type: ignore[arg-type]


def _backtest(spec, frame: pl.DataFrame):  # type: ignore[no-untyped-def]
    from quantdesk.backtest import backtest

    return backtest(spec.strategy, {"BTC/USDT": frame}, params=dict(spec.params), cost=spec.cost,
                    rules=spec.rules["BTC/USDT"], initial_cash=spec.capital, timeframe="1m", store=False,
                    lookahead_samples=0, allow_short=spec.allow_short)


@pytest.mark.parametrize("strict", [False, True], ids=["fast", "strict"])
def test_replay_fills_equal_backtest_orders(strict: bool) -> None:
    from quantdesk.live import replay

    frame = candles(600, seed=3)
    spec = _spec()
    bt = _backtest(spec, frame)
    end = frame["ts"][-1] + timedelta(minutes=1)
    result = replay(spec, frame["ts"][0], end, frames={"BTC/USDT": frame}, strict=strict, risk={})
    assert result.mode == ("strict" if strict else "fast")
    assert result.targets["target"].to_list() == bt.positions["target_BTC/USDT"].to_list()
    orders = bt.orders
    assert len(orders) > 5 and len(result.fills) == len(orders)
    assert result.fills["ts"].to_list() == orders["ts"].to_list()
    assert result.fills["side"].to_list() == orders["side"].to_list()
    for mine, theirs in (("qty", "qty"), ("price", "price"), ("fee", "fees")):
        np.testing.assert_allclose(result.fills[mine].to_numpy(), orders[theirs].to_numpy(), rtol=REL)
    np.testing.assert_allclose(result.equity["equity"].to_numpy(), bt.equity["equity"].to_numpy(), rtol=REL)


def test_fast_replay_refuses_a_strategy_that_looks_ahead(tmp_path: Path) -> None:
    from quantdesk.core.errors import LookaheadError
    from quantdesk.live import replay

    peek = tmp_path / "peek.py"
    peek.write_text(
        "import polars as pl\nfrom quantdesk.strategies import Strategy\n\n"
        "class Peek(Strategy):\n"
        "    def target(self, candles):\n"
        "        return candles['close'].shift(-1).is_not_null().cast(pl.Float64)\n"
    )
    frame = candles(300)
    spec = _spec(strategy=f"{peek}:Peek", params={})
    with pytest.raises(LookaheadError, match="--strict"):
        replay(spec, frame["ts"][0], frame["ts"][-1], frames={"BTC/USDT": frame}, risk={})
    strict = replay(spec, frame["ts"][0], frame["ts"][-1], frames={"BTC/USDT": frame}, strict=True, risk={})
    assert strict.bars == 299  # strict replay is allowed: it cannot see the future


def test_replay_never_writes_to_the_real_ledger(flip_strategy: str) -> None:
    from quantdesk.lake import Lake
    from quantdesk.ledger import Ledger
    from quantdesk.live import replay

    frame = candles(300)
    Lake().write(frame, exchange="paper", symbol="BTC/USDT", timeframe="1m")
    with Ledger() as ledger:
        deployment = make_deployment(ledger, "flip-replay", strategy=flip_strategy)
        result = replay(deployment, frame["ts"][0], frame["ts"][-1])
        assert len(result.fills) > 10
        assert ledger.orders(deployment="flip-replay") == [] and ledger.fills() == []


def test_cli_replay_prints_one_json_document(flip_strategy: str) -> None:
    import json

    from quantdesk.cli import app
    from quantdesk.lake import Lake
    from quantdesk.ledger import Ledger

    frame = candles(200)
    Lake().write(frame, exchange="paper", symbol="BTC/USDT", timeframe="1m")
    with Ledger() as ledger:
        make_deployment(ledger, "flip-cli", strategy=flip_strategy)
    result = CliRunner().invoke(app, ["run", "flip-cli", "--replay", "--start", "2024-01-01T00:00",
                                      "--end", "2024-01-01T03:00", "--strict", "--json"])
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    assert doc["mode"] == "strict" and doc["bars"] == 180 and doc["fills"] > 10
    bad = CliRunner().invoke(app, ["run", "flip-cli", "--replay"])
    assert bad.exit_code != 0 and "--start" in bad.output


def test_strict_replay_treats_a_data_gap_as_the_backtest_does() -> None:
    from quantdesk.live import replay

    frame = candles(700, seed=4)
    gapped = pl.concat([frame.head(300), frame.slice(320)])  # a 20-minute outage
    spec = _spec(params={"fast": 3, "slow": 8})
    bt = _backtest(spec, gapped)
    result = replay(spec, gapped["ts"][0], gapped["ts"][-1] + timedelta(minutes=1), frames={"BTC/USDT": gapped},
                    strict=True, risk={})
    assert len(result.fills) == len(bt.orders) > 5
    np.testing.assert_allclose(result.fills["qty"].to_numpy(), bt.orders["qty"].to_numpy(), rtol=REL)
    assert result.fills["ts"].to_list() == bt.orders["ts"].to_list()
