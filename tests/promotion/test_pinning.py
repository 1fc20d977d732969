"""A deployment is pinned to its evidence's code hash: a changed strategy source blocks it."""

from __future__ import annotations

from pathlib import Path

import pytest

from quantdesk.core.errors import PromotionError
from quantdesk.ledger import Ledger
from quantdesk.promotion import (
    check_pinned,
    check_startable,
    create_deployment,
    get_deployment,
    promote,
)

from .conftest import LENIENT, STRATEGY_SOURCE, run_evidence, write_strategy


def test_a_changed_strategy_source_blocks_the_pinned_deployment(ledger: Ledger, tmp_path: Path) -> None:
    path = tmp_path / "research_momentum.py"
    ref = write_strategy(path)
    run_id, wf_id = run_evidence(ref)
    promote(ledger, ref, run_id=run_id, to="paper", actor="rita", name="mom", gates=LENIENT)
    deployment = get_deployment(ledger, "mom")
    check_pinned(deployment)  # unchanged: may start
    check_startable(deployment)

    path.write_text(STRATEGY_SOURCE.replace("close > close.shift", "close >= close.shift"))
    with pytest.raises(PromotionError, match=r"pinned to code hash .* strategy source changed"):
        check_pinned(deployment)
    with pytest.raises(PromotionError, match="promote"):
        check_startable(get_deployment(ledger, "mom"))

    # The old evidence no longer matches the code: promoting on it is refused by the code-hash gate.
    with pytest.raises(PromotionError, match="code_hash"):
        promote(ledger, ref, run_id=run_id, to="paper", actor="rita", name="mom", gates=LENIENT,
                walkforward_run_id=wf_id)

    # Fresh evidence of the new source: promoted again, pinned to the new hash, startable.
    new_run, _ = run_evidence(ref)
    promote(ledger, ref, run_id=new_run, to="paper", actor="rita", name="mom", gates=LENIENT)
    again = get_deployment(ledger, "mom")
    assert again.code_hash != deployment.code_hash
    assert again.run_id == new_run
    check_startable(again)


def test_a_deleted_strategy_file_blocks_the_deployment(ledger: Ledger, tmp_path: Path) -> None:
    path = tmp_path / "gone.py"
    ref = write_strategy(path)
    deployment = create_deployment(ledger, "gone", strategy=ref, symbols=["BTC/USDT"], timeframe="1h", actor="alice")
    check_pinned(deployment)
    path.unlink()
    with pytest.raises(PromotionError, match="cannot load its strategy"):
        check_pinned(deployment)


def test_a_research_deployment_is_not_startable(ledger: Ledger) -> None:
    deployment = create_deployment(ledger, "idea", strategy="sma_cross", symbols=["BTC/USDT"], timeframe="1h",
                                   params={"fast": 5, "slow": 20}, actor="rita")
    check_pinned(deployment)  # a built-in: its source is what it was
    with pytest.raises(PromotionError, match="only paper and live deployments run"):
        check_startable(deployment)
