"""Alembic driven from code: the config is built here, no alembic.ini is looked for in the cwd."""

from __future__ import annotations

import zlib
from pathlib import Path
from typing import TYPE_CHECKING

import sqlalchemy as sa

if TYPE_CHECKING:
    from alembic.config import Config

MIGRATIONS_DIR = Path(__file__).resolve().with_name("migrations")


def advisory_lock_key(purpose: str, schema: str | None) -> int:
    """An advisory-lock key per purpose and schema, so schemas do not queue on each other."""
    return zlib.crc32(f"grekko.{purpose}:{schema or ''}".encode())


def alembic_config(connection: sa.Connection | None = None, url: str | None = None) -> Config:
    """The alembic.ini equivalent; given a connection, env.py migrates inside its transaction."""
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    if url is not None:
        config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    if connection is not None:
        config.attributes["connection"] = connection
    return config


def head_revision() -> str | None:
    from alembic.script import ScriptDirectory

    return ScriptDirectory.from_config(alembic_config()).get_current_head()


def current_revision(engine: sa.Engine) -> str | None:
    from alembic.runtime.migration import MigrationContext

    with engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()


def upgrade_to_head(engine: sa.Engine, schema: str | None = None) -> None:
    """Bring the schema to the newest revision in one transaction; a no-op when it is there already.

    Concurrent openers serialize: SQLite on BEGIN IMMEDIATE, PostgreSQL on an advisory lock taken
    before the schema is created, so the second one finds the tables made and does nothing.
    """
    from alembic import command

    with engine.connect() as connection:
        connection.execution_options(sqlite_begin="IMMEDIATE")
        with connection.begin():
            if engine.dialect.name == "postgresql":
                key = advisory_lock_key("migrate", schema)
                connection.execute(sa.select(sa.func.pg_advisory_xact_lock(key)))
                if schema is not None:
                    connection.exec_driver_sql(f'CREATE SCHEMA IF NOT EXISTS "{schema}"')
            command.upgrade(alembic_config(connection), "head")
