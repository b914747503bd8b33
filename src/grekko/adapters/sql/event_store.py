"""SqlEventStore: the EventStore port on SQLAlchemy 2 Core, over SQLite (WAL) or PostgreSQL.

Writers are serialized so that the global position order is the commit order: SQLite has a single
writer anyway (BEGIN IMMEDIATE), and on PostgreSQL each append takes a transaction-level advisory
lock. Without it a reader tailing read_all could pass position N+1 while N, allocated earlier by a
slower transaction, was still uncommitted, and never see N. Inside that order the expected-version
check reads the stream's current version; the UNIQUE(stream_id, version) constraint stays the last
guard against any writer that bypasses the lock, and its violation becomes a ConcurrencyError.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

from grekko.adapters.sql import tables
from grekko.adapters.sql.engine import ClosesOnExit, build_engine
from grekko.adapters.sql.migrate import advisory_lock_key, upgrade_to_head
from grekko.core.errors import ConcurrencyError, DataError
from grekko.core.time import Clock, LiveClock
from grekko.domain.events import Event, decode_event, encode_event
from grekko.ports.event_store import (
    ANY_VERSION,
    RecordedEvent,
    Snapshot,
    check_start,
    check_storable,
    check_stream_id,
)

AppendBatch = tuple[str, Sequence[Event], int]

_events = tables.events
_snapshots = tables.snapshots
_RECORD_COLUMNS = (
    _events.c.global_position,
    _events.c.stream_id,
    _events.c.version,
    _events.c.payload,
)


class SqlEventStore(ClosesOnExit):
    """Events and snapshots in a SQL database; the schema is migrated to head on open.

    url: `sqlite:///path/grekko.db` (parent folders are created) or
    `postgresql+psycopg://user@host:5432/db`. schema (PostgreSQL only) puts the tables in that
    schema, created if missing. sqlite_synchronous: NORMAL is durable against process crashes,
    FULL also against power loss (see grekko.adapters.sql.engine). An in-memory SQLite URL
    (`sqlite://`) shares one connection and is for single-threaded tests only.
    """

    def __init__(
        self,
        url: str,
        *,
        schema: str | None = None,
        sqlite_synchronous: str = "NORMAL",
        busy_timeout_ms: int = 5000,
        read_chunk_size: int = 1000,
        clock: Clock | None = None,
        auto_migrate: bool = True,
    ) -> None:
        if read_chunk_size < 1:
            raise DataError(f"read_chunk_size must be >= 1, got {read_chunk_size}")
        self._engine = build_engine(
            url,
            schema=schema,
            sqlite_synchronous=sqlite_synchronous,
            busy_timeout_ms=busy_timeout_ms,
        )
        self._schema = schema
        self._clock: Clock = clock if clock is not None else LiveClock()
        self._is_postgres = self._engine.dialect.name == "postgresql"
        self._write_lock = sa.select(
            sa.func.pg_advisory_xact_lock(advisory_lock_key("append", schema))
        )
        self._read_all_chunk = (
            sa.select(*_RECORD_COLUMNS)
            .where(_events.c.global_position >= sa.bindparam("start"))
            .order_by(_events.c.global_position)
            .limit(read_chunk_size)
        )
        self._chunk_size = read_chunk_size
        if auto_migrate:
            self.migrate()

    @property
    def engine(self) -> sa.Engine:
        """The engine, for read models that live in the same database."""
        return self._engine

    def migrate(self) -> None:
        """Run the Alembic migrations to head; safe to call again and from several processes."""
        upgrade_to_head(self._engine, self._schema)

    def append(
        self, stream_id: str, events: Sequence[Event], expected_version: int = ANY_VERSION
    ) -> int:
        """Append atomically; returns the stream's new version (ConcurrencyError on a stale one)."""
        return self.append_many([(stream_id, events, expected_version)])[0]

    def append_many(self, batches: Sequence[AppendBatch]) -> list[int]:
        """Append to several streams in one transaction; returns each batch's new stream version.

        The kernel writes an order's events and its account's together: either both land or neither.
        """
        for stream_id, events, expected_version in batches:
            _check_batch(stream_id, events, expected_version)
        try:
            with self._write_transaction() as connection:
                new_versions, rows = self._plan_rows(connection, batches)
                if rows:
                    connection.execute(_events.insert(), rows)
        except sa.exc.IntegrityError as exc:
            if _is_version_conflict(exc):
                raise ConcurrencyError(
                    "another writer appended to the same stream concurrently"
                ) from exc
            raise
        return new_versions

    def read(self, stream_id: str, from_version: int = 1) -> list[RecordedEvent]:
        check_start(from_version, "from_version")
        query = (
            sa.select(*_RECORD_COLUMNS)
            .where(_events.c.stream_id == stream_id, _events.c.version >= from_version)
            .order_by(_events.c.version)
        )
        with self._engine.connect() as connection:
            rows = connection.execute(query).all()
        return [_record(row) for row in rows]

    def read_all(self, from_position: int = 1) -> Iterator[RecordedEvent]:
        """Every stream in global order, fetched in chunks so a long log never sits in memory.

        Each chunk is its own short query, so an abandoned iterator holds no connection or lock.
        """
        check_start(from_position, "from_position")
        return self._iterate_all(from_position)

    def stream_version(self, stream_id: str) -> int:
        with self._engine.connect() as connection:
            return _current_version(connection, stream_id)

    def save_snapshot(self, snapshot: Snapshot) -> None:
        """Insert or replace the stream's one snapshot."""
        if snapshot.version < 0:
            raise DataError(f"snapshot version must be >= 0, got {snapshot.version}")
        check_stream_id(snapshot.stream_id)
        insert = (postgresql.insert if self._is_postgres else sqlite.insert)(_snapshots)
        values = {
            "stream_id": snapshot.stream_id,
            "version": snapshot.version,
            "state": bytes(snapshot.state),
            "saved_at": self._clock.timestamp_ns(),
        }
        upsert = insert.values(values).on_conflict_do_update(
            index_elements=[_snapshots.c.stream_id],
            set_={name: insert.excluded[name] for name in ("version", "state", "saved_at")},
        )
        with self._engine.connect() as connection:
            connection.execution_options(sqlite_begin="IMMEDIATE")
            with connection.begin():
                connection.execute(upsert)

    def load_snapshot(self, stream_id: str) -> Snapshot | None:
        query = sa.select(_snapshots.c.version, _snapshots.c.state).where(
            _snapshots.c.stream_id == stream_id
        )
        with self._engine.connect() as connection:
            row = connection.execute(query).first()
        if row is None:
            return None
        return Snapshot(stream_id=stream_id, version=row.version, state=bytes(row.state))

    def close(self) -> None:
        """Close every pooled connection."""
        self._engine.dispose()

    @contextmanager
    def _write_transaction(self) -> Iterator[sa.Connection]:
        with self._engine.connect() as connection:
            connection.execution_options(sqlite_begin="IMMEDIATE")
            with connection.begin():
                if self._is_postgres:
                    connection.execute(self._write_lock)
                yield connection

    def _plan_rows(
        self, connection: sa.Connection, batches: Sequence[AppendBatch]
    ) -> tuple[list[int], list[dict[str, Any]]]:
        """Check every expected version and build the rows; raises before anything is written."""
        recorded_at = self._clock.timestamp_ns()
        planned: dict[str, int] = {}
        new_versions: list[int] = []
        rows: list[dict[str, Any]] = []
        for stream_id, events, expected_version in batches:
            current = planned.get(stream_id)
            if current is None:
                current = _current_version(connection, stream_id)
            if expected_version not in (current, ANY_VERSION):
                raise ConcurrencyError(
                    f"stream {stream_id!r} is at version {current}, "
                    f"the append expected {expected_version}"
                )
            rows.extend(
                {
                    "stream_id": stream_id,
                    "version": current + offset,
                    "event_type": type(event).__name__,
                    "payload": encode_event(event).decode(),
                    "ts_event": event.ts_event,
                    "recorded_at": recorded_at,
                }
                for offset, event in enumerate(events, start=1)
            )
            planned[stream_id] = current + len(events)
            new_versions.append(current + len(events))
        return new_versions, rows

    def _iterate_all(self, position: int) -> Iterator[RecordedEvent]:
        while True:
            with self._engine.connect() as connection:
                rows = connection.execute(self._read_all_chunk, {"start": position}).all()
            for row in rows:
                yield _record(row)
            if len(rows) < self._chunk_size:
                return
            position = rows[-1].global_position + 1


def _current_version(connection: sa.Connection, stream_id: str) -> int:
    query = sa.select(sa.func.max(_events.c.version)).where(_events.c.stream_id == stream_id)
    version = connection.execute(query).scalar()
    return 0 if version is None else int(version)


def _record(row: sa.Row[int, str, int, str]) -> RecordedEvent:
    position, stream_id, version, payload = row
    return RecordedEvent(position, stream_id, version, decode_event(payload))


def _check_batch(stream_id: str, events: Sequence[Event], expected_version: int) -> None:
    check_stream_id(stream_id)
    if expected_version < ANY_VERSION:
        raise DataError(f"expected_version must be >= {ANY_VERSION}, got {expected_version}")
    check_storable(events)


def _is_version_conflict(exc: sa.exc.IntegrityError) -> bool:
    message = str(exc.orig)
    return "uq_events_stream_version" in message or "events.stream_id, events.version" in message
