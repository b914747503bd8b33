"""News bookmarks per user (table of migration 0004): a story kept for later, newest first.

Bookmarking is idempotent: a story bookmarked twice keeps the time it was first bookmarked.
A bookmark of a story that is not stored breaks the foreign key and is refused.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

from grekko.adapters.sql import tables

_t = tables.news_bookmarks
MAX_LISTED = 10_000


class UnknownNews(LookupError):
    """The story to bookmark is not in the news table."""


class SqlBookmarkStore:
    def __init__(self, engine: sa.Engine, *, clock: Callable[[], int] = time.time_ns) -> None:
        self.engine = engine
        self._clock = clock
        self._insert = postgresql.insert if engine.dialect.name == "postgresql" else sqlite.insert

    def news_ids(self, user_id: int, limit: int = MAX_LISTED) -> list[str]:
        """The user's bookmarked news ids, the latest bookmarked first."""
        query = (
            sa.select(_t.c.news_id)
            .where(_t.c.user_id == user_id)
            .order_by(_t.c.created_at.desc(), _t.c.news_id.desc())
            .limit(limit)
        )
        with self.engine.connect() as connection:
            return list(connection.execute(query).scalars())

    def add(self, user_id: int, news_id: str) -> bool:
        """Bookmark a stored story; True if it was not bookmarked yet. UnknownNews otherwise."""
        statement = (
            self._insert(_t)
            .values(user_id=user_id, news_id=news_id, created_at=self._clock())
            .on_conflict_do_nothing(index_elements=[_t.c.user_id, _t.c.news_id])
        )
        try:
            with self.engine.begin() as connection:
                return connection.execute(statement).rowcount == 1
        except sa.exc.IntegrityError:
            raise UnknownNews(news_id) from None

    def remove(self, user_id: int, news_id: str) -> bool:
        """Drop a bookmark; True if there was one."""
        statement = sa.delete(_t).where(_t.c.user_id == user_id, _t.c.news_id == news_id)
        with self.engine.begin() as connection:
            return connection.execute(statement).rowcount == 1
