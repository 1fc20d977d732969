"""Alembic environment for the ledger: run on the connection `quantdesk.ledger.migrate` passes in."""

from __future__ import annotations

from alembic import context

from quantdesk.ledger.engine import make_engine, write_tx
from quantdesk.ledger.schema import metadata
from quantdesk.ledger.studies import ledger_owns


def _run(connection) -> None:  # type: ignore[no-untyped-def]
    context.configure(
        connection=connection,
        target_metadata=metadata,
        render_as_batch=connection.dialect.name == "sqlite",  # SQLite alters tables by copy
        compare_type=True,
        include_name=ledger_owns,  # Optuna's tables share the SQLite file (ledger.studies)
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
