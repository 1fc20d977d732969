"""Alembic environment for the ledger: run on the connection `quantdesk.ledger.migrate` passes in."""

from __future__ import annotations

from alembic import context

from quantdesk.ledger.engine import make_engine, write_tx
from quantdesk.ledger.schema import metadata
from quantdesk.ledger.studies import OPTUNA_TABLES


def _include_name(name, type_, parent_names) -> bool:  # type: ignore[no-untyped-def]
    # Optuna's tables share the SQLite file (quantdesk.ledger.studies): not the ledger's to migrate
    return not (type_ == "table" and name in OPTUNA_TABLES)


def _run(connection) -> None:  # type: ignore[no-untyped-def]
    context.configure(
        connection=connection,
        target_metadata=metadata,
        render_as_batch=connection.dialect.name == "sqlite",  # SQLite alters tables by copy
        compare_type=True,
        include_name=_include_name,
    )
    with context.begin_transaction():
        context.run_migrations()


connection = context.config.attributes.get("connection")
if connection is not None:
    _run(connection)
else:  # the plain `alembic` command line, with QUANTDESK_DB_URL or QUANTDESK_HOME set
    engine = make_engine(context.config.get_main_option("sqlalchemy.url") or None)
    with write_tx(engine) as conn:
        _run(conn)
    engine.dispose()
