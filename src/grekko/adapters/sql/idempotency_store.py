"""Idempotency keys of order submissions: a retried POST gets the first answer, not a second order."""

from __future__ import annotations

import time
from dataclasses import dataclass

import sqlalchemy as sa

from grekko.adapters.sql import tables

_t = tables.idempotency_keys


@dataclass(frozen=True, slots=True)
class StoredAnswer:
    request_hash: str
    status_code: int
    response: str


class SqlIdempotencyStore:
    def __init__(self, engine: sa.Engine) -> None:
        self.engine = engine

    def get(self, user_id: int, key: str) -> StoredAnswer | None:
        query = sa.select(_t.c.request_hash, _t.c.status_code, _t.c.response).where(
            _t.c.user_id == user_id, _t.c.key == key
        )
        with self.engine.connect() as connection:
            row = connection.execute(query).first()
        return None if row is None else StoredAnswer(row[0], int(row[1]), row[2])

    def put(
        self, user_id: int, key: str, request_hash: str, status_code: int, response: str
    ) -> None:
        row = {
            "key": key,
            "user_id": user_id,
            "request_hash": request_hash,
            "status_code": status_code,
            "response": response,
            "created_at": time.time_ns(),
        }
        try:
            with self.engine.begin() as connection:
                connection.execute(sa.insert(_t), [row])
        except sa.exc.IntegrityError:
            pass  # the first answer stays; both came from the same request

    def purge_older_than(self, ts_ns: int) -> int:
        with self.engine.begin() as connection:
            return connection.execute(sa.delete(_t).where(_t.c.created_at < ts_ns)).rowcount
