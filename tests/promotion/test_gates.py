"""Gates: every failing gate is listed with its figure and threshold; thresholds come from quantdesk.toml."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from quantdesk.core.errors import ConfigError, PromotionError
from quantdesk.core.types import Stage
from quantdesk.ledger import Ledger
from quantdesk.promotion import (
    Evidence,
    PromotionGates,
    PromotionRefused,
    PromotionStatus,
    evaluate_gates,
    find_deployment,
    list_promotions,
    promote,
)

from .conftest import LENIENT, StoredEvidence


def test_a_promotion_without_the_required_evidence_is_refused_listing_every_failing_gate(
    ledger: Ledger, evidence: StoredEvidence
) -> None:
    # The bare run has no lookahead verdict; no walk-forward is named and a bogus one is given.
    strict = PromotionGates(min_oos_sharpe=0.5, max_drawdown=0.01, min_trades=10_000, min_deflated_sharpe=0.99)
    with pytest.raises(PromotionRefused) as caught:
        promote(ledger, evidence.ref, run_id=evidence.bare_run_id, to="paper", actor="rita", name="mom",
                gates=strict, walkforward_run_id="walkforward-nope")
    refused = caught.value
    failing = {g.name for g in refused.request.failing_gates}
    assert {"lookahead", "oos_sharpe", "max_drawdown", "min_trades"} <= failing
    message = str(refused)
    for name in failing:
        assert name in message
    assert "needs <= 0.01" in message and "needs >= 10000" in message
    assert "no lookahead verdict" in message
    # Nothing was deployed; the refusal is stored and audited with its actor.
    assert find_deployment(ledger, "mom") is None
    stored = list_promotions(ledger, deployment="mom")
    assert [r.status for r in stored] == [PromotionStatus.REFUSED]
    assert stored[0].requested_by == "rita"
    entries = ledger.audit_log(action="promotion.refuse")
    assert entries and entries[-1].actor == "rita"
    assert {g["name"] for g in entries[-1].payload["failing_gates"]} == failing
    assert ledger.verify_audit().ok


def test_a_promotion_with_evidence_passing_every_gate_deploys_at_paper(
    ledger: Ledger, evidence: StoredEvidence
) -> None:
    request = promote(ledger, evidence.ref, run_id=evidence.run_id, to="paper", actor="rita", name="mom",
                      gates=LENIENT, capital="2500")
    assert request.status is PromotionStatus.APPROVED
    assert all(g.passed for g in request.gates)
    assert request.evidence["evidence"]["walkforward_run_id"] == evidence.walkforward_run_id  # found by code hash
    deployment = find_deployment(ledger, "mom")
    assert deployment is not None
    assert deployment.stage is Stage.PAPER
    assert deployment.run_id == evidence.run_id
    assert deployment.symbols == ("BTC/USDT",) and deployment.timeframe == "1h"
    assert deployment.params == {"lookback": 20}
    assert str(deployment.capital) == "2500"
    assert ledger.audit_log(action="promotion.paper")[-1].actor == "rita"


def test_gates_are_read_from_quantdesk_toml_with_a_live_section(quantdesk_home: Path) -> None:
    (quantdesk_home / "quantdesk.toml").write_text(
        "[promotion]\nmin_trades = 7\nmin_oos_sharpe = 0.2\n[promotion.live]\nmin_oos_sharpe = 1.5\n"
    )
    paper = PromotionGates.from_settings(Stage.PAPER)
    live = PromotionGates.from_settings(Stage.LIVE)
    assert (paper.min_trades, paper.min_oos_sharpe) == (7, 0.2)
    assert (live.min_trades, live.min_oos_sharpe) == (7, 1.5)


def test_a_misspelt_gate_is_a_config_error_naming_the_key(quantdesk_home: Path) -> None:
    (quantdesk_home / "quantdesk.toml").write_text("[promotion]\nmin_trade = 7\n")
    with pytest.raises(ConfigError, match="min_trade"):
        PromotionGates.from_settings()


def test_the_run_must_be_a_backtest_of_the_named_strategy(ledger: Ledger, evidence: StoredEvidence) -> None:
    with pytest.raises(PromotionError, match="not 'sma_cross'"):
        promote(ledger, "sma_cross", run_id=evidence.run_id, to="paper", actor="rita", gates=LENIENT)
    with pytest.raises(PromotionError, match="walkforward run"):
        promote(ledger, evidence.ref, run_id=evidence.walkforward_run_id, to="paper", actor="rita")
    with pytest.raises(PromotionError, match="no run"):
        promote(ledger, evidence.ref, run_id="backtest-missing", to="paper", actor="rita")


def _evidence(**figures: float | int | bool | None) -> Evidence:
    return Evidence(run_id="r", strategy="s", strategy_ref="s", code_hash="h" * 64, current_code_hash="h" * 64,
                    params={}, snapshot={}, initial_cash=1.0, **figures)  # type: ignore[arg-type]


@given(
    oos=st.one_of(st.none(), st.floats(-5, 5)),
    mdd=st.one_of(st.none(), st.floats(-1, 0)),
    trades=st.one_of(st.none(), st.integers(0, 100)),
    dsr=st.one_of(st.none(), st.floats(0, 1)),
    lookahead=st.sampled_from([True, False, None]),
    days=st.one_of(st.none(), st.floats(0, 60)),
    drift=st.one_of(st.none(), st.floats(0, 100)),
)
def test_a_gate_fails_exactly_when_its_figure_misses_the_threshold(
    oos: float | None, mdd: float | None, trades: int | None, dsr: float | None,
    lookahead: bool | None, days: float | None, drift: float | None,
) -> None:
    gates = PromotionGates(min_oos_sharpe=1.0, max_drawdown=0.3, min_trades=20, min_deflated_sharpe=0.9,
                           min_paper_days=14, max_drift_bps=25)
    ev = _evidence(oos_sharpe=oos, max_drawdown=mdd, trades=trades, deflated_sharpe=dsr,
                   lookahead_passed=lookahead, paper_days=days, drift_bps=drift)
    results = {g.name: g.passed for g in evaluate_gates(ev, gates, Stage.LIVE)}
    expected = {
        "code_hash": True,
        "lookahead": lookahead is True,
        "oos_sharpe": oos is not None and oos >= 1.0,
        "max_drawdown": mdd is not None and abs(mdd) <= 0.3,
        "min_trades": trades is not None and trades >= 20,
        "deflated_sharpe": dsr is not None and dsr >= 0.9,
        "paper_days": days is not None and days >= 14,
        "drift_bps": drift is not None and drift <= 25,
    }
    assert results == expected
    paper = {g.name for g in evaluate_gates(ev, gates, Stage.PAPER)}
    assert "paper_days" not in paper and "drift_bps" not in paper


def test_a_deployment_name_keeps_its_strategy(ledger: Ledger, evidence: StoredEvidence) -> None:
    from quantdesk.promotion import create_deployment

    create_deployment(ledger, "taken", strategy="sma_cross", symbols=["BTC/USDT"], timeframe="1h", actor="rita")
    with pytest.raises(PromotionError, match="runs strategy 'sma_cross', not 'momentum_file'"):
        promote(ledger, evidence.ref, run_id=evidence.run_id, to="paper", actor="rita", name="taken", gates=LENIENT)
