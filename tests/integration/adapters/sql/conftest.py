"""Real databases for the SQL adapter: a SQLite file per test and a PostgreSQL schema per test.

PostgreSQL is the server at GREKKO_TEST_POSTGRES_URL (default: postgres@127.0.0.1:5432/test);
its tests skip, saying so, only when that server cannot be reached.
"""

from __future__ import annotations

import sys
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from postgres_support import reachable_postgres_url

_TESTS_DIR = str(Path(__file__).resolve().parents[3])
if _TESTS_DIR not in sys.path:
    sys.path.insert(0, _TESTS_DIR)
pytest.register_assert_rewrite("contracts")

from grekko.adapters.sql import SqlEventStore  # noqa: E402

OpenSql = Callable[..., SqlEventStore]


@pytest.fixture(scope="session")
def postgres_url() -> str:
    return reachable_postgres_url()


@pytest.fixture
def pg_schema(postgres_url: str) -> Iterator[str]:
    """A schema of its own for one test, dropped with everything in it afterwards."""
    schema = f"grekko_test_{uuid.uuid4().hex[:16]}"
    yield schema
    engine = sa.create_engine(postgres_url)
    with engine.begin() as connection:
        connection.exec_driver_sql(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
    engine.dispose()


def _opener(url: str, **defaults: Any) -> Iterator[OpenSql]:
    handles: list[SqlEventStore] = []

    def open_store(**options: Any) -> SqlEventStore:
        handle = SqlEventStore(url, **{**defaults, **options})
        handles.append(handle)
        return handle

    yield open_store
    for handle in handles:
        handle.close()


@pytest.fixture
def open_sqlite(tmp_path: Path) -> Iterator[OpenSql]:
    yield from _opener(f"sqlite:///{tmp_path / 'data' / 'grekko.db'}")


@pytest.fixture
def open_postgres(postgres_url: str, pg_schema: str) -> Iterator[OpenSql]:
    yield from _opener(postgres_url, schema=pg_schema)


@pytest.fixture(params=["sqlite", "postgresql"])
def open_sql(request: pytest.FixtureRequest) -> OpenSql:
    """Each SQL-specific test runs on both databases."""
    opener: OpenSql = request.getfixturevalue(
        f"open_{request.param.replace('postgresql', 'postgres')}"
    )
    return opener
