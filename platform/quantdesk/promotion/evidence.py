"""Evidence for a promotion, read from the run store, and the gates checked against it.

- The backtest run (`--run`): strategy, code hash, parameters, data snapshot, metrics
  (max drawdown, trade count) and its lookahead verdict.
- The walk-forward result: a STORED walk-forward run (`quantdesk walkforward`), not one
  computed at promotion (that would take minutes and hide its settings). Given by id, or
  else the newest walk-forward run of the same strategy, code hash, symbols and timeframe.
  Its stitched out-of-sample Sharpe is the `oos_sharpe` gate.
- The deflated Sharpe: from the newest stored sweep of the same strategy and code hash
  (it knows how many trials were run); without one, the backtest's own returns as a single
  trial (the probabilistic Sharpe ratio against zero).
- For live: the drift report of the paper deployment (`quantdesk.parity.drift_report`):
  its span in days and its `drift_bps`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from typing import Any, Protocol

from quantdesk.core.errors import BacktestError, PromotionError, StrategyError
from quantdesk.core.types import Stage
from quantdesk.promotion.gates import GateResult, PromotionGates

__all__ = ["DriftMeasure", "Evidence", "collect_evidence", "evaluate_gates", "with_drift"]


@dataclass(frozen=True, slots=True, kw_only=True)
class Evidence:
    """What a promotion rests on (stored with the promotion request as JSON)."""

    run_id: str
    strategy: str
    strategy_ref: str
    code_hash: str
    current_code_hash: str | None
    params: dict[str, Any]
    snapshot: dict[str, Any]
    initial_cash: float
    cost: dict[str, Any] = field(default_factory=dict)
    rules: dict[str, Any] = field(default_factory=dict)
    allow_short: bool = False
    rebalance: bool = False
    market: str = "spot"  # a futures run's market and leverage carry into the deployment
    leverage: float = 1.0
    sharpe: float | None = None
    max_drawdown: float | None = None
    trades: int | None = None
    lookahead_passed: bool | None = None
    lookahead_detail: str = ""
    walkforward_run_id: str | None = None
    oos_sharpe: float | None = None
    walkforward_detail: str = ""
    deflated_sharpe: float | None = None
    deflated_sharpe_source: str = ""
    paper_days: float | None = None
    drift_bps: float | None = None
    drift_detail: str = ""
    # an ML strategy's pinned model (issue 27): the last artifact's sha256 and its training window
    model: dict[str, Any] | None = None


def _finite(value: Any) -> float | None:
    if value is None:
        return None
    value = float(value)
    return value if math.isfinite(value) else None


def _same_market(record: dict[str, Any], snapshot: dict[str, Any]) -> bool:
    other = record.get("snapshot") or {}
    return list(other.get("symbols") or []) == list(snapshot.get("symbols") or []) and other.get(
        "timeframe"
    ) == snapshot.get("timeframe")


def _market_of(record: dict[str, Any]) -> str:
    return str((record.get("extra") or {}).get("market") or "spot")


def _newest(kind: str, strategy: str, code_hash: str, snapshot: dict[str, Any], market: str = "spot") -> Any | None:
    """The newest run of `kind` of this strategy and code on these symbols, timeframe and market
    (a spot walk-forward is no evidence for a perpetual at leverage, nor the other way round)."""
    from quantdesk.backtest import list_runs, load_run

    for run_id in list_runs(kind)["run_id"].to_list():
        run = load_run(run_id)
        rec = run.record
        if (rec.get("strategy") == strategy and rec.get("code_hash") == code_hash and _same_market(rec, snapshot)
                and _market_of(rec) == market):
            return run
    return None


def _walkforward(walkforward_run_id: str | None, strategy: str, code_hash: str,
                 snapshot: dict[str, Any], market: str = "spot") -> tuple[str | None, float | None, str]:
    from quantdesk.backtest import load_run

    run: Any
    if walkforward_run_id is not None:
        try:
            run = load_run(walkforward_run_id)
        except BacktestError as e:
            return walkforward_run_id, None, str(e)
        rec = run.record
        if run.kind != "walkforward":
            return walkforward_run_id, None, f"run {walkforward_run_id} is a {run.kind} run, not a walk-forward"
        if rec.get("strategy") != strategy or rec.get("code_hash") != code_hash:
            return walkforward_run_id, None, (
                f"walk-forward {walkforward_run_id} is of {rec.get('strategy')} at code hash "
                f"{str(rec.get('code_hash'))[:12]}, not of this run's strategy and code"
            )
        if _market_of(rec) != market:
            return walkforward_run_id, None, (
                f"walk-forward {walkforward_run_id} trades {_market_of(rec)}, this run trades {market}: "
                f"walk {strategy} forward on the same market")
    else:
        run = _newest("walkforward", strategy, code_hash, snapshot, market)
        if run is None:
            hint = " --market futures --leverage N" if market == "futures" else ""
            return None, None, (
                f"no stored {market} walk-forward of {strategy} at this code hash on these symbols and timeframe: "
                f"run `quantdesk walkforward ...{hint}` first (or pass --walkforward RUN_ID)"
            )
    return run.run_id, _finite((run.record.get("metrics") or {}).get("sharpe")), ""


def _deflated_sharpe(run: Any, strategy: str, code_hash: str, snapshot: dict[str, Any],
                     market: str = "spot") -> tuple[float | None, str]:
    sweep = _newest("sweep", strategy, code_hash, snapshot, market)
    if sweep is not None and (sweep.record.get("overfitting") or {}).get("deflated_sharpe") is not None:
        report = sweep.record["overfitting"]
        return _finite(report["deflated_sharpe"]), f"sweep {sweep.run_id} ({report.get('n_trials')} trials)"
    from quantdesk.backtest.metrics import bar_returns
    from quantdesk.backtest.overfitting import deflated_sharpe_ratio

    try:
        equity = run.table("equity")["equity"].to_numpy()
    except BacktestError as e:
        return None, str(e)
    returns = bar_returns(equity, float(run.record.get("initial_cash") or equity[0]))
    if returns.size < 2 or not returns.std(ddof=1) > 0:
        return None, "the backtest's returns are constant: no Sharpe to deflate"
    d = returns - returns.mean()
    m2 = float((d * d).mean())
    value = deflated_sharpe_ratio(
        float(returns.mean() / returns.std(ddof=1)), n_trials=1, sharpe_variance=0.0, n_obs=int(returns.size),
        skew=float((d**3).mean()) / m2**1.5, kurtosis=float((d**4).mean()) / m2**2,
    )
    return _finite(value), "backtest returns as a single trial (no sweep of this code stored)"


def collect_evidence(run_id: str, *, walkforward_run_id: str | None = None) -> Evidence:
    """Read the backtest run `run_id` and the related walk-forward and sweep runs from the run store."""
    from quantdesk.backtest import load_run
    from quantdesk.promotion.pinning import current_code_hash

    try:
        run = load_run(run_id)
    except BacktestError as e:
        raise PromotionError(f"cannot promote on run {run_id!r}: {e}") from e
    if run.kind != "backtest":
        raise PromotionError(
            f"run {run_id} is a {run.kind} run; promote on a backtest run (`quantdesk backtest ...`)"
        )
    rec = run.record
    strategy, ref, code_hash = rec.get("strategy") or "", rec.get("strategy_ref") or "", rec.get("code_hash") or ""
    try:
        current = current_code_hash(ref)
    except StrategyError:
        current = None  # the code-hash gate reports it
    metrics = rec.get("metrics") or {}
    lookahead = rec.get("lookahead")
    snapshot = rec.get("snapshot") or {}
    market = _market_of(rec)
    wf_id, oos, wf_detail = _walkforward(walkforward_run_id, strategy, code_hash, snapshot, market)
    dsr, dsr_source = _deflated_sharpe(run, strategy, code_hash, snapshot, market)
    return Evidence(
        run_id=run_id, strategy=strategy, strategy_ref=ref, code_hash=code_hash, current_code_hash=current,
        params=dict(rec.get("params") or {}), snapshot=snapshot,
        initial_cash=float(rec.get("initial_cash") or 10_000.0), cost=dict(rec.get("cost") or {}),
        rules=dict(rec.get("rules") or {}), allow_short=bool(rec.get("allow_short")),
        rebalance=bool(rec.get("rebalance")),
        market=market,
        leverage=float((rec.get("extra") or {}).get("leverage") or 1.0), sharpe=_finite(metrics.get("sharpe")),
        max_drawdown=_finite(metrics.get("max_drawdown")),
        trades=None if metrics.get("trades") is None else int(metrics["trades"]),
        lookahead_passed=None if lookahead is None else bool(lookahead.get("passed")),
        lookahead_detail="" if lookahead is None else str(lookahead.get("detail") or ""),
        walkforward_run_id=wf_id, oos_sharpe=oos, walkforward_detail=wf_detail,
        deflated_sharpe=dsr, deflated_sharpe_source=dsr_source,
        model=_pinned_model(rec),
    )


def _pinned_model(record: dict[str, Any]) -> dict[str, Any] | None:
    """The run's ML model pin: artifact hash, training window and schedule (not every retrain's hash)."""
    ml = (record.get("extra") or {}).get("ml")
    return None if not ml else {k: v for k, v in ml.items() if k != "artifacts"}


class DriftMeasure(Protocol):
    """What the live gates read from a paper deployment's drift report (`quantdesk.parity.DriftReport`)."""

    @property
    def days(self) -> float: ...

    @property
    def drift_bps(self) -> float | None: ...


