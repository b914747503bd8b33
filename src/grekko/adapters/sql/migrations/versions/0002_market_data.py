"""Market data at rest: candles per instrument and timeframe, news with asset tags, quarantine.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-24
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

ID_TYPE = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "candles",
        sa.Column("instrument_id", sa.String(200), primary_key=True),
        sa.Column("timeframe", sa.String(8), primary_key=True),
        sa.Column("ts_open", sa.BigInteger(), primary_key=True),
        sa.Column("open", sa.Float(53), nullable=False),
        sa.Column("high", sa.Float(53), nullable=False),
        sa.Column("low", sa.Float(53), nullable=False),
        sa.Column("close", sa.Float(53), nullable=False),
        sa.Column("volume", sa.Float(53), nullable=False),
    )
    op.create_table(
        "news",
        sa.Column("news_id", sa.String(64), primary_key=True),
        sa.Column("published_at", sa.BigInteger(), nullable=False),
        sa.Column("source", sa.String(200), nullable=False),
        sa.Column("title", sa.Text(), nullable=False),
        sa.Column("summary", sa.Text(), nullable=False),
        sa.Column("url", sa.Text(), nullable=False),
        sa.Column("sentiment", sa.Float(53), nullable=False),
        sa.Column("sentiment_label", sa.String(10), nullable=False),
        sa.Column("recorded_at", sa.BigInteger(), nullable=False),
    )
    op.create_index("ix_news_published_at", "news", ["published_at"])
    op.create_table(
        "news_assets",
        sa.Column(
            "news_id",
            sa.String(64),
            sa.ForeignKey("news.news_id", ondelete="CASCADE"),
            primary_key=True,
        ),
        sa.Column("asset", sa.String(20), primary_key=True),
    )
    op.create_index("ix_news_assets_asset", "news_assets", ["asset"])
    op.create_table(
        "quarantine",
        sa.Column("id", ID_TYPE, primary_key=True, autoincrement=True),
        sa.Column("stream_id", sa.String(200), nullable=False),
        sa.Column("reason", sa.String(200), nullable=False),
        sa.Column("payload", sa.Text(), nullable=False),
        sa.Column("recorded_at", sa.BigInteger(), nullable=False),
        sqlite_autoincrement=True,
    )
    op.create_index("ix_quarantine_stream_id", "quarantine", ["stream_id"])


def downgrade() -> None:
    op.drop_table("quarantine")
    op.drop_table("news_assets")
    op.drop_table("news")
    op.drop_table("candles")
