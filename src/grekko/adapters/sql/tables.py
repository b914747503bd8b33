"""Table definitions the queries are built from; the schema itself is created only by migrations.

These mirror migrations/versions/*.py (a test compares them with Alembic's compare_metadata),
but are never passed to metadata.create_all: Alembic owns the schema from the first table on.
"""

from __future__ import annotations

import sqlalchemy as sa

# SQLite makes only an INTEGER PRIMARY KEY an alias of the rowid (and so autoincrementing).
POSITION_TYPE = sa.BigInteger().with_variant(sa.Integer(), "sqlite")

metadata = sa.MetaData()

events = sa.Table(
    "events",
    metadata,
    sa.Column("global_position", POSITION_TYPE, primary_key=True, autoincrement=True),
    sa.Column("stream_id", sa.String(200), nullable=False),
    sa.Column("version", sa.BigInteger(), nullable=False),
    sa.Column("event_type", sa.String(100), nullable=False),
    sa.Column("payload", sa.Text(), nullable=False),
    sa.Column("ts_event", sa.BigInteger(), nullable=False),
    sa.Column("recorded_at", sa.BigInteger(), nullable=False),
    sa.UniqueConstraint("stream_id", "version", name="uq_events_stream_version"),
    sqlite_autoincrement=True,
)

snapshots = sa.Table(
    "snapshots",
    metadata,
    sa.Column("stream_id", sa.String(200), primary_key=True),
    sa.Column("version", sa.BigInteger(), nullable=False),
    sa.Column("state", sa.LargeBinary(), nullable=False),
    sa.Column("saved_at", sa.BigInteger(), nullable=False),
)

candles = sa.Table(
    "candles",
    metadata,
    sa.Column("instrument_id", sa.String(200), primary_key=True),
    sa.Column("timeframe", sa.String(8), primary_key=True),
    sa.Column("ts_open", sa.BigInteger(), primary_key=True),
    sa.Column("open", sa.Float(53), nullable=False),
    sa.Column("high", sa.Float(53), nullable=False),
    sa.Column("low", sa.Float(53), nullable=False),
    sa.Column("close", sa.Float(53), nullable=False),
    sa.Column("volume", sa.Float(53), nullable=False),
)

news = sa.Table(
    "news",
    metadata,
    sa.Column("news_id", sa.String(64), primary_key=True),
    sa.Column("published_at", sa.BigInteger(), nullable=False),
    sa.Column("source", sa.String(200), nullable=False),
    sa.Column("title", sa.Text(), nullable=False),
    sa.Column("summary", sa.Text(), nullable=False),
    sa.Column("url", sa.Text(), nullable=False),
    sa.Column("sentiment", sa.Float(53), nullable=False),
    sa.Column("sentiment_label", sa.String(10), nullable=False),
    sa.Column("recorded_at", sa.BigInteger(), nullable=False),
    sa.Index("ix_news_published_at", "published_at"),
)

news_assets = sa.Table(
    "news_assets",
    metadata,
    sa.Column(
        "news_id",
        sa.String(64),
        sa.ForeignKey("news.news_id", ondelete="CASCADE"),
        primary_key=True,
    ),
    sa.Column("asset", sa.String(20), primary_key=True),
    sa.Index("ix_news_assets_asset", "asset"),
)

quarantine = sa.Table(
    "quarantine",
    metadata,
    sa.Column("id", POSITION_TYPE, primary_key=True, autoincrement=True),
    sa.Column("stream_id", sa.String(200), nullable=False),
    sa.Column("reason", sa.String(200), nullable=False),
    sa.Column("payload", sa.Text(), nullable=False),
    sa.Column("recorded_at", sa.BigInteger(), nullable=False),
    sa.Index("ix_quarantine_stream_id", "stream_id"),
    sqlite_autoincrement=True,
)
