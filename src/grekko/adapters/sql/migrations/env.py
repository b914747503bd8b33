"""Alembic environment: migrates on the connection that SqlEventStore.migrate() passes in
config.attributes.

Without one (the `alembic` command line with a config whose sqlalchemy.url is set) it opens its own
engine, and in offline mode (--sql) it prints the DDL instead of running it.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import context

config = context.config


def run_offline() -> None:
    context.configure(url=config.get_main_option("sqlalchemy.url"), literal_binds=True)
    with context.begin_transaction():
        context.run_migrations()


def run_on(connection: sa.Connection) -> None:
    context.configure(connection=connection, render_as_batch=True, transactional_ddl=True)
    with context.begin_transaction():
        context.run_migrations()


def run_online() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        run_on(connection)
        return
    url = config.get_main_option("sqlalchemy.url")
    if not url:
        raise RuntimeError("set sqlalchemy.url or pass a connection in config.attributes")
    engine = sa.create_engine(url, poolclass=sa.pool.NullPool)
    try:
        with engine.connect() as own_connection:
            run_on(own_connection)
    finally:
        engine.dispose()


if context.is_offline_mode():
    run_offline()
else:
    run_online()
