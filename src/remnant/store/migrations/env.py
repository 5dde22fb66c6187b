"""Alembic environment of the Remnant store: runs on the connection it is handed.

:func:`remnant.store.migrate.alembic_config` passes the connection in
``config.attributes["connection"]``; the migrations then run inside that
connection's transaction, so a failed upgrade leaves the store as it was.
"""

from alembic import context

from remnant.store import migrate, schema


def run_migrations() -> None:
    connection = context.config.attributes.get("connection")
    if connection is None:
        raise RuntimeError(
            "Remnant's migrations run on a connection: use remnant.store.migrate.alembic_config"
        )
    context.configure(
        connection=connection,
        target_metadata=schema.metadata,
        include_name=migrate.include_name,
        compare_type=migrate.compare_type,
        render_as_batch=True,
    )
    with context.begin_transaction():
        context.run_migrations()


if context.is_offline_mode():
    raise RuntimeError("Remnant's migrations have no offline (SQL script) mode")
run_migrations()
