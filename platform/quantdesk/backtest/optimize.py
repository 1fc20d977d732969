"""A search that counts its trials: Optuna's TPE over a strategy's parameters, stored and deflated.

`optimize` is the alternative to the full grid of `sweep` when the space is large. Each trial is one
backtest with the sweep's own machinery (the fused or target kernel for single-symbol spot
strategies, the engine for multi-asset and futures ones), so a trial's metrics equal `sweep`'s for
the same parameters. What a search must not hide it reports: the deflated Sharpe ratio uses the
number of trials actually run, and PBO (CSCV) is computed over those trials' per-block returns.

The study lives in the storage the caller hands in: the CLI hands in the ledger's database
(`quantdesk.ledger.studies`; backtest sits below the ledger, so it never opens it itself). It is named after what defines the
search (strategy and its code, data, space, objective, costs, seed), so an interrupted search
resumes: rerunning the same command runs only the trials still missing. Each trial's metrics and
block statistics are kept in the study's trial attributes, so the resumed search's statistics
cover every trial without rerunning any. The finished search is stored as a run of kind
"optimize" with a `trials` table (one row per trial).

Parameter combinations the strategy's `validate()` refuses (fast >= slow) are not backtested:
they end as PRUNED trials (Optuna's state for "stopped early"), so TPE learns to avoid them, and
they count in the `--trials` budget but not in the deflated Sharpe ratio. A combination TPE
proposes again is not backtested twice: it gets its first trial's value and is not counted again.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import polars as pl

from quantdesk.backtest.data import DataSnapshot, LakeQuery, resolve_data
from quantdesk.backtest.metrics import annualization, bar_returns
from quantdesk.backtest.overfitting import (
    OverfittingReport,
    block_stats_from_returns,
    overfitting_report,
)
from quantdesk.backtest.space import (
    Categorical,
    Dimension,
    FloatRange,
    IntRange,
    check_space,
    parse_space,
)
from quantdesk.backtest.sweep import LOWER_IS_BETTER
from quantdesk.core.clock import Clock
from quantdesk.core.costs import CostModel, MarketRules
from quantdesk.core.errors import BacktestError, StrategyError
from quantdesk.core.timeframes import timeframe_ms
from quantdesk.strategies.base import Strategy
from quantdesk.strategies.loader import load_strategy, strategy_source_hash

__all__ = ["OptimizeResult", "optimize", "study_name"]

_HEADLINE = ("sharpe", "total_return", "max_drawdown", "trades", "win_rate")


@dataclass(frozen=True, slots=True, kw_only=True)
class OptimizeResult:
    """A finished search: every trial (best first), the best parameters and the overfitting statistics."""

    run_id: str | None
    study: str
    strategy: str
    objective: str
    direction: str  # "maximize" or "minimize"
    param_names: tuple[str, ...]
    space: dict[str, str]
    trials: pl.DataFrame  # rank, number, state, params..., metrics...; evaluated trials best first
    n_trials: int  # trials in the study (complete + pruned): the `--trials` budget used
    n_evaluated: int  # distinct parameter sets backtested: the deflated Sharpe's trial count
    n_invalid: int  # refused by validate(), not backtested
    ran_now: int  # trials run by this call (the rest were resumed from the study)
    engine: str
    overfitting: OverfittingReport | None
    snapshot: DataSnapshot
    seed: int

    @property
    def best_params(self) -> dict[str, Any]:
        """Return the parameters of the best evaluated trial."""
        row = self.trials.row(0, named=True)
        return {k: row[k] for k in self.param_names}

    def summary(self, top: int = 20) -> dict[str, Any]:
        """Return a JSON-ready summary: ids, trial counts, overfitting statistics and the best trials."""
        evaluated = self.trials.filter(pl.col("state") == "COMPLETE")
        return {
            "run_id": self.run_id,
            "study": self.study,
            "strategy": self.strategy,
            "objective": self.objective,
            "direction": self.direction,
            "space": self.space,
            "seed": self.seed,
            "engine": self.engine,
            "trials": self.n_trials,
            "evaluated": self.n_evaluated,
            "invalid": self.n_invalid,
            "ran_now": self.ran_now,
            "best_params": self.best_params if evaluated.height else None,
            "best": evaluated.row(0, named=True) if evaluated.height else None,
            "overfitting": asdict(self.overfitting) if self.overfitting else None,
            "top": evaluated.head(top).to_dicts(),
        }


class _Evaluator:
    """One backtest per parameter set, on the sweep's fastest path for the strategy and market."""

    def __init__(self, strategy_cls: type[Strategy], frames: dict[str, pl.DataFrame], snapshot: DataSnapshot, *,
                 data: Any, lake: Any, market: str, leverage: float, n_blocks: int, engine_kw: dict[str, Any]) -> None:
        from quantdesk.backtest.sweep_fast import fast_path_for
        from quantdesk.backtest.sweep_targets import target_path_for

        self.strategy_cls, self.frames, self.snapshot = strategy_cls, frames, snapshot
        self.n_blocks, self.engine_kw = n_blocks, dict(engine_kw)
        self.tf_ms = timeframe_ms(snapshot.timeframe)
        self.futures: dict[str, Any] | None = None
        self.path: Any = None
        if market == "futures":
            from quantdesk.backtest.futures import lake_inputs
            from quantdesk.core.margin import tiers_for

            funding, mark = (lake_inputs(data, next(iter(frames.values())), snapshot.exchange, lake)
                             if isinstance(data, LakeQuery) else (None, None))
            self.futures = {"leverage": leverage, "funding": funding, "mark": mark, "tiers": tiers_for(next(iter(frames)))}
            self.engine_kw["allow_short"] = True
            self.engine = "futures"
        else:
            self.path = fast_path_for(strategy_cls, frames) or target_path_for(strategy_cls, frames)
            self.engine = ("kernel" if type(self.path).__name__ == "FastPath" else "targets") if self.path else "vectorbt"

    def _engine_equity(self, params: dict[str, Any]) -> tuple[dict[str, Any], np.ndarray]:
        common = dict(params=params, timeframe=self.snapshot.timeframe, lookahead_samples=0, store=False,
                      **self.engine_kw)
        if self.futures is not None:
            from quantdesk.backtest.futures import futures_backtest

            result = futures_backtest(self.strategy_cls, self.frames, **self.futures, **common)
        else:
            from quantdesk.backtest.engine import backtest

            result = backtest(self.strategy_cls, self.frames, **common)
        return result.metrics.as_dict(), result.equity["equity"].to_numpy()

    def run(self, combos: list[dict[str, Any]]) -> list[tuple[dict[str, Any], np.ndarray]]:
        """Return (metrics, (n_blocks, 2) CSCV block stats) of one backtest per parameter set.

        On the kernel paths a batch is one call: targets on a thread per core, one kernel pass.
        """
        if not combos:
            return []
        if self.path is not None:
            metrics, blocks = self.path.run(combos, chunk_size=len(combos), n_blocks=self.n_blocks,
                                            timeframe_ms=self.tf_ms, **self.engine_kw)
            return [({k: v[i].item() for k, v in metrics.items()}, blocks[i]) for i in range(len(combos))]
        out = []
        for params in combos:
            metrics, equity = self._engine_equity(params)
            r = bar_returns(equity, self.engine_kw["initial_cash"])
            out.append((metrics, block_stats_from_returns(r[:, None], self.n_blocks)[0]))
        return out

    def returns(self, params: dict[str, Any]) -> np.ndarray:
        """Return the per-bar returns of one backtest of `params` (the deflated Sharpe's sample)."""
        if self.path is not None:
            equity = self.path.equity(params, **self.engine_kw)
        else:
            equity = self._engine_equity(params)[1]
        return bar_returns(equity, self.engine_kw["initial_cash"])


