"""`optimize`: seeded Optuna search, resumable from the ledger database, statistics over the trials run."""

from __future__ import annotations

import json
import math
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl
import pytest
from typer.testing import CliRunner

from quantdesk.backtest.optimize import optimize
from quantdesk.backtest.overfitting import deflated_sharpe_ratio
from quantdesk.backtest.space import (
    Categorical,
    FloatRange,
    IntRange,
    check_space,
    parse_space,
    parse_space_spec,
)
from quantdesk.backtest.store import list_runs, load_run
from quantdesk.core.errors import BacktestError
from quantdesk.ledger.studies import study_storage
from quantdesk.strategies import load_strategy


@pytest.fixture(scope="module")
def _ledger_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Migrate one ledger file per module; tests copy it (migrating with fsyncs is slow)."""
    from quantdesk.ledger import upgrade

    path = tmp_path_factory.mktemp("optimize_tpl") / "quantdesk.db"
    upgrade(f"sqlite:///{path}")
    return path


@pytest.fixture
def ledger_url(_ledger_template: Path, tmp_path: Path) -> Callable[[str], str]:
    """Return a factory of migrated SQLite ledger URLs under this test's folder."""
    def make(name: str = "ledger") -> str:
        target = tmp_path / f"{name}.db"
        shutil.copyfile(_ledger_template, target)
        return f"sqlite:///{target}"
    return make


def search(*args: Any, storage_url: str, **kwargs: Any) -> Any:
    """Run `optimize` with its study in the ledger database at `storage_url`, as the CLI does."""
    with study_storage(storage_url) as storage:
        return optimize(*args, storage=storage, **kwargs)


SMA_SPACE = ["fast=2:12", "slow=6:40"]  # overlapping: some proposals have fast >= slow (refused)
RSI_SPACE = ["period=5:30", "oversold=10.0:40.0"]


def _params(result, names=("fast", "slow")) -> list[tuple]:  # noqa: ANN001
    frame = result.trials.sort("number")
    return [tuple(row[n] for n in names) for row in frame.iter_rows(named=True)]


# --- the --space syntax ---------------------------------------------------------------------

def test_space_specs_parse_ints_floats_steps_logs_and_choices() -> None:
    assert parse_space_spec("fast=5:50") == ("fast", IntRange(5, 50))
    assert parse_space_spec("fast=5:50:5") == ("fast", IntRange(5, 50, 5))
    assert parse_space_spec("x=20:40.") == ("x", FloatRange(20.0, 40.0))
    assert parse_space_spec("x=0.001:0.1:log") == ("x", FloatRange(0.001, 0.1, None, True))
    assert parse_space_spec("x=40.0:60.0:0.5") == ("x", FloatRange(40.0, 60.0, 0.5))
    assert parse_space_spec("short=true,false") == ("short", Categorical(("true", "false")))


@pytest.mark.parametrize(("spec", "fix"), [
    ("fast", "name=low:high"),
    ("fast=", "name=low:high"),
    ("fast=5:", "low:high"),
    ("fast=a:b", "must be numbers"),
    ("fast=50:5", "fast=5:50"),
    ("fast=5:50:0", "step must be > 0"),
    ("fast=5:50:x", "a step"),
    ("x=0:1.0:log", "low > 0"),
    ("x=1:2:3:4", "low:high"),
    ("mode=a,,b", "empty choice"),
])
def test_bad_space_specs_name_the_fix(spec: str, fix: str) -> None:
    with pytest.raises(BacktestError, match="space") as caught:
        parse_space([spec])
    assert fix in str(caught.value) and "\n" not in str(caught.value)


def test_space_is_checked_against_the_strategy_parameters() -> None:
    rsi = load_strategy("rsi_reversion")
    fitted = check_space(rsi, parse_space(["oversold=10:40", "short=true,false", "period=5:30"]))
    assert fitted["oversold"] == FloatRange(10.0, 40.0)  # a float parameter searches floats between int bounds
    assert fitted["short"] == Categorical((True, False))
    for specs, fix in [(["luck=1:2"], "its parameters are"),
                       (["period=5.0:30.5"], "give integer bounds like period=5:30"),
                       (["short=0:1"], "short=true,false"),
                       (["period=1:30"], "outside its range"),
                       (["short=maybe"], "is not")]:
        with pytest.raises(BacktestError, match="space") as caught:
            check_space(rsi, parse_space(specs))
        assert fix in str(caught.value), str(caught.value)
    with pytest.raises(BacktestError, match="given twice"):
        parse_space(["fast=1:2", "fast=3:4"])


# --- the search ----------------------------------------------------------------------------

