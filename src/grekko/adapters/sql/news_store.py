"""SqlNewsStore: the NewsStore port on SQLAlchemy Core, over SQLite (WAL) or PostgreSQL.

Inserts are INSERT ... ON CONFLICT (news_id) DO NOTHING RETURNING news_id: the database itself
says which items were new, so two writers storing the same story race safely and each item's
asset rows are written exactly once, in the same transaction as the item.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

from grekko.adapters.sql import tables
from grekko.adapters.sql.engine import ClosesOnExit, build_engine
from grekko.adapters.sql.migrate import upgrade_to_head
from grekko.core.time import Clock, LiveClock
from grekko.domain.news import NewsItem, NewsQuery

_news = tables.news
_assets = tables.news_assets
_ITEM_COLUMNS = (
    _news.c.news_id,
    _news.c.published_at,
    _news.c.source,
    _news.c.title,
    _news.c.summary,
    _news.c.url,
    _news.c.sentiment,
    _news.c.sentiment_label,
)
_ItemRow = sa.Row[str, int, str, str, str, str, float, str]
_INSERT_CHUNK = 500  # rows per statement: 9 columns stay far below SQLite's bound-parameter cap


class SqlNewsStore(ClosesOnExit):
    """News and their asset tags in the tables of migration 0002; migrated to head on open.

    database: a URL (`sqlite:///path/grekko.db`, `postgresql+psycopg://...`; see SqlEventStore)
    or an engine that is already open, such as the event store's (`SqlEventStore.engine`), which
    this store then uses but does not dispose of.
    """

    def __init__(
        self,
        database: str | sa.Engine,
        *,
        schema: str | None = None,
        clock: Clock | None = None,
        auto_migrate: bool = True,
    ) -> None:
        self._owns_engine = isinstance(database, str)
        self._engine = (
            build_engine(database, schema=schema) if isinstance(database, str) else database
        )
        self._schema = schema
        self._clock: Clock = clock if clock is not None else LiveClock()
        self._insert = (
            postgresql.insert if self._engine.dialect.name == "postgresql" else sqlite.insert
        )
        if auto_migrate:
            upgrade_to_head(self._engine, schema)

    @property
    def engine(self) -> sa.Engine:
        return self._engine

    def add_many(self, items: Sequence[NewsItem]) -> int:
        """Store the items whose news_id is not stored yet; returns how many that was."""
        first_copies: dict[str, NewsItem] = {}
        for item in items:
            first_copies.setdefault(item.news_id, item)
        unique = list(first_copies.values())
        if not unique:
            return 0
        recorded_at = self._clock.timestamp_ns()
        new = 0
        with self._engine.connect() as connection:
            connection.execution_options(sqlite_begin="IMMEDIATE")
            with connection.begin():
                for start in range(0, len(unique), _INSERT_CHUNK):
                    chunk = unique[start : start + _INSERT_CHUNK]
                    new += self._insert_chunk(connection, chunk, recorded_at)
        return new

    def query(self, query: NewsQuery) -> list[NewsItem]:
        statement = (
            sa.select(*_ITEM_COLUMNS)
            .where(*_filters(query))
            .order_by(_news.c.published_at.desc(), _news.c.news_id.desc())
            .limit(query.limit)
        )
        with self._engine.connect() as connection:
            rows = connection.execute(statement).all()
            assets = _assets_of(connection, [row.news_id for row in rows])
        return [_item(row, assets.get(row.news_id, ())) for row in rows]

    def get(self, news_id: str) -> NewsItem | None:
        statement = sa.select(*_ITEM_COLUMNS).where(_news.c.news_id == news_id)
        with self._engine.connect() as connection:
            row = connection.execute(statement).first()
            if row is None:
                return None
            assets = _assets_of(connection, [news_id])
        return _item(row, assets.get(news_id, ()))

    def count(self) -> int:
        with self._engine.connect() as connection:
            return int(
                connection.execute(sa.select(sa.func.count()).select_from(_news)).scalar_one()
            )

    def close(self) -> None:
        """Dispose of the engine if this store opened it."""
        if self._owns_engine:
            self._engine.dispose()

    def _insert_chunk(
        self, connection: sa.Connection, chunk: Sequence[NewsItem], recorded_at: int
    ) -> int:
        rows = [_row(item, recorded_at) for item in chunk]
        statement = (
            self._insert(_news)
            .values(rows)
            .on_conflict_do_nothing(index_elements=[_news.c.news_id])
            .returning(_news.c.news_id)
        )
        inserted = set(connection.execute(statement).scalars())
        asset_rows = [
            {"news_id": item.news_id, "asset": asset}
            for item in chunk
            if item.news_id in inserted
            for asset in dict.fromkeys(item.assets)
        ]
        if asset_rows:
            connection.execute(_assets.insert(), asset_rows)
        return len(inserted)


def _filters(query: NewsQuery) -> list[sa.ColumnElement[bool]]:
    filters: list[sa.ColumnElement[bool]] = []
    if query.since is not None:
        filters.append(_news.c.published_at >= query.since)
    if query.until is not None:
        filters.append(_news.c.published_at < query.until)
    if query.sentiment_label is not None:
        filters.append(_news.c.sentiment_label == query.sentiment_label)
    if query.assets:
        tagged = sa.select(_assets.c.news_id).where(_assets.c.asset.in_(query.assets))
        filters.append(_news.c.news_id.in_(tagged))
    if query.text:
        pattern = "%" + _escape_like(query.text) + "%"
        filters.append(
            sa.or_(
                _news.c.title.ilike(pattern, escape="\\"),
                _news.c.summary.ilike(pattern, escape="\\"),
            )
        )
    return filters


def _escape_like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _assets_of(connection: sa.Connection, news_ids: list[str]) -> dict[str, tuple[str, ...]]:
    if not news_ids:
        return {}
    statement = (
        sa.select(_assets.c.news_id, _assets.c.asset)
        .where(_assets.c.news_id.in_(news_ids))
        .order_by(_assets.c.news_id, _assets.c.asset)
    )
    grouped: dict[str, list[str]] = {}
    for news_id, asset in connection.execute(statement):
        grouped.setdefault(news_id, []).append(asset)
    return {news_id: tuple(assets) for news_id, assets in grouped.items()}


def _row(item: NewsItem, recorded_at: int) -> dict[str, Any]:
    return {
        "news_id": item.news_id,
        "published_at": item.published_at,
        "source": item.source,
        "title": item.title,
        "summary": item.summary,
        "url": item.url,
        "sentiment": item.sentiment,
        "sentiment_label": item.sentiment_label,
        "recorded_at": recorded_at,
    }


def _item(row: _ItemRow, assets: tuple[str, ...]) -> NewsItem:
    return NewsItem(
        news_id=row.news_id,
        published_at=row.published_at,
        source=row.source,
        title=row.title,
        summary=row.summary,
        url=row.url,
        assets=assets,
        sentiment=row.sentiment,
        sentiment_label=row.sentiment_label,
    )