def study_name(strategy: str, code_hash: str, snapshot: DataSnapshot, space: Mapping[str, Dimension], *,
               objective: str, seed: int, setup: Mapping[str, Any]) -> str:
    """Return the study's name: readable head, and a hash of everything that defines the search.

    The same command on the same data resumes the same study; any change (code, candles, space,
    objective, costs, seed, market) starts another.
    """
    key = {
        "strategy": strategy, "code_hash": code_hash, "checksum": snapshot.checksum, "exchange": snapshot.exchange,
        "symbols": list(snapshot.symbols), "timeframe": snapshot.timeframe, "first": snapshot.first_ts,
        "last": snapshot.last_ts, "space": {k: [type(v).__name__, v.describe()] for k, v in sorted(space.items())},
        "objective": objective, "seed": seed, "setup": setup,
    }
    digest = hashlib.sha256(json.dumps(key, sort_keys=True, default=str).encode()).hexdigest()[:16]
    return f"optimize:{strategy}:{snapshot.timeframe}:{digest}"


def _suggest(trial: Any, name: str, dim: Dimension) -> Any:
    if isinstance(dim, Categorical):
        return trial.suggest_categorical(name, list(dim.choices))
    if isinstance(dim, IntRange):
        return trial.suggest_int(name, dim.low, dim.high, step=1 if dim.log else dim.step, log=dim.log)
    assert isinstance(dim, FloatRange)
    return trial.suggest_float(name, dim.low, dim.high, step=None if dim.log else dim.step, log=dim.log)


