"""Optuna's RDB storage on the ledger's database, kept apart from the ledger's own schema.

Optuna versions its tables with Alembic too, in a table named `alembic_version` like the ledger's.
Sharing one namespace would let each side read the other's revision: `check_revision` would see
Optuna's, and Optuna would refuse the ledger's as an unknown schema. So:

- PostgreSQL: Optuna's tables (and its `alembic_version`) live in their own schema, `optuna`, of
  the ledger's database (its connections set `search_path`); the ledger's `public` schema and
  its migrations never see them.
- SQLite has no schemas inside one file (an attached file is another file). Optuna's tables sit in
  the ledger's file beside the ledger's, which is always migrated first, so Optuna finds the
  ledger's `alembic_version` present and never stamps it; Optuna's own revision check would compare
  against the ledger's revision, so it is replaced by a check of Optuna's `version_info` row.
  The ledger's migration environment leaves these tables out of autogenerate (`OPTUNA_TABLES`).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from sqlalchemy import text

from quantdesk.core.errors import LedgerError
from quantdesk.ledger.engine import BUSY_TIMEOUT_MS, make_engine, resolve_url, safe_url, write_tx
from quantdesk.ledger.migrate import check_revision, upgrade_engine

if TYPE_CHECKING:
    from optuna.storages import RDBStorage

__all__ = ["OPTUNA_SCHEMA", "OPTUNA_TABLES", "ledger_owns", "study_storage"]

OPTUNA_SCHEMA = "optuna"
# Optuna 5's tables (optuna/storages/_rdb/models.py); none is a ledger table name.
OPTUNA_TABLES = frozenset({
    "studies", "study_directions", "study_user_attributes", "study_system_attributes", "trials",
    "trial_user_attributes", "trial_system_attributes", "trial_params", "trial_values",
    "trial_intermediate_values", "trial_heartbeats", "version_info",
})


def ledger_owns(name: str | None, type_: str, parent_names: object = None) -> bool:
    """Tell Alembic's autogenerate (`include_name`) which names are the ledger's: not Optuna's tables."""
    return not (type_ == "table" and name in OPTUNA_TABLES)


def _prepare(url: str) -> str:
    """Check (SQLite: migrate) the ledger, create Optuna's schema on PostgreSQL; return the dialect."""
    engine = make_engine(url)
    try:
        dialect = engine.dialect.name
        try:
            check_revision(engine)
        except LedgerError:
            if dialect != "sqlite":  # a shared PostgreSQL ledger is migrated by an operator, on purpose
                raise
            upgrade_engine(engine)
        if dialect == "postgresql":
            with write_tx(engine) as connection:
                connection.execute(text(f'CREATE SCHEMA IF NOT EXISTS "{OPTUNA_SCHEMA}"'))
        return dialect
    finally:
        engine.dispose()


def _check_sqlite_optuna_schema(storage: RDBStorage) -> None:
    from optuna.storages._rdb import models  # the schema version this Optuna writes

    with storage.engine.connect() as connection:
        row = connection.execute(text("SELECT schema_version, library_version FROM version_info")).first()
    if row is not None and int(row[0]) != models.SCHEMA_VERSION:
        raise LedgerError(
            f"the optimizer's tables in {safe_url(storage.url)} were written by optuna {row[1]} (schema {row[0]}), "
            f"this optuna writes schema {models.SCHEMA_VERSION}: install optuna {row[1]} or start a new ledger"
        )


def _relax_sync(storage: RDBStorage) -> None:
    """Let Optuna's SQLite connections commit without an fsync each (WAL, synchronous=NORMAL).

    Optuna commits several times per trial; with the ledger's synchronous=FULL each commit waits for
    the disk (seconds per trial on a busy one). In WAL mode NORMAL loses no committed data to a
    process crash, only possibly the last commits to a power cut, and a lost trial is simply run
    again when the search resumes. The ledger's own connections keep FULL.
    """
    from sqlalchemy import event

    @event.listens_for(storage.engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()

    storage.engine.dispose()  # connections opened while Optuna created its tables get the pragma too


@contextmanager
def study_storage(url: str | None = None) -> Iterator[RDBStorage]:
    """Yield Optuna's RDB storage on the ledger database at `url` (default: settings); dispose after.

    Example: `with study_storage() as storage: optuna.create_study(storage=storage, ...)`.
    """
    import optuna

    resolved = resolve_url(url)
    dialect = _prepare(resolved)
    try:
        if dialect == "postgresql":
            storage = optuna.storages.RDBStorage(
                resolved, engine_kwargs={"pool_pre_ping": True,
                                         "connect_args": {"options": f"-c search_path={OPTUNA_SCHEMA}"}})
        else:
            storage = optuna.storages.RDBStorage(
                resolved, engine_kwargs={"connect_args": {"timeout": BUSY_TIMEOUT_MS / 1000}},
                skip_compatibility_check=True)
            _relax_sync(storage)
            try:
                _check_sqlite_optuna_schema(storage)
            except LedgerError:
                storage.engine.dispose()
                raise
    except LedgerError:
        raise
    except Exception as e:  # drivers and optuna raise many types; name the database and the fix
        raise LedgerError(f"cannot open the optimizer's storage at {safe_url(resolved)} ({e}); "
                          "check QUANTDESK_DB_URL and that the server is up") from e
    try:
        yield storage
    finally:
        storage.remove_session()
        storage.engine.dispose()
