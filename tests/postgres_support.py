"""The test PostgreSQL (127.0.0.1:5432, database test), or a skip with the reason it is not there."""

from __future__ import annotations

import os

import pytest
import sqlalchemy as sa

DEFAULT_POSTGRES_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"


def reachable_postgres_url() -> str:
    url = os.environ.get("GREKKO_TEST_POSTGRES_URL", DEFAULT_POSTGRES_URL)
    engine = sa.create_engine(url, connect_args={"connect_timeout": 3})
    try:
        with engine.connect() as connection:
            connection.execute(sa.text("SELECT 1"))
    except sa.exc.OperationalError as exc:
        pytest.skip(f"PostgreSQL not reachable at {url} ({type(exc.orig).__name__})")
    finally:
        engine.dispose()
    return url