def _finite(value: Any) -> float | None:
    try:
        f = float(value)
    except (TypeError, ValueError):
        return None
    return f if math.isfinite(f) else None


def optimize(
    strategy: type[Strategy] | str,
    data: pl.DataFrame | dict[str, pl.DataFrame] | LakeQuery,
    *,
    space: Mapping[str, Dimension] | Sequence[str],
    trials: int,
    objective: str = "sharpe",
    seed: int = 0,
    cost: CostModel | None = None,
    rules: MarketRules | None = None,
    initial_cash: float = 10_000.0,
    allow_short: bool = False,
    rebalance: bool = False,
    timeframe: str | None = None,
    market: str = "spot",
    leverage: float = 1.0,
    n_blocks: int = 16,
    storage: Any = None,
    store: bool = True,
    lake: Any = None,
    clock: Clock | None = None,
    on_progress: Callable[[int], None] | None = None,
    batch: int = 4,
) -> OptimizeResult:
    """Search `space` with `trials` seeded TPE trials (resuming the study if it exists); rank and store them.

    `space` is {name: Dimension} or CLI specs like ["fast=5:50", "slow=20:200"]. `trials` is the
    study's total: a rerun after an interruption runs only the missing ones. `on_progress(n)` is
    called as trials finish (the resumed ones first). `storage` is an Optuna storage handed in by the
    caller (the CLI hands in the ledger's: `quantdesk.ledger.studies.study_storage`, as backtest sits
    below the ledger); None keeps the study in memory, with nothing to resume. Trials are proposed
    `batch` at a time (TPE with a constant liar) and backtested together; the batch size is part of
    what makes a seed reproducible, so it is fixed, not the machine's core count.
    Example: `optimize("rsi_reversion", candles, space=["period=5:30", "oversold=10.0:40.0"], trials=100)`.
    """
    import optuna

    if trials < 1:
        raise BacktestError(f"--trials {trials} must be >= 1")
    if batch < 1:
        raise BacktestError(f"--batch {batch} must be >= 1")
    if market not in ("spot", "futures"):
        raise BacktestError(f"market {market!r} is not spot or futures")
    strategy_cls = load_strategy(strategy) if isinstance(strategy, str) else strategy
    dims = check_space(strategy_cls, space if isinstance(space, Mapping) else parse_space(space))
    from quantdesk.backtest.sweep import _METRIC_COLUMNS

    if objective not in _METRIC_COLUMNS:
        raise BacktestError(f"cannot optimize {objective!r}; choose one of {', '.join(_METRIC_COLUMNS)}")
    direction = "minimize" if objective in LOWER_IS_BETTER else "maximize"
    cost, rules = cost or CostModel(), rules or MarketRules()
    frames, snapshot = resolve_data(data, timeframe=timeframe, lake=lake)
    if snapshot.bars < max(n_blocks, 2):
        raise BacktestError(f"a search needs at least {max(n_blocks, 2)} bars, got {snapshot.bars}")
    engine_kw = dict(cost=cost, rules=rules, initial_cash=initial_cash, allow_short=allow_short, rebalance=rebalance)
    evaluator = _Evaluator(strategy_cls, frames, snapshot, data=data, lake=lake, market=market, leverage=leverage,
                           n_blocks=n_blocks, engine_kw=engine_kw)
    code_hash = strategy_source_hash(strategy_cls)
    setup = {"cost": asdict(cost), "rules": asdict(rules), "initial_cash": initial_cash, "allow_short": allow_short,
             "rebalance": rebalance, "market": market, "leverage": leverage, "n_blocks": n_blocks}
    name = study_name(strategy_cls.name, code_hash, snapshot, dims, objective=objective, seed=seed, setup=setup)

    optuna.logging.set_verbosity(optuna.logging.WARNING)  # the progress bar and the table speak instead
    done_states = (optuna.trial.TrialState.COMPLETE, optuna.trial.TrialState.PRUNED)
    storage = storage if storage is not None else optuna.storages.InMemoryStorage()
    try:
        existing = optuna.load_study(study_name=name, storage=storage)
    except KeyError:  # optuna's answer for "no such study": a new search
        existing = None
    done = len(existing.get_trials(deepcopy=False, states=done_states)) if existing is not None else 0
    # Reseeded by how many trials exist, so a resumed search does not replay the first random draws.
    # constant_liar: a batch's later proposals see its earlier ones as running (and poor), so they spread out
    sampler = optuna.samplers.TPESampler(seed=seed + 1_000_003 * done, constant_liar=True)
    study = optuna.create_study(study_name=name, storage=storage, sampler=sampler, direction=direction,
                                load_if_exists=True)
    if on_progress is not None and done:
        on_progress(min(done, trials))
    seen: dict[str, tuple[int, float]] = {
        json.dumps(t.params, sort_keys=True): (t.number, float(t.value))
        for t in study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.COMPLETE,))
        if "duplicate_of" not in t.user_attrs
    }
    remaining = max(trials - done, 0)
    ran = 0
    while ran < remaining:
        asked = [study.ask() for _ in range(min(batch, remaining - ran))]
        told: set[int] = set()
        try:
            _run_batch(study, asked, told, dims=dims, strategy_cls=strategy_cls, evaluator=evaluator,
                       objective=objective, seen=seen)
        finally:  # an interrupted batch (Ctrl-C): its unfinished trials fail, so a resume does not count them
            for trial in asked:
                if trial.number not in told:
                    study.tell(trial, state=optuna.trial.TrialState.FAIL)
        ran += len(asked)
        if on_progress is not None:
            for _ in asked:
                on_progress(1)
    finished = study.get_trials(deepcopy=False, states=done_states)
    result = _result(finished, name=name, strategy_cls=strategy_cls, dims=dims, objective=objective,
                     direction=direction, evaluator=evaluator, snapshot=snapshot, seed=seed,
                     ran_now=remaining, n_blocks=n_blocks)
    if store:
        result = _store(result, code_hash=code_hash, setup=setup, clock=clock)
    return result


