"""Engines for the two supported databases, each with the connection settings the event store needs.

SQLite runs in WAL mode: readers never block the writer and a commit is one append to the WAL file.
With synchronous=NORMAL a commit is handed to the operating system but not fsynced until the next
checkpoint. That is still durable against a crash of the process (kill -9, an exception, an OOM
kill): the OS holds the written pages and flushes them; only an OS crash or power loss can roll back
the last few commits, and even then the database is consistent, never corrupt. Use FULL (an fsync
per commit) where losing the last second of events to a power cut is not acceptable.

pysqlite's own transaction handling begins transactions late and only before writes, so it is
turned off and every transaction starts with an explicit BEGIN: DEFERRED for reads, IMMEDIATE for
writes (execution option `sqlite_begin`), which takes the write lock up front so two writers queue
on busy_timeout instead of failing when one tries to upgrade a read lock.
"""

from __future__ import annotations

import re
import sqlite3
import time
from pathlib import Path
from typing import Any, Self

import sqlalchemy as sa
from sqlalchemy import event as sa_event
from sqlalchemy.pool import StaticPool

from grekko.core.errors import ConfigError

SYNCHRONOUS_PRAGMAS = {
    "OFF": "PRAGMA synchronous=OFF",
    "NORMAL": "PRAGMA synchronous=NORMAL",
    "FULL": "PRAGMA synchronous=FULL",
    "EXTRA": "PRAGMA synchronous=EXTRA",
}
SQLITE_BEGIN = {"DEFERRED": "BEGIN DEFERRED", "IMMEDIATE": "BEGIN IMMEDIATE"}
SCHEMA_NAME = re.compile(r"[a-z_][a-z0-9_]{0,62}")


def build_engine(
    url: str,
    *,
    schema: str | None = None,
    sqlite_synchronous: str = "NORMAL",
    busy_timeout_ms: int = 5000,
) -> sa.Engine:
    """An engine for `sqlite:///path` or `postgresql+psycopg://...`; others are a ConfigError."""
    try:
        parsed = sa.make_url(url)
    except sa.exc.ArgumentError as exc:
        raise ConfigError(f"not a database URL: {url!r}") from exc
    backend = parsed.get_backend_name()
    if backend == "sqlite":
        if schema is not None:
            raise ConfigError("schema is a PostgreSQL option; SQLite keeps one schema per file")
        return _sqlite_engine(parsed, sqlite_synchronous.upper(), busy_timeout_ms)
    if backend == "postgresql":
        return _postgres_engine(parsed, schema)
    raise ConfigError(f"unsupported database {backend!r}: use sqlite or postgresql")


def is_in_memory_sqlite(url: sa.URL) -> bool:
    return (url.database or "") in {"", ":memory:"}


def _sqlite_engine(url: sa.URL, synchronous: str, busy_timeout_ms: int) -> sa.Engine:
    if synchronous not in SYNCHRONOUS_PRAGMAS:
        raise ConfigError(f"sqlite_synchronous must be one of {sorted(SYNCHRONOUS_PRAGMAS)}")
    if busy_timeout_ms < 0:
        raise ConfigError(f"busy_timeout_ms must be >= 0, got {busy_timeout_ms}")
    options: dict[str, Any] = {}
    if is_in_memory_sqlite(url):
        # One shared connection: each new connection would see its own empty database.
        options = {"poolclass": StaticPool, "connect_args": {"check_same_thread": False}}
    elif url.database:
        Path(url.database).expanduser().parent.mkdir(parents=True, exist_ok=True)
    engine = sa.create_engine(url, **options)
    pragmas = (
        f"PRAGMA busy_timeout={int(busy_timeout_ms)}",  # first: the others may need to wait
        SYNCHRONOUS_PRAGMAS[synchronous],
        "PRAGMA foreign_keys=ON",
    )

    @sa_event.listens_for(engine, "connect")
    def _configure(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        for pragma in pragmas:
            cursor.execute(pragma)
        _enable_wal(cursor, busy_timeout_ms)
        cursor.close()

    @sa_event.listens_for(engine, "begin")
    def _begin(connection: sa.Connection) -> None:
        mode = connection.get_execution_options().get("sqlite_begin", "DEFERRED")
        connection.exec_driver_sql(SQLITE_BEGIN[mode])

    return engine


def _enable_wal(cursor: Any, busy_timeout_ms: int) -> None:
    """Switch a file to WAL (a property of the file, so only its first opener really does it).

    The switch needs an exclusive lock, and SQLite answers "database is locked" at once, without
    the busy handler, when several connections open a new file together: retry within the
    busy timeout.
    """
    deadline = time.monotonic() + max(busy_timeout_ms, 100) / 1000
    while True:
        try:
            if cursor.execute("PRAGMA journal_mode").fetchone()[0].lower() != "wal":
                cursor.execute("PRAGMA journal_mode=WAL")
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() > deadline:
                raise
            time.sleep(0.01)


def _postgres_engine(url: sa.URL, schema: str | None) -> sa.Engine:
    engine = sa.create_engine(url)
    if schema is None:
        return engine
    if not SCHEMA_NAME.fullmatch(schema):
        raise ConfigError(f"schema must match {SCHEMA_NAME.pattern}, got {schema!r}")
    statement = f'SET SESSION search_path TO "{schema}"'

    @sa_event.listens_for(engine, "connect", insert=True)
    def _set_search_path(dbapi_connection: Any, _record: Any) -> None:
        autocommit = dbapi_connection.autocommit
        dbapi_connection.autocommit = True
        with dbapi_connection.cursor() as cursor:
            cursor.execute(statement)
        dbapi_connection.autocommit = autocommit

    return engine


class ClosesOnExit:
    """`with Store(...) as store:` for the SQL stores: leaving the block calls close()."""

    def close(self) -> None:
        raise NotImplementedError

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()
