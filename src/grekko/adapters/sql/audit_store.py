"""SqlAuditLog: the hash-chained audit trail in the `audit_log` table, on SQLite or PostgreSQL.

An append reads the newest entry and inserts the next one in ONE transaction, and appends are
serialized so two writers never chain onto the same predecessor: SQLite takes its single write
lock up front (BEGIN IMMEDIATE), PostgreSQL takes `LOCK TABLE audit_log IN EXCLUSIVE MODE`, which
queues other writers but not readers, and is per schema because the table name resolves through
the search path. `seq` is assigned explicitly (newest + 1) rather than by the database's
sequence: a PostgreSQL sequence skips values on rollback, and a gap must mean a deleted entry.
The primary key is the last guard: an engine that does not serialize (a plain SQLite engine
without Grekko's BEGIN IMMEDIATE) gets an IntegrityError on a duplicate seq and the append is
retried on the new head.

The store has no update or delete: the application never rewrites history, and `verify()` shows
when someone did it underneath. Detail goes through `scrub_detail` (secret-named keys and
secret-shaped values become "[REDACTED]") and then through the optional `redact` callable, e.g.
grekko.api.redaction.redact, which also knows the secrets registered at run time.
"""

from __future__ import annotations

import builtins
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from typing import Any

import sqlalchemy as sa

from grekko.adapters.sql import tables
from grekko.core.errors import DataError
from grekko.core.time import Clock, LiveClock
from grekko.domain.audit import (
    AuditEntry,
    ChainVerifier,
    VerifyResult,
    canonical_detail,
    check_fields,
    make_entry,
    scrub_detail,
)

MAX_DETAIL_BYTES = 64 * 1024
MAX_LIST = 1000
_APPEND_ATTEMPTS = 5
_log = tables.audit_log
_COLUMNS = (
    _log.c.seq,
    _log.c.ts,
    _log.c.actor,
    _log.c.action,
    _log.c.target,
    _log.c.detail,
    _log.c.prev_hash,
    _log.c.hash,
)


class SqlAuditLog:
    """Append, list and verify; the engine's schema must be migrated (migration 0003)."""

    def __init__(
        self,
        engine: sa.Engine,
        *,
        clock: Clock | None = None,
        redact: Callable[[str], str] | None = None,
        max_detail_bytes: int = MAX_DETAIL_BYTES,
    ) -> None:
        self.engine = engine
        self._clock: Clock = clock if clock is not None else LiveClock()
        self._redact = redact
        self._max_detail_bytes = max_detail_bytes
        self._is_postgres = engine.dialect.name == "postgresql"

    def append(
        self, actor: str, action: str, target: str, detail: Mapping[str, Any] | None = None
    ) -> AuditEntry:
        """Record who did what to what; returns the stored entry with its seq and hash."""
        try:
            check_fields(actor, action, target)
        except ValueError as exc:
            raise DataError(str(exc)) from exc
        if detail is not None and not isinstance(detail, Mapping):
            raise DataError(f"audit detail must be a mapping, got {type(detail).__name__}")
        text = canonical_detail(scrub_detail(detail or {}))
        if self._redact is not None:
            text = self._redact(text)
        if len(text.encode("utf-8")) > self._max_detail_bytes:
            raise DataError(f"audit detail is over {self._max_detail_bytes} bytes")
        for attempt in range(_APPEND_ATTEMPTS):
            try:
                return self._append_once(actor, action, target, text)
            except sa.exc.IntegrityError:
                if attempt == _APPEND_ATTEMPTS - 1:
                    raise
        raise AssertionError("unreachable")  # pragma: no cover

    def list(
        self,
        limit: int = 100,
        before_seq: int | None = None,
        *,
        actor: str | None = None,
        action: str | None = None,
    ) -> builtins.list[AuditEntry]:
        """Newest first; page with before_seq = the smallest seq of the previous page."""
        if not 1 <= limit <= MAX_LIST:
            raise DataError(f"limit must be within 1..{MAX_LIST}, got {limit}")
        query = sa.select(*_COLUMNS).order_by(_log.c.seq.desc()).limit(limit)
        if before_seq is not None:
            query = query.where(_log.c.seq < before_seq)
        if actor is not None:
            query = query.where(_log.c.actor == actor)
        if action is not None:
            query = query.where(_log.c.action == action)
        with self.engine.connect() as connection:
            return [_entry(row) for row in connection.execute(query)]

    def head(self) -> AuditEntry | None:
        """The newest entry: its (seq, hash) is what to anchor elsewhere against truncation."""
        with self.engine.connect() as connection:
            return _newest(connection)

    def verify(self, chunk_size: int = 1000) -> VerifyResult:
        """Walk the whole chain from seq 1 in chunks; the first broken entry and why."""
        verifier = ChainVerifier()
        after = 0
        while True:
            query = (
                sa.select(*_COLUMNS)
                .where(_log.c.seq > after)
                .order_by(_log.c.seq)
                .limit(chunk_size)
            )
            with self.engine.connect() as connection:
                rows = connection.execute(query).all()
            for row in rows:
                if not verifier.feed(_entry(row)):
                    return verifier.result()
            if len(rows) < chunk_size:
                return verifier.result()
            after = int(rows[-1].seq)

    def _append_once(self, actor: str, action: str, target: str, detail: str) -> AuditEntry:
        with self._write_transaction() as connection:
            entry = make_entry(
                _newest(connection), self._clock.timestamp_ns(), actor, action, target, detail
            )
            connection.execute(
                sa.insert(_log).values(
                    seq=entry.seq,
                    ts=entry.ts,
                    actor=entry.actor,
                    action=entry.action,
                    target=entry.target,
                    detail=entry.detail,
                    prev_hash=entry.prev_hash,
                    hash=entry.hash,
                )
            )
        return entry

    @contextmanager
    def _write_transaction(self) -> Iterator[sa.Connection]:
        with self.engine.connect() as connection:
            connection.execution_options(sqlite_begin="IMMEDIATE")
            with connection.begin():
                if self._is_postgres:
                    connection.exec_driver_sql("LOCK TABLE audit_log IN EXCLUSIVE MODE")
                yield connection


def _newest(connection: sa.Connection) -> AuditEntry | None:
    row = connection.execute(sa.select(*_COLUMNS).order_by(_log.c.seq.desc()).limit(1)).first()
    return None if row is None else _entry(row)


def _entry(row: Any) -> AuditEntry:
    return AuditEntry(
        seq=int(row.seq),
        ts=int(row.ts),
        actor=str(row.actor),
        action=str(row.action),
        target=str(row.target),
        detail=str(row.detail),
        prev_hash=str(row.prev_hash),
        hash=str(row.hash),
    )
