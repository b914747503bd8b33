"""News bookmarks: each user's own list of stories kept for later.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-24
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "news_bookmarks",
        sa.Column("user_id", sa.BigInteger(), primary_key=True),
        sa.Column(
            "news_id",
            sa.String(64),
            sa.ForeignKey("news.news_id", ondelete="CASCADE"),
            primary_key=True,
        ),
        sa.Column("created_at", sa.BigInteger(), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("news_bookmarks")