def test_same_seed_same_trials_and_another_seed_other_trials(make_candles, ledger_url) -> None:
    frame = make_candles(300)
    runs = [search("sma_cross", frame, space=SMA_SPACE, trials=12, seed=seed, store=False,
                     storage_url=ledger_url(str(i)))
            for i, seed in enumerate((3, 3, 4))]
    assert _params(runs[0]) == _params(runs[1])
    assert runs[0].trials["value"].to_list() == runs[1].trials["value"].to_list()
    assert _params(runs[0]) != _params(runs[2])


def test_an_interrupted_search_resumes_to_exactly_n_trials(make_candles, ledger_url) -> None:
    frame = make_candles(300)
    url = ledger_url()
    seen: list[int] = []

    def interrupt_after_four(n: int) -> None:
        seen.append(n)
        if len(seen) == 4:
            raise KeyboardInterrupt  # as Ctrl-C between two trials

    with pytest.raises(KeyboardInterrupt):
        search("rsi_reversion", frame, space=RSI_SPACE, trials=10, seed=1, storage_url=url,
                 on_progress=interrupt_after_four)
    resumed = search("rsi_reversion", frame, space=RSI_SPACE, trials=10, seed=1, storage_url=url)
    assert resumed.n_trials == 10 and resumed.ran_now == 6
    numbers = resumed.trials["number"].to_list()
    assert sorted(numbers) == list(range(10))  # no trial run twice, none missing
    params = _params(resumed, ("period", "oversold"))
    assert len(set(params)) == 10  # the resumed sampler does not replay the first draws
    # asking again for the same budget runs nothing; asking for more adds only the difference
    again = search("rsi_reversion", frame, space=RSI_SPACE, trials=10, seed=1, storage_url=url, store=False)
    assert again.ran_now == 0 and _params(again, ("period", "oversold")) == params
    more = search("rsi_reversion", frame, space=RSI_SPACE, trials=12, seed=1, storage_url=url, store=False)
    assert more.n_trials == 12 and more.ran_now == 2
    # another space (or seed, costs, data) is another study
    other = search("rsi_reversion", frame, space=["period=5:20"], trials=2, seed=1, storage_url=url, store=False)
    assert other.study != resumed.study and other.n_trials == 2


def test_deflated_sharpe_uses_the_trials_actually_run(make_candles, ledger_url) -> None:
    frame = make_candles(400)
    result = search("sma_cross", frame, space=SMA_SPACE, trials=16, seed=0, store=False,
                      storage_url=ledger_url())
    of = result.overfitting
    assert of is not None
    refused = result.trials.filter(pl.col("state") == "PRUNED").height
    duplicates = result.trials["duplicate_of"].is_not_null().sum()
    assert result.n_trials == 16 and result.n_invalid == refused
    assert result.n_evaluated == 16 - refused - duplicates
    assert of.n_trials == result.n_evaluated  # not the --trials budget, not the size of the space
    expected = deflated_sharpe_ratio(of.selected_sharpe, n_trials=result.n_evaluated,
                                     sharpe_variance=of.sharpe_variance, n_obs=of.n_obs, skew=of.skew,
                                     kurtosis=of.kurtosis)
    assert of.deflated_sharpe == pytest.approx(expected)
    # the deflation grows with the trial count: the same best with one trial would look better
    alone = deflated_sharpe_ratio(of.selected_sharpe, n_trials=1, sharpe_variance=of.sharpe_variance,
                                  n_obs=of.n_obs, skew=of.skew, kurtosis=of.kurtosis)
    assert alone > of.deflated_sharpe
    assert of.pbo is not None and 0.0 <= of.pbo <= 1.0 and of.n_blocks == 16


def test_each_trial_equals_the_sweep_of_its_parameters_and_is_stored(make_candles, ledger_url) -> None:
    from quantdesk.backtest.sweep import sweep

    frame = make_candles(300)
    result = search("rsi_reversion", frame, space=RSI_SPACE, trials=5, seed=2,
                      storage_url=ledger_url())
    best = result.best_params
    grid = sweep("rsi_reversion", frame, grid={k: [v] for k, v in best.items()}, store=False)
    assert result.trials.row(0, named=True)["sharpe"] == pytest.approx(grid.results.row(0, named=True)["sharpe"])
    run = load_run(result.run_id)
    assert run.kind == "optimize" and run.record["trials"] == 5 and run.record["study"] == result.study
    assert run.record["overfitting"]["n_trials"] == result.n_evaluated and run.record["params"] == best
    stored = run.table("trials")
    assert stored.height == 5 and sorted(stored["number"].to_list()) == list(range(5))
    assert all(math.isfinite(v) for v in stored["value"].to_list())


