"""SQL adapter: the event store on SQLAlchemy Core; SQLite (WAL) by default, PostgreSQL to scale."""

from grekko.adapters.sql.event_store import SqlEventStore

__all__ = ["SqlEventStore"]
