"""SqlEventStore against the EventStore contract on SQLite and PostgreSQL, plus SQL-only checks."""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path

import psycopg
import pytest
import sqlalchemy as sa
from psycopg import sql

from contracts.event_store_contract import (
    DurableEventStoreContract,
    OpenStore,
    every_stored_event,
    funded,
    submitted,
)
from grekko.adapters.sql import SqlEventStore
from grekko.core.errors import ConcurrencyError, ConfigError
from grekko.core.time import TestClock
from grekko.domain.events import encode_event
from grekko.ports.event_store import EventStore

OpenSql = Callable[..., SqlEventStore]  # the open_sqlite / open_postgres / open_sql fixtures


class TestSqliteEventStore(DurableEventStoreContract):
    @pytest.fixture
    def open_store(self, open_sqlite: OpenSql) -> OpenStore:
        return open_sqlite


class TestPostgresEventStore(DurableEventStoreContract):
    @pytest.fixture
    def open_store(self, open_postgres: OpenSql) -> OpenStore:
        return open_postgres


def test_it_satisfies_the_port(open_sql: OpenSql) -> None:
    store: EventStore = open_sql()
    assert store.stream_version("any") == 0


def test_read_all_streams_in_chunks(open_sql: OpenSql) -> None:
    store = open_sql(read_chunk_size=3)
    for ts in range(10):
        store.append(f"O-{ts % 4}", [submitted(ts, f"O-{ts % 4}")])
    records = list(store.read_all())
    assert [record.event.ts_event for record in records] == list(range(10))
    middle = records[4].global_position
    assert [record.event.ts_event for record in store.read_all(middle)] == list(range(4, 10))


def test_rows_hold_type_timestamps_and_readable_json(open_sql: OpenSql) -> None:
    store = open_sql(clock=TestClock(start_ns=42))
    store.append("acc", [funded(7, "0.10")], 0)
    with store.engine.connect() as connection:
        row = connection.execute(sa.text("SELECT * FROM events")).mappings().one()
    assert row["event_type"] == "AccountFunded"
    assert row["ts_event"] == 7
    assert row["recorded_at"] == 42
    assert '"amount":"0.10"' in row["payload"]


def test_a_big_batch_is_one_append(open_sql: OpenSql) -> None:
    store = open_sql()
    batch = [funded(ts) for ts in range(2000)]
    assert store.append("acc", batch, 0) == 2000
    assert [record.event.ts_event for record in store.read("acc", 1999)] == [1998, 1999]


def test_sqlite_connection_settings(open_sqlite: OpenSql, tmp_path: Path) -> None:
    store = open_sqlite()
    with store.engine.connect() as connection:
        pragma = connection.exec_driver_sql
        assert pragma("PRAGMA journal_mode").scalar() == "wal"
        assert pragma("PRAGMA synchronous").scalar() == 1  # NORMAL
        assert pragma("PRAGMA foreign_keys").scalar() == 1
        assert pragma("PRAGMA busy_timeout").scalar() == 5000
    full = open_sqlite(sqlite_synchronous="full", busy_timeout_ms=250)
    with full.engine.connect() as connection:
        assert connection.exec_driver_sql("PRAGMA synchronous").scalar() == 2  # FULL
        assert connection.exec_driver_sql("PRAGMA busy_timeout").scalar() == 250


def test_in_memory_sqlite_works_for_single_threaded_tests() -> None:
    with SqlEventStore("sqlite://") as store:
        store.append("acc", every_stored_event(), 0)
        assert len(list(store.read_all())) == len(every_stored_event())


@pytest.mark.parametrize(
    ("url", "options"),
    [
        ("not a url", {}),
        ("mysql+pymysql://root@127.0.0.1/test", {}),
        ("sqlite:///x.db", {"schema": "events"}),
        ("sqlite:///x.db", {"sqlite_synchronous": "sometimes"}),
        ("postgresql+psycopg://postgres@127.0.0.1/test", {"schema": 'x"; DROP TABLE events; --'}),
    ],
)
def test_unusable_configuration_is_a_config_error(url: str, options: dict[str, str]) -> None:
    with pytest.raises(ConfigError):
        SqlEventStore(url, **options)


def test_a_writer_bypassing_the_lock_is_stopped_by_the_unique_constraint(
    open_postgres: OpenSql, postgres_url: str, pg_schema: str
) -> None:
    """The UNIQUE(stream_id, version) guard, hit for real: a raw writer holds version 1 open."""
    store = open_postgres()
    dsn = sa.make_url(postgres_url).set(drivername="postgresql").render_as_string(False)
    with psycopg.connect(dsn) as raw:
        raw.execute(sql.SQL("SET search_path TO {}").format(sql.Identifier(pg_schema)))
        raw.execute(
            "INSERT INTO events (stream_id, version, event_type, payload, ts_event, recorded_at) "
            "VALUES (%s, %s, %s, %s, %s, %s)",
            ("O-1", 1, "OrderSubmitted", encode_event(submitted(0)).decode(), 0, 0),
        )
        outcome: list[BaseException | int] = []

        def append() -> None:
            try:
                outcome.append(store.append("O-1", [submitted(1)], 0))
            except ConcurrencyError as exc:
                outcome.append(exc)

        writer = threading.Thread(target=append)
        writer.start()
        _wait_for_a_blocked_backend(raw, writer)
        raw.commit()
        writer.join(timeout=30)
    assert len(outcome) == 1
    assert isinstance(outcome[0], ConcurrencyError)
    assert isinstance(outcome[0].__cause__, sa.exc.IntegrityError)
    assert [record.event.ts_event for record in store.read("O-1")] == [0]


def _wait_for_a_blocked_backend(raw: psycopg.Connection, writer: threading.Thread) -> None:
    """Until the store's INSERT waits on the raw writer's row lock (bounded: ~30 s of polls)."""
    with psycopg.connect(raw.info.dsn, autocommit=True) as watcher:
        for _ in range(3000):
            waiting = watcher.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' "
                "AND datname = current_database() AND query LIKE 'INSERT INTO events%'"
            ).fetchone()
            if waiting is not None and waiting[0] > 0:
                return
            if not writer.is_alive():
                return
            threading.Event().wait(0.01)
    pytest.fail("the store's insert never blocked on the raw writer's uncommitted row")
