"""Engines for the ledger: SQLite tuned for durability and concurrent readers, or PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

from quantdesk.core.errors import LedgerError
from quantdesk.core.settings import get_settings

__all__ = ["BUSY_TIMEOUT_MS", "make_engine", "read_tx", "resolve_url", "safe_url", "write_tx"]

# A writer waits this long for another writer before SQLite gives up with "database is locked".
BUSY_TIMEOUT_MS = 30_000
_WRITE = "quantdesk_write"


def resolve_url(url: str | None) -> str:
    """Return `url`, else the settings' database URL; map bare `postgresql://` to psycopg 3."""
    resolved = url or get_settings().database_url
    if resolved.startswith("postgresql://") or resolved.startswith("postgres://"):
        resolved = "postgresql+psycopg://" + resolved.split("://", 1)[1]
    return resolved


def safe_url(url: str) -> str:
    """Return `url` with its password hidden (for messages and `db status`)."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except ArgumentError:
        return "<unparseable database URL>"


def make_engine(url: str | None = None) -> Engine:
    """Create an engine; for SQLite set WAL, synchronous=FULL, busy_timeout and foreign keys."""
    resolved = resolve_url(url)
    try:
        parsed = make_url(resolved)
    except ArgumentError as e:
        raise LedgerError(
            f"invalid database URL {safe_url(resolved)!r}: use sqlite:///PATH or postgresql+psycopg://USER@HOST/DB"
        ) from e
    if parsed.get_backend_name() == "sqlite":
        return _sqlite_engine(parsed.render_as_string(hide_password=False), parsed.database)
    if parsed.get_backend_name() == "postgresql":
        return create_engine(parsed, pool_pre_ping=True)
    raise LedgerError(
        f"unsupported database {parsed.get_backend_name()!r}: use SQLite or PostgreSQL"
    )


def _sqlite_engine(url: str, database: str | None) -> Engine:
    if not database or database == ":memory:":
        raise LedgerError(
            "an in-memory SQLite ledger cannot be shared or recovered: use a file path"
        )
    _private_database(Path(database))
    engine = create_engine(url, connect_args={"timeout": BUSY_TIMEOUT_MS / 1000})

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Let SQLAlchemy's begin event issue BEGIN itself (pysqlite's implicit BEGIN is deferred
        # and upgrades to a write lock mid-transaction, which can fail instead of waiting).
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")  # readers never block the writer
        cursor.execute(
            "PRAGMA synchronous=FULL"
        )  # fsync on every commit: nothing acknowledged is lost
        cursor.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Connection) -> None:
        immediate = connection.get_execution_options().get(_WRITE, False)
        connection.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")

    return engine


@contextmanager
def write_tx(engine: Engine) -> Iterator[Connection]:
    """Open a write transaction: SQLite takes the write lock up front (waiting up to busy_timeout)."""
    with engine.connect() as connection:
        connection.execution_options(**{_WRITE: True})
        with connection.begin():
            yield connection


@contextmanager
def read_tx(engine: Engine) -> Iterator[Connection]:
    """Open a read transaction (a consistent snapshot on both backends)."""
    with engine.connect() as connection, connection.begin():
        yield connection


def _private_database(path: Path) -> None:
    """Create the ledger file 0600 before SQLite does (it would use 0644 minus the umask).

    SQLite gives the `-wal` and `-shm` files the database file's own mode, so they follow.
    An existing ledger is left as it is, with one warning line naming the chmod that fixes it.
    """
    from quantdesk.core.fsmodes import create_private_file, warn_loose

    if create_private_file(path):
        return
    warn_loose(f"the ledger {path}", [path, path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm")])
