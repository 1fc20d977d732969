"""Fixtures for the promotion registry: a ledger on SQLite and PostgreSQL, users, stored evidence.

Evidence (a file strategy, a backtest run with its lookahead verdict, a walk-forward run) is
computed once per session under its own folder and copied into each test's run store.
"""

from __future__ import annotations

import shutil
import textwrap
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import polars as pl
import pytest

from quantdesk.core.clock import ManualClock
from quantdesk.ledger import Ledger, upgrade
from quantdesk.promotion import PromotionGates, add_user

START = datetime(2025, 1, 1, tzinfo=UTC)
PG = ("127.0.0.1", 5432)

STRATEGY_SOURCE = textwrap.dedent(
    '''
    """A momentum strategy written during research (a plain file, loaded by path)."""

    import polars as pl

    from quantdesk.strategies import Strategy, param


    class Momentum(Strategy):
        name = "momentum_file"
        lookback = param(20, min=2, max=200, doc="bars")

        def target(self, candles: pl.DataFrame) -> pl.Series:
            close = candles["close"]
            return (close > close.shift(self.lookback)).cast(pl.Float64).fill_null(0.0)
    '''
)

# Gates every stored evidence of the session passes (the defaults are stricter).
LENIENT = PromotionGates(min_oos_sharpe=-10.0, max_drawdown=1.0, min_trades=1, min_deflated_sharpe=0.0,
                         min_paper_days=5.0, max_drift_bps=10.0)


def make_candles(n: int = 1500, seed: int = 1) -> pl.DataFrame:
    """Return `n` hourly candles of an upward-drifting random walk (synthetic)."""
    rng = np.random.default_rng(seed)
    close = 100 * np.exp(np.cumsum(rng.normal(0.0005, 0.01, n)))
    open_ = np.concatenate(([100.0], close[:-1]))
    ts = int(START.timestamp() * 1000) - n * 3_600_000 + np.arange(n, dtype=np.int64) * 3_600_000
    return pl.DataFrame(
        {"ts": ts, "open": open_, "high": np.maximum(open_, close) * 1.001,
         "low": np.minimum(open_, close) * 0.999, "close": close, "volume": np.ones(n)}
    ).with_columns(pl.from_epoch("ts", time_unit="ms").dt.replace_time_zone("UTC"))


def write_strategy(path: Path, source: str = STRATEGY_SOURCE) -> str:
    """Write the strategy file and return its reference `path:Momentum`."""
    path.write_text(source)
    return f"{path}:Momentum"


def run_evidence(ref: str, *, walkforward: bool = True, lookahead: bool = True) -> tuple[str, str | None]:
    """Backtest (and walk-forward) `ref` on synthetic candles into the current run store."""
    from quantdesk.backtest import backtest, walk_forward

    frames = {"BTC/USDT": make_candles()}
    result = backtest(ref, frames, params={"lookback": 20}, lookahead_samples=4 if lookahead else 0)
    wf_id = None
    if walkforward:
        wf = walk_forward(ref, frames, grid={"lookback": [10, 20]}, train="20d", test="10d")
        wf_id = wf.run_id
    return result.run_id, wf_id


@dataclass(frozen=True)
class StoredEvidence:
    ref: str
    run_id: str
    walkforward_run_id: str
    bare_run_id: str  # a backtest without a lookahead verdict
    runs: Path


@pytest.fixture(scope="session")
def stored_evidence(tmp_path_factory: pytest.TempPathFactory) -> StoredEvidence:
    """Compute the session's evidence once (its own home and run store)."""
    home = tmp_path_factory.mktemp("promotion_evidence")
    mp = pytest.MonkeyPatch()
    mp.setenv("QUANTDESK_HOME", str(home))
    mp.setenv("QUANTDESK_CONFIG", str(home / "quantdesk.toml"))
    try:
        ref = write_strategy(home / "momentum.py")
        run_id, wf_id = run_evidence(ref)
        bare_id, _ = run_evidence(ref, walkforward=False, lookahead=False)
    finally:
        mp.undo()
    assert wf_id is not None
    return StoredEvidence(ref=ref, run_id=run_id, walkforward_run_id=wf_id, bare_run_id=bare_id,
                          runs=home / "runs")


@pytest.fixture
def evidence(stored_evidence: StoredEvidence, quantdesk_home: Path) -> StoredEvidence:
    """Copy the session's runs into this test's run store."""
    shutil.copytree(stored_evidence.runs, quantdesk_home / "runs")
    return stored_evidence


def _pg_admin() -> tuple[object | None, str]:
    import psycopg

    for user in ("postgres", "root"):
        try:
            return psycopg.connect(host=PG[0], port=PG[1], user=user, dbname="postgres", autocommit=True,
                                   connect_timeout=3), user
        except psycopg.Error:
            continue
    return None, ""


@pytest.fixture(scope="session")
def pg_server() -> Iterator[tuple[object, str, str]]:
    """Yield (admin connection, user, template db) of a migrated template, or skip."""
    admin, user = _pg_admin()
    if admin is None:
        pytest.skip(f"PostgreSQL not reachable at {PG[0]}:{PG[1]} with trust auth")
    name = f"qd_promo_tpl_{uuid.uuid4().hex[:12]}"
    admin.execute(f'CREATE DATABASE "{name}"')  # type: ignore[attr-defined]
    try:
        upgrade(f"postgresql+psycopg://{user}@{PG[0]}:{PG[1]}/{name}")
        yield admin, user, name
    finally:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')  # type: ignore[attr-defined]
        admin.close()  # type: ignore[attr-defined]


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request: pytest.FixtureRequest, quantdesk_home: Path) -> Iterator[str]:
    """Yield a migrated ledger URL per backend (PostgreSQL skips where no server answers)."""
    if request.param == "sqlite":
        yield f"sqlite:///{quantdesk_home / 'quantdesk.db'}"
        return
    admin, user, template = request.getfixturevalue("pg_server")
    name = f"qd_promo_{uuid.uuid4().hex[:12]}"
    admin.execute(f'CREATE DATABASE "{name}" TEMPLATE "{template}"')  # type: ignore[attr-defined]
    try:
        yield f"postgresql+psycopg://{user}@{PG[0]}:{PG[1]}/{name}"
    finally:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')  # type: ignore[attr-defined]


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(START)


@pytest.fixture
def ledger(db_url: str, clock: ManualClock) -> Iterator[Ledger]:
    """Yield a ledger with users alice (admin), bob (trader), rita (researcher), vic (viewer)."""
    with Ledger(db_url, clock=clock, migrate=True) as opened:
        add_user(opened, "alice", "admin", actor="alice")
        for name, role in (("bob", "trader"), ("rita", "researcher"), ("vic", "viewer"), ("tess", "trader")):
            add_user(opened, name, role, actor="alice")
        yield opened


@dataclass(frozen=True)
class FakeDrift:
    """A stand-in for `quantdesk.parity.DriftReport` with just what the gate reads."""

    days: float
    drift_bps: float | None


@pytest.fixture
def fake_drift() -> Callable[..., Callable[..., FakeDrift]]:
    """Return a factory of drift functions answering a fixed report."""

    def make(days: float = 20.0, drift_bps: float | None = 3.0) -> Callable[..., FakeDrift]:
        return lambda ledger, deployment: FakeDrift(days=days, drift_bps=drift_bps)

    return make