def _run_batch(study: Any, asked: list[Any], told: set[int], *, dims: Mapping[str, Dimension],
               strategy_cls: type[Strategy], evaluator: _Evaluator, objective: str,
               seen: dict[str, tuple[int, float]]) -> None:
    """Suggest, backtest and tell one batch of trials; add each told trial's number to `told`."""
    import optuna

    pruned = optuna.trial.TrialState.PRUNED
    to_run: list[tuple[Any, dict[str, Any], str]] = []
    repeats: list[tuple[Any, str]] = []
    for trial in asked:
        params = {k: _suggest(trial, k, d) for k, d in dims.items()}
        try:
            strategy_cls(**params)
        except StrategyError as e:  # refused by validate(): not a backtest, not counted
            trial.set_user_attr("invalid", str(e))
            study.tell(trial, state=pruned)
            told.add(trial.number)
            continue
        key = json.dumps(params, sort_keys=True)
        if key in seen or any(key == k for _, _, k in to_run):
            repeats.append((trial, key))  # TPE proposed a set already run: reuse it, do not count it twice
        else:
            to_run.append((trial, params, key))
    for (trial, _, key), (metrics, blocks) in zip(to_run, evaluator.run([p for _, p, _ in to_run]), strict=True):
        # one attribute, one commit: the metrics and the CSCV block stats the statistics need on resume
        trial.set_user_attr("backtest", {"metrics": {k: _finite(v) for k, v in metrics.items()},
                                         "blocks": np.asarray(blocks, dtype=np.float64).ravel().tolist()})
        value = _finite(metrics.get(objective))
        if value is None:  # no finite objective: backtested, but nothing to rank
            trial.set_user_attr("invalid", f"{objective} is not a finite number")
            study.tell(trial, state=pruned)
        else:
            seen[key] = (trial.number, value)
            study.tell(trial, value)
        told.add(trial.number)
    for trial, key in repeats:
        if key in seen:
            trial.set_user_attr("duplicate_of", seen[key][0])
            study.tell(trial, seen[key][1])
        else:  # a repeat of a set whose objective was not finite
            trial.set_user_attr("invalid", f"{objective} is not a finite number")
            study.tell(trial, state=pruned)
        told.add(trial.number)