def test_bad_objective_and_budget_fail_before_any_trial(make_candles) -> None:
    frame = make_candles(200)
    with pytest.raises(BacktestError, match="cannot optimize 'luck'; choose one of"):
        optimize("sma_cross", frame, space=SMA_SPACE, trials=3, objective="luck")
    with pytest.raises(BacktestError, match="--trials 0 must be >= 1"):
        optimize("sma_cross", frame, space=SMA_SPACE, trials=0)
    with pytest.raises(BacktestError, match="has no parameter"):
        optimize("sma_cross", frame, space=["luck=1:2"], trials=3)
    assert list_runs().height == 0  # nothing stored for a refused search


def test_cli_optimize_on_a_sample_lake() -> None:
    from quantdesk.cli import app
    from quantdesk.lake import Lake, write_sample

    write_sample(Lake(), symbols=1, days=6)
    runner = CliRunner()
    args = ["optimize", "sma_cross", "--symbol", "BTC/USDT", "--timeframe", "15m", "--space", "fast=2:12",
            "--space", "slow=8:30", "--trials", "6", "--seed", "5"]
    out = runner.invoke(app, [*args, "--json"])
    assert out.exit_code == 0, out.output
    payload = json.loads(out.stdout)
    assert payload["trials"] == 6 and payload["ran_now"] == 6 and payload["run_id"].startswith("optimize-")
    assert payload["overfitting"]["n_trials"] == payload["evaluated"] and payload["engine"] == "kernel"
    assert payload["study"].startswith("optimize:sma_cross:15m:")
    table = runner.invoke(app, [*args, "--trials", "7"])  # resumes the same study: one more trial
    assert table.exit_code == 0, table.output
    text = " ".join(table.stdout.split())  # the console wraps at its width
    assert "7 trials (1 run now, 6 resumed" in text and "deflated Sharpe ratio" in text
    for bad, fix in [("fast=oops", "fast='oops'"), ("fast=12:2", "fast=2:12")]:
        failed = runner.invoke(app, ["optimize", "sma_cross", "--symbol", "BTC/USDT", "--timeframe", "15m",
                                     "--space", bad, "--trials", "3"])
        assert failed.exit_code != 0 and fix in failed.output and len(failed.output.splitlines()) == 1, failed.output


@pytest.mark.slow  # vectorbt's first compile
def test_multi_asset_strategies_are_searched_through_the_engine(make_candles, ledger_url) -> None:
    pair = {"BTC/USDT": make_candles(200), "ETH/USDT": make_candles(200, seed=3)}
    result = search("momentum_rotation", pair, space=["lookback=5:40"], trials=3, seed=0, store=False,
                      storage_url=ledger_url())
    assert result.engine == "vectorbt" and result.n_trials == 3
    assert np.isfinite(result.trials.filter(pl.col("state") == "COMPLETE")["value"].to_numpy()).all()


def test_a_batch_interrupted_mid_backtest_fails_its_trials_and_the_resume_replaces_them(
        make_candles, ledger_url, monkeypatch: pytest.MonkeyPatch) -> None:
    from quantdesk.backtest import optimize as module

    frame = make_candles(300)
    url = ledger_url()
    real_run, calls = module._Evaluator.run, []

    def interrupted(self, combos):  # noqa: ANN001, ANN202
        calls.append(len(combos))
        if len(calls) == 2:
            raise KeyboardInterrupt  # Ctrl-C inside the second batch's backtests
        return real_run(self, combos)

    monkeypatch.setattr(module._Evaluator, "run", interrupted)
    with pytest.raises(KeyboardInterrupt):
        search("rsi_reversion", frame, space=RSI_SPACE, trials=10, seed=1, storage_url=url, batch=4)
    monkeypatch.setattr(module._Evaluator, "run", real_run)
    resumed = search("rsi_reversion", frame, space=RSI_SPACE, trials=10, seed=1, storage_url=url, batch=4)
    assert resumed.n_trials == 10 and resumed.ran_now == 6
    numbers = resumed.trials["number"].to_list()
    assert len(set(numbers)) == 10 and set(range(4, 8)).isdisjoint(numbers)  # the failed batch is not counted


def test_a_strategy_file_of_ones_own_is_searched_like_a_builtin(make_candles, ledger_url) -> None:
    path = Path(__file__).resolve().parents[2] / "research" / "strategies" / "breakout_with_trend.py"
    result = search(f"{path}:BreakoutWithTrend", make_candles(400), space=["period=5:30", "exit_period=2:20",
                    "trend=10:50"], trials=5, seed=0, store=False, storage_url=ledger_url())
    assert result.engine == "targets" and result.n_trials == 5 and result.study.startswith("optimize:breakout_with_trend")
