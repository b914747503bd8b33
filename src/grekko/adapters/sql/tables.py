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

users = sa.Table(
    "users",
    metadata,
    sa.Column("id", POSITION_TYPE, primary_key=True, autoincrement=True),
    sa.Column("username", sa.String(64), nullable=False, unique=True),
    sa.Column("password_hash", sa.Text(), nullable=False),
    sa.Column("role", sa.String(16), nullable=False),
    sa.Column("totp_secret", sa.Text(), nullable=True),
    sa.Column("totp_enabled", sa.Boolean(), nullable=False, server_default=sa.false()),
    sa.Column("wallet_address", sa.String(42), nullable=True, unique=True),
    sa.Column("disabled", sa.Boolean(), nullable=False, server_default=sa.false()),
    sa.Column("created_at", sa.BigInteger(), nullable=False),
    sqlite_autoincrement=True,
)

refresh_tokens = sa.Table(
    "refresh_tokens",
    metadata,
    sa.Column("jti", sa.String(64), primary_key=True),
    sa.Column("family_id", sa.String(64), nullable=False, index=True),
    sa.Column("user_id", sa.BigInteger(), nullable=False, index=True),
    sa.Column("issued_at", sa.BigInteger(), nullable=False),
    sa.Column("expires_at", sa.BigInteger(), nullable=False),
    sa.Column("used_at", sa.BigInteger(), nullable=True),
    sa.Column("revoked_at", sa.BigInteger(), nullable=True),
)

api_keys = sa.Table(
    "api_keys",
    metadata,
    sa.Column("key_id", sa.String(32), primary_key=True),
    sa.Column("user_id", sa.BigInteger(), nullable=False, index=True),
    sa.Column("name", sa.String(100), nullable=False),
    sa.Column("key_hash", sa.Text(), nullable=False),
    sa.Column("role", sa.String(16), nullable=False),
    sa.Column("created_at", sa.BigInteger(), nullable=False),
    sa.Column("last_used_at", sa.BigInteger(), nullable=True),
    sa.Column("revoked_at", sa.BigInteger(), nullable=True),
)

siwe_nonces = sa.Table(
    "siwe_nonces",
    metadata,
    sa.Column("nonce", sa.String(64), primary_key=True),
    sa.Column("created_at", sa.BigInteger(), nullable=False),
    sa.Column("expires_at", sa.BigInteger(), nullable=False),
    sa.Column("used_at", sa.BigInteger(), nullable=True),
)

audit_log = sa.Table(
    "audit_log",
    metadata,
    sa.Column("seq", POSITION_TYPE, primary_key=True, autoincrement=True),
    sa.Column("ts", sa.BigInteger(), nullable=False),
    sa.Column("actor", sa.String(100), nullable=False),
    sa.Column("action", sa.String(100), nullable=False),
    sa.Column("target", sa.String(200), nullable=False),
    sa.Column("detail", sa.Text(), nullable=False),
    sa.Column("prev_hash", sa.String(64), nullable=False),
    sa.Column("hash", sa.String(64), nullable=False),
    sqlite_autoincrement=True,
)

secrets = sa.Table(
    "secrets",
    metadata,
    sa.Column("name", sa.String(200), primary_key=True),
    sa.Column("nonce", sa.LargeBinary(), nullable=False),
    sa.Column("ciphertext", sa.LargeBinary(), nullable=False),
    sa.Column("created_at", sa.BigInteger(), nullable=False),
    sa.Column("updated_at", sa.BigInteger(), nullable=False),
)

idempotency_keys = sa.Table(
    "idempotency_keys",
    metadata,
    sa.Column("key", sa.String(200), primary_key=True),
    sa.Column("user_id", sa.BigInteger(), primary_key=True),
    sa.Column("request_hash", sa.String(64), nullable=False),
    sa.Column("status_code", sa.Integer(), nullable=False),
    sa.Column("response", sa.Text(), nullable=False),
    sa.Column("created_at", sa.BigInteger(), nullable=False),
)

news_bookmarks = sa.Table(
    "news_bookmarks",
    metadata,
    sa.Column("user_id", sa.BigInteger(), primary_key=True),
    sa.Column(
        "news_id",
        sa.String(64),
        sa.ForeignKey("news.news_id", ondelete="CASCADE"),
        primary_key=True,
    ),
    sa.Column("created_at", sa.BigInteger(), nullable=False),
)
