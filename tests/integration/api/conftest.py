"""Fixtures the auth tests share: a migrated SQLite database and a clock the test moves."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from auth_support import Clock, sqlite_engine


@pytest.fixture
def engine(tmp_path: Path) -> Iterator[sa.Engine]:
    engine = sqlite_engine(tmp_path)
    yield engine
    engine.dispose()


@pytest.fixture
def clock() -> Clock:
    return Clock()
