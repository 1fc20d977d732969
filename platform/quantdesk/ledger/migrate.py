"""Alembic migrations run programmatically (no alembic.ini): upgrade, current and head revision.

Alembic is imported only to migrate: opening an up-to-date ledger reads `alembic_version`
with plain SQL, so processes that only read and write start fast.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, inspect, text

from quantdesk.core.errors import LedgerError
from quantdesk.ledger.engine import make_engine, safe_url, write_tx

__all__ = [
    "HEAD_REVISION",
    "alembic_config",
    "check_revision",
    "current_revision",
    "head_revision",
    "upgrade",
]

# The newest migration in migrations/versions; tests check it against Alembic's own view.
HEAD_REVISION = "0016"
_MIGRATIONS = Path(__file__).resolve().parent / "migrations"
# Any constant: serializes concurrent `upgrade` calls on one PostgreSQL database.
_PG_MIGRATION_LOCK = 7_301_448_211


def alembic_config() -> Any:
    """Return an Alembic config pointing at the migrations shipped inside the package."""
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(_MIGRATIONS))
    return config


def head_revision() -> str:
    """Return the newest revision the code knows."""
    return HEAD_REVISION


def _current(connection: Connection) -> str | None:
    if not inspect(connection).has_table("alembic_version"):
        return None
    return connection.execute(text("SELECT version_num FROM alembic_version")).scalar()


def upgrade_engine(engine: Engine, revision: str = "head") -> str:
    """Migrate through `engine` inside one locked transaction; return the resulting revision."""
    from alembic import command

    with write_tx(engine) as connection:
        if connection.dialect.name == "postgresql":
            connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _PG_MIGRATION_LOCK})
        config = alembic_config()
        config.attributes["connection"] = connection
        command.upgrade(config, revision)
        current = _current(connection)
    return current or ""


def upgrade(url: str | None = None, revision: str = "head") -> str:
    """Migrate the database at `url` (default: settings) to `revision`; return the new revision."""
    engine = make_engine(url)
    try:
        return upgrade_engine(engine, revision)
    except LedgerError:
        raise
    except Exception as e:  # alembic and drivers raise many types; name the database and the fix
        raise LedgerError(f"migrating {safe_url(str(engine.url))} failed: {e}") from e
    finally:
        engine.dispose()


def current_revision(url: str | None = None) -> str | None:
    """Return the database's revision (None when never migrated)."""
    engine = make_engine(url)
    try:
        with engine.connect() as connection:
            return _current(connection)
    finally:
        engine.dispose()


def check_revision(engine: Engine) -> None:
    """Raise LedgerError unless the database is at the head revision."""
    with engine.connect() as connection:
        current = _current(connection)
    if current != HEAD_REVISION:
        raise LedgerError(
            f"the ledger at {safe_url(str(engine.url))} is at revision {current or 'none (empty)'}, "
            f"the code needs {HEAD_REVISION}: run `quantdesk db upgrade`"
        )