def _result(finished: list[Any], *, name: str, strategy_cls: type[Strategy], dims: Mapping[str, Dimension],
            objective: str, direction: str, evaluator: _Evaluator, snapshot: DataSnapshot, seed: int,
            ran_now: int, n_blocks: int) -> OptimizeResult:
    """Rank the study's trials and compute the deflated Sharpe and PBO over the distinct evaluated ones."""
    names = tuple(dims)
    rows, blocks, sharpes = [], [], []
    evaluated = invalid = 0
    for t in sorted(finished, key=lambda t: t.number):
        backtest = t.user_attrs.get("backtest") or {}
        metrics = backtest.get("metrics") or {}
        state = t.state.name
        if "invalid" in t.user_attrs and not metrics:
            invalid += 1
        if metrics and "duplicate_of" not in t.user_attrs:
            evaluated += 1
            blocks.append(np.asarray(backtest["blocks"], dtype=np.float64).reshape(n_blocks, 2))
            sharpes.append(_finite(metrics.get("sharpe")))
        rows.append({"number": t.number, "state": state, **{k: t.params.get(k) for k in names},
                     "value": t.value, "duplicate_of": t.user_attrs.get("duplicate_of"),
                     **{k: metrics.get(k) for k in _HEADLINE}, "metrics": json.dumps(metrics, sort_keys=True)})
    frame = pl.DataFrame(rows, infer_schema_length=None)
    descending = direction == "maximize"
    complete = frame.filter(pl.col("state") == "COMPLETE").sort("value", descending=descending, maintain_order=True)
    ranked = pl.concat([complete.with_row_index("rank", offset=1).with_columns(pl.col("rank").cast(pl.Int64)),
                        frame.filter(pl.col("state") != "COMPLETE").with_columns(
                            pl.lit(None, dtype=pl.Int64).alias("rank")).select(["rank", *frame.columns])],
                       how="vertical_relaxed")
    report = None
    if complete.height:
        best = {k: complete.row(0, named=True)[k] for k in names}
        per_bar = np.array([np.nan if s is None else s for s in sharpes]) / math.sqrt(annualization(evaluator.tf_ms))
        sizes = np.diff([(snapshot.bars * k) // n_blocks for k in range(n_blocks + 1)])
        report = overfitting_report(sharpes=per_bar, selected=0, selected_returns=evaluator.returns(best),
                                    block_stats=np.asarray(blocks) if len(blocks) >= 2 else None, block_sizes=sizes)
    return OptimizeResult(
        run_id=None, study=name, strategy=strategy_cls.name, objective=objective, direction=direction,
        param_names=names, space={k: d.describe() for k, d in dims.items()}, trials=ranked,
        n_trials=len(finished), n_evaluated=evaluated, n_invalid=invalid, ran_now=ran_now, engine=evaluator.engine,
        overfitting=report, snapshot=snapshot, seed=seed,
    )


def _store(result: OptimizeResult, *, code_hash: str, setup: dict[str, Any], clock: Clock | None) -> OptimizeResult:
    from dataclasses import replace

    from quantdesk.backtest.store import save_run

    summary = result.summary(top=0)
    record = {
        "strategy": result.strategy,
        "code_hash": code_hash,
        "study": result.study,
        "space": result.space,
        "seed": result.seed,
        "objective": result.objective,
        "direction": result.direction,
        "metric": result.objective,
        "engine": result.engine,
        "trials": result.n_trials,
        "evaluated": result.n_evaluated,
        "invalid": result.n_invalid,
        "snapshot": asdict(result.snapshot),
        **setup,
        "params": summary["best_params"],
        "metrics": json.loads(summary["best"]["metrics"]) if summary["best"] else None,
        "overfitting": summary["overfitting"],
    }
    run_id = save_run("optimize", record, {"trials": result.trials}, clock=clock)
    return replace(result, run_id=run_id)
