"""Sweeps on a real Dask cluster: a `dask scheduler` and two `dask worker` processes started here.

The distributed sweep must equal the local one value for value, use both workers, load a
strategy from a file on them, and fail with the fix when no scheduler answers.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from quantdesk.backtest.sweep import sweep
from quantdesk.core import CostModel
from quantdesk.core.errors import BacktestError

from ..dask_cluster import dask_cluster, free_port

pytestmark = [pytest.mark.integration, pytest.mark.xdist_group("dask")]

FADE = """
import polars as pl
from quantdesk.indicators import zscore
from quantdesk.strategies import Strategy, param

class Fade(Strategy):
    window = param(20, min=5, max=500)
    entry = param(1.5, min=0.5, max=5.0)

    def target(self, candles):
        z = zscore(candles["close"], self.window)
        return pl.select(pl.when(z < -self.entry).then(1.0).when(z > self.entry).then(0.0)
                         .otherwise(None).forward_fill().fill_null(0.0)).to_series()
"""


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with dask_cluster(tmp_path_factory.mktemp("dask")) as address:
        yield address


@pytest.mark.parametrize("strategy", ["sma_cross", "rsi_reversion", "file"])
def test_a_sweep_on_dask_equals_the_local_sweep(cluster: str, make_candles, tmp_path: Path, strategy: str) -> None:  # noqa: ANN001
    frame = make_candles(1_500, seed=4)
    if strategy == "file":
        path = tmp_path / "fade.py"
        path.write_text(FADE)
        strategy, grid = f"{path}:Fade", {"window": [10, 20, 40, 80], "entry": [1.0, 1.5, 2.0, 2.5]}
    elif strategy == "sma_cross":
        grid = {"fast": [3, 5, 8, 13], "slow": [20, 30, 50, 80]}
    else:
        grid = {"period": [7, 14, 21], "oversold": [20.0, 25.0, 30.0], "exit_level": [50.0, 55.0]}
    kw = dict(grid=grid, cost=CostModel(fee_bps=10, slippage_bps=1), store=False)
    local = sweep(strategy, frame, **kw)
    remote = sweep(strategy, frame, dask=cluster, **kw)
    assert remote.results.equals(local.results)  # value for value, ranking included
    assert remote.overfitting == local.overfitting
    assert len(remote.workers) == 2 and local.workers == ()


def test_no_scheduler_is_a_clear_error(make_candles) -> None:  # noqa: ANN001
    from quantdesk.backtest.distributed import DaskSweeper

    address = f"tcp://127.0.0.1:{free_port()}"
    with pytest.raises(BacktestError, match=r"no Dask scheduler answers at tcp://127.0.0.1:\d+.*dask scheduler"), \
            DaskSweeper(address, "sma_cross", {"x": make_candles(50)}, connect_timeout_s=1):
        pass


@pytest.mark.parametrize("strategy", ["sma_cross", "rsi_reversion"])
def test_a_walk_forward_on_dask_equals_the_local_one(cluster: str, make_candles, strategy: str) -> None:  # noqa: ANN001
    from quantdesk.backtest.walkforward import walk_forward

    frame = make_candles(600, seed=6)  # hourly bars: three 10-day train / 5-day test windows
    grid = (["fast=3:12:3", "slow=20:60:20"] if strategy == "sma_cross"
            else ["period=7:14:7", "oversold=20:30:10"])  # vectorbt per combination: keep it small
    kw = dict(grid=grid, train="10d", test="5d", store=False, cost=CostModel(fee_bps=10))
    local = walk_forward(strategy, frame, **kw)
    remote = walk_forward(strategy, frame, dask=cluster, **kw)
    assert remote.windows.equals(local.windows) and remote.equity.equals(local.equity)
    assert remote.metrics == local.metrics


def test_the_cli_sweep_runs_on_the_cluster(cluster: str, quantdesk_home: Path) -> None:
    import json

    from typer.testing import CliRunner

    from quantdesk.cli import app
    from quantdesk.lake import Lake, write_sample

    write_sample(Lake(), symbols=1, days=3)
    args = ["sweep", "sma_cross", "--symbol", "BTC/USDT", "--timeframe", "1m", "--grid", "fast=3:9:3",
            "--grid", "slow=20:40:10", "--json"]
    here = CliRunner().invoke(app, args)
    there = CliRunner().invoke(app, [*args, "--dask", cluster])
    assert here.exit_code == 0 and there.exit_code == 0, there.output
    a, b = json.loads(here.stdout), json.loads(there.stdout)
    assert a["top"] == b["top"] and a["combinations"] == b["combinations"] == 9
