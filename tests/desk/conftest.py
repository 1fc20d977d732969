"""The ledger's two backends for the desk's tests (fixtures of tests/ledger)."""

from tests.ledger.conftest import db_url, pg_template, pg_url, sqlite_template, sqlite_url

__all__ = ["db_url", "pg_template", "pg_url", "sqlite_template", "sqlite_url"]
