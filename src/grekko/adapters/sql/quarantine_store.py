"""Quarantined market data at rest: what the validator refused, with its reason, kept for review."""

from __future__ import annotations

import sqlalchemy as sa

from grekko.adapters.sql import tables
from grekko.engines.ingest.quarantine import QuarantinedRecord


class SqlQuarantineStore:
    """The `sink` of engines.ingest.quarantine.Quarantine: batches go in one transaction."""

    def __init__(self, engine: sa.Engine) -> None:
        self.engine = engine

    def __call__(self, batch: list[QuarantinedRecord]) -> None:
        if not batch:
            return
        rows = [
            {
                "stream_id": r.stream_id[:200],
                "reason": r.reason[:200],
                "payload": f"{r.detail}\n{r.payload}" if r.detail else r.payload,
                "recorded_at": r.recorded_at,
            }
            for r in batch
        ]
        with self.engine.begin() as connection:
            connection.execute(sa.insert(tables.quarantine), rows)

    def recent(self, stream_id: str | None = None, limit: int = 100) -> list[dict[str, object]]:
        query = sa.select(tables.quarantine).order_by(tables.quarantine.c.id.desc()).limit(limit)
        if stream_id is not None:
            query = query.where(tables.quarantine.c.stream_id == stream_id)
        with self.engine.connect() as connection:
            return [dict(row._mapping) for row in connection.execute(query)]

    def counts(self) -> dict[tuple[str, str], int]:
        q = tables.quarantine
        query = sa.select(q.c.stream_id, q.c.reason, sa.func.count()).group_by(
            q.c.stream_id, q.c.reason
        )
        with self.engine.connect() as connection:
            return {(s, r): int(n) for s, r, n in connection.execute(query)}
