"""Migrations: the schema they build equals the code's tables; an unmigrated database is refused."""

from __future__ import annotations

from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import text

from quantdesk.core.errors import LedgerError
from quantdesk.ledger import Ledger, current_revision, head_revision, upgrade
from quantdesk.ledger.engine import BUSY_TIMEOUT_MS
from quantdesk.ledger.schema import metadata


def test_migrated_schema_matches_the_table_definitions(ledger: Ledger) -> None:
    with ledger.engine.connect() as c:
        context = MigrationContext.configure(c, opts={"compare_type": False})
        diff = compare_metadata(context, metadata)
    assert diff == []
    assert current_revision(str(ledger.engine.url.render_as_string(hide_password=False))) == head_revision()


def test_upgrade_is_idempotent(db_url: str) -> None:
    assert upgrade(db_url) == head_revision()
    assert upgrade(db_url) == head_revision()


def test_an_unmigrated_database_names_the_command(quantdesk_home: Path) -> None:
    url = f"sqlite:///{quantdesk_home / 'empty.db'}"
    with pytest.raises(LedgerError, match="run `quantdesk db upgrade`"):
        Ledger(url, migrate=False)
    assert current_revision(url) is None
    with Ledger(url) as ledger:  # the embedded SQLite ledger migrates itself on open
        assert ledger.dialect == "sqlite"
    assert current_revision(url) == head_revision()


def test_postgresql_is_not_migrated_implicitly(pg_template: tuple[object, str, str]) -> None:
    admin, user, _ = pg_template
    name = "qd_ledger_empty_" + __import__("uuid").uuid4().hex[:8]
    admin.execute(f'CREATE DATABASE "{name}"')
    try:
        url = f"postgresql+psycopg://{user}@127.0.0.1:5432/{name}"
        with pytest.raises(LedgerError, match="none \\(empty\\).*quantdesk db upgrade"):
            Ledger(url)
    finally:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def test_default_url_is_sqlite_under_home_with_durable_pragmas(quantdesk_home: Path) -> None:
    with Ledger() as ledger:
        assert ledger.url == f"sqlite:///{quantdesk_home / 'quantdesk.db'}"
        with ledger.engine.connect() as c:
            assert c.execute(text("PRAGMA journal_mode")).scalar() == "wal"
            assert c.execute(text("PRAGMA synchronous")).scalar() == 2  # FULL
            assert c.execute(text("PRAGMA foreign_keys")).scalar() == 1
            assert c.execute(text("PRAGMA busy_timeout")).scalar() == BUSY_TIMEOUT_MS
    assert (quantdesk_home / "quantdesk.db").exists()


def test_db_url_setting_selects_the_database(quantdesk_home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    other = quantdesk_home / "elsewhere" / "ledger.db"
    monkeypatch.setenv("QUANTDESK_DB_URL", f"sqlite:///{other}")
    with Ledger() as ledger:
        ledger.audit("test", "where")
    assert other.exists() and not (quantdesk_home / "quantdesk.db").exists()


def test_unreachable_or_bad_databases_give_ledger_errors() -> None:
    with pytest.raises(LedgerError, match="cannot open the ledger"):
        Ledger("postgresql+psycopg://nobody@127.0.0.1:1/nothing")
    with pytest.raises(LedgerError, match="unsupported database"):
        Ledger("mysql://x@localhost/y")
    with pytest.raises(LedgerError, match="in-memory"):
        Ledger("sqlite://")


def test_head_revision_constant_matches_the_migration_scripts() -> None:
    from alembic.script import ScriptDirectory

    from quantdesk.ledger.migrate import alembic_config

    assert ScriptDirectory.from_config(alembic_config()).get_current_head() == head_revision()


def test_a_database_at_the_last_released_revision_upgrades_to_the_new_tables(quantdesk_home: Path) -> None:
    """Released revisions never change: a ledger at 0006 (reserved slots released empty) gains the
    exchange keys (0007) and the notification outbox (0008) on upgrade, and its audit log keeps working."""
    from sqlalchemy import create_engine, inspect

    url = f"sqlite:///{quantdesk_home / 'released.db'}"
    assert upgrade(url, revision="0006") == "0006"
    assert {"notification_outbox", "exchange_keys"}.isdisjoint(inspect(create_engine(url)).get_table_names())
    with Ledger(url) as ledger:  # opens, migrates itself to head
        ledger.audit("ops", "trading_state.set", {"scope": "global", "state": "HALTED", "reason": "x"})
        tables = set(inspect(ledger.engine).get_table_names())
    assert {"notification_outbox", "exchange_keys"} <= tables
    assert current_revision(url) == head_revision()
