"""Optuna's study storage on the ledger database: beside the ledger's schema, never in its way."""

from __future__ import annotations

import uuid

import optuna
import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import create_engine, inspect, text

from quantdesk.core.errors import LedgerError
from quantdesk.ledger import Ledger, head_revision, upgrade
from quantdesk.ledger.schema import metadata
from quantdesk.ledger.studies import OPTUNA_SCHEMA, ledger_owns, study_storage


def _study(storage: optuna.storages.RDBStorage, trials: int) -> int:
    study = optuna.create_study(study_name="s", storage=storage, load_if_exists=True,
                                sampler=optuna.samplers.RandomSampler(seed=0))
    study.optimize(lambda t: t.suggest_float("x", 0.0, 1.0), n_trials=trials)
    return len(study.trials)


def test_a_study_in_the_ledger_database_leaves_the_ledger_schema_alone(db_url: str) -> None:
    with study_storage(db_url) as storage:
        assert _study(storage, 2) == 2
    assert upgrade(db_url) == head_revision()  # Optuna did not restamp the ledger's alembic_version
    with Ledger(db_url, migrate=False) as ledger:  # check_revision passes
        ledger.audit("test", "after.optuna")
        with ledger.engine.connect() as c:
            assert c.execute(text("SELECT version_num FROM alembic_version")).scalar() == head_revision()
            context = MigrationContext.configure(c, opts={"compare_type": False, "include_name": ledger_owns})
            assert compare_metadata(context, metadata) == []  # no table to drop, none missing
            public = set(inspect(c).get_table_names())
        assert ledger.verify_audit().ok
    with study_storage(db_url) as storage:  # reopened: Optuna's own checks pass, the trials are there
        assert _study(storage, 1) == 3
    if db_url.startswith("postgresql"):
        engine = create_engine(db_url)
        try:
            optuna_tables = set(inspect(engine).get_table_names(schema=OPTUNA_SCHEMA))
        finally:
            engine.dispose()
        assert {"studies", "trials", "alembic_version"} <= optuna_tables  # Optuna's revision in its schema
        assert "trials" not in public
    else:
        assert "trials" in public  # SQLite: one file, the ledger's autogenerate leaves them out


def test_an_unmigrated_postgresql_ledger_is_refused_before_optuna_writes(pg_template: tuple[object, str, str]) -> None:
    admin, user, _ = pg_template
    name = "qd_ledger_optuna_" + uuid.uuid4().hex[:8]
    admin.execute(f'CREATE DATABASE "{name}"')  # type: ignore[attr-defined]
    url = f"postgresql+psycopg://{user}@127.0.0.1:5432/{name}"
    try:
        with pytest.raises(LedgerError, match="quantdesk db upgrade"), study_storage(url):
            pass
        engine = create_engine(url)
        try:
            assert inspect(engine).get_table_names() == [] and OPTUNA_SCHEMA not in inspect(engine).get_schema_names()
        finally:
            engine.dispose()
    finally:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')  # type: ignore[attr-defined]


def test_an_optimize_search_resumes_from_either_backend(db_url: str) -> None:
    """The whole search on each backend: interrupted after one batch, resumed to exactly N trials."""
    import numpy as np
    import polars as pl

    from quantdesk.backtest.optimize import optimize

    rng = np.random.default_rng(0)
    close = 100 * np.exp(np.cumsum(rng.normal(0, 0.01, 300)))
    ts = pl.datetime_range(pl.datetime(2024, 1, 1), pl.datetime(2024, 1, 1) + pl.duration(hours=299), "1h",
                           eager=True, time_zone="UTC")
    frame = pl.DataFrame({"ts": ts, "open": close, "high": close * 1.002, "low": close * 0.998, "close": close,
                          "volume": np.ones(300)})
    space = ["period=5:30", "oversold=10.0:40.0"]

    seen: list[int] = []

    def stop(n: int) -> None:
        seen.append(n)
        if len(seen) == 4:  # Ctrl-C after the first batch of four
            raise KeyboardInterrupt

    with study_storage(db_url) as storage, pytest.raises(KeyboardInterrupt):
        optimize("rsi_reversion", frame, space=space, trials=8, storage=storage, store=False, on_progress=stop)
    with study_storage(db_url) as storage:
        resumed = optimize("rsi_reversion", frame, space=space, trials=8, storage=storage, store=False)
    assert resumed.n_trials == 8 and resumed.ran_now == 4
    assert sorted(resumed.trials["number"].to_list()) == list(range(8))
    assert resumed.overfitting is not None and resumed.overfitting.n_trials == resumed.n_evaluated
