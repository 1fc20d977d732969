"""The ledger fixture over SQLite and PostgreSQL (with a manual clock), for the identity tests."""

from tests.ledger.conftest import (  # noqa: F401 - fixtures
    clock,
    db_url,
    ledger,
    pg_template,
    pg_url,
    sqlite_template,
    sqlite_url,
)
