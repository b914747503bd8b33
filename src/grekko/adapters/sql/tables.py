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