def with_drift(evidence: Evidence, report: DriftMeasure | None, detail: str = "") -> Evidence:
    """Return `evidence` with the paper days and drift of a `DriftReport` (None: no paper history)."""
    if report is None:
        return replace(evidence, paper_days=None, drift_bps=None, drift_detail=detail)
    return replace(evidence, paper_days=float(report.days), drift_bps=_finite(report.drift_bps), drift_detail=detail)


def _at_least(name: str, figure: float | int | None, threshold: float | int, missing: str) -> GateResult:
    passed = figure is not None and figure >= threshold
    return GateResult(name=name, passed=passed, figure=figure, threshold=f">= {threshold}",
                      detail=missing if figure is None else "")


def evaluate_gates(evidence: Evidence, gates: PromotionGates, stage: Stage | str) -> list[GateResult]:
    """Check every gate for a promotion to `stage`; return all results (passed and failed) in order."""
    stage = Stage(stage)
    out = [
        GateResult(
            name="code_hash", passed=evidence.current_code_hash == evidence.code_hash,
            figure=(evidence.current_code_hash or "unloadable")[:12], threshold=f"== run's {evidence.code_hash[:12]}",
            detail="" if evidence.current_code_hash == evidence.code_hash
            else "the strategy source changed since the backtest: run the backtest again",
        ),
        GateResult(
            name="lookahead", passed=evidence.lookahead_passed is True or not gates.require_lookahead_pass,
            figure={True: "passed", False: "failed", None: None}[evidence.lookahead_passed], threshold="passed",
            detail="the run has no lookahead verdict: backtest with lookahead_samples > 0"
            if evidence.lookahead_passed is None else evidence.lookahead_detail if not evidence.lookahead_passed else "",
        ),
        _at_least("oos_sharpe", evidence.oos_sharpe, gates.min_oos_sharpe, evidence.walkforward_detail or "no out-of-sample Sharpe"),
        GateResult(
            name="max_drawdown",
            passed=evidence.max_drawdown is not None and abs(evidence.max_drawdown) <= gates.max_drawdown,
            figure=None if evidence.max_drawdown is None else abs(evidence.max_drawdown),
            threshold=f"<= {gates.max_drawdown}", detail="" if evidence.max_drawdown is not None else "the run has no drawdown",
        ),
        _at_least("min_trades", evidence.trades, gates.min_trades, "the run has no trade count"),
        _at_least("deflated_sharpe", evidence.deflated_sharpe, gates.min_deflated_sharpe, evidence.deflated_sharpe_source),
    ]
    if stage is Stage.LIVE:
        no_paper = evidence.drift_detail or "no paper trading history"
        out.append(_at_least("paper_days", evidence.paper_days, gates.min_paper_days, no_paper))
        out.append(GateResult(
            name="drift_bps", passed=evidence.drift_bps is not None and evidence.drift_bps <= gates.max_drift_bps,
            figure=evidence.drift_bps, threshold=f"<= {gates.max_drift_bps}",
            detail="" if evidence.drift_bps is not None else (evidence.drift_detail or "no paper fills matched the backtest"),
        ))
    return out
