"""A `ledger` fixture over both backends: SQLite (a file under the test's home) and PostgreSQL.

PostgreSQL runs where a server answers on 127.0.0.1:5432 with trust auth (user `postgres`
or `root`): a migrated template database is made once per session, each test gets a copy
with a unique name, and every database is dropped at the end. Otherwise those tests skip.
"""

from __future__ import annotations

import shutil
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from quantdesk.core.clock import ManualClock
from quantdesk.ledger import Ledger, upgrade

PG_HOST = "127.0.0.1"
PG_PORT = 5432
START = datetime(2024, 1, 1, tzinfo=UTC)


def _pg_admin() -> tuple[object, str] | tuple[None, str]:
    try:
        import psycopg
    except ImportError:  # pragma: no cover - psycopg is a dependency
        return None, "psycopg is not installed"
    errors = []
    for user in ("postgres", "root"):
        try:
            conn = psycopg.connect(host=PG_HOST, port=PG_PORT, user=user, dbname="postgres", autocommit=True, connect_timeout=3)
        except psycopg.Error as e:
            errors.append(f"{user}: {str(e).strip().splitlines()[0]}")
            continue
        return conn, user
    return None, "; ".join(errors)


def _pg_url(user: str, dbname: str) -> str:
    return f"postgresql+psycopg://{user}@{PG_HOST}:{PG_PORT}/{dbname}"


@pytest.fixture(scope="session")
def pg_template() -> Iterator[tuple[object, str, str]]:
    """Create a migrated template database for this session; yield (admin, user, name)."""
    admin, user = _pg_admin()
    if admin is None:
        pytest.skip(f"PostgreSQL not reachable at {PG_HOST}:{PG_PORT} with trust auth ({user})")
    name = f"qd_ledger_tpl_{uuid.uuid4().hex[:12]}"
    admin.execute(f'CREATE DATABASE "{name}"')
    try:
        upgrade(_pg_url(user, name))
        yield admin, user, name
    finally:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.close()


@pytest.fixture
def pg_url(pg_template: tuple[object, str, str]) -> Iterator[str]:
    """Yield the URL of a fresh, migrated PostgreSQL database of this test's own."""
    admin, user, template = pg_template
    name = f"qd_ledger_{uuid.uuid4().hex[:12]}"
    admin.execute(f'CREATE DATABASE "{name}" TEMPLATE "{template}"')
    try:
        yield _pg_url(user, name)
    finally:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Migrate one SQLite file per session; tests copy it (migrating each time is slow)."""
    path = tmp_path_factory.mktemp("ledger_tpl") / "quantdesk.db"
    upgrade(f"sqlite:///{path}")
    return path


@pytest.fixture
def sqlite_url(quantdesk_home: Path, sqlite_template: Path) -> str:
    """Return the URL of a migrated SQLite ledger at the test's QUANTDESK_HOME/quantdesk.db."""
    target = quantdesk_home / "quantdesk.db"
    shutil.copyfile(sqlite_template, target)  # the template was closed cleanly: no WAL to copy
    return f"sqlite:///{target}"


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request: pytest.FixtureRequest) -> str:
    """Yield a database URL for each backend (PostgreSQL skips where none is reachable)."""
    if request.param == "sqlite":
        return request.getfixturevalue("sqlite_url")
    return request.getfixturevalue("pg_url")


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(START)


@pytest.fixture
def ledger(db_url: str, clock: ManualClock) -> Iterator[Ledger]:
    """Yield a migrated ledger on each backend, driven by a manual clock."""
    with Ledger(db_url, clock=clock, migrate=True) as opened:
        yield opened
