"""Migrated databases for the vault: a SQLite file per test and a PostgreSQL schema per test.

PostgreSQL is the server at GREKKO_TEST_POSTGRES_URL (default postgres@127.0.0.1:5432/test); its
tests skip, saying so, only when that server cannot be reached.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from grekko.adapters.sql.engine import build_engine
from grekko.adapters.sql.migrate import upgrade_to_head
from postgres_support import reachable_postgres_url

OpenEngine = Callable[[], sa.Engine]


@pytest.fixture(scope="session")
def vault_postgres_url() -> str:
    return reachable_postgres_url()


@pytest.fixture(params=["sqlite", "postgresql"])
def open_engine(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[OpenEngine]:
    """Opens engines on one migrated database (call it twice for a second process' view)."""
    engines: list[sa.Engine] = []
    schema: str | None = None
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'grekko.db'}"
    else:
        url = request.getfixturevalue("vault_postgres_url")
        schema = f"grekko_test_{uuid.uuid4().hex[:16]}"

    def open_one() -> sa.Engine:
        engine = build_engine(url, schema=schema)
        if not engines:
            upgrade_to_head(engine, schema)
        engines.append(engine)
        return engine

    yield open_one
    for engine in engines:
        engine.dispose()
    if schema is not None:
        cleanup = sa.create_engine(url)
        with cleanup.begin() as connection:
            connection.exec_driver_sql(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
        cleanup.dispose()
