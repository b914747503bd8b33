"""Alembic owns the schema: migrations run on open, are idempotent and reversible, match queries."""

from __future__ import annotations

import io
import re
import threading
from collections.abc import Callable
from pathlib import Path

import sqlalchemy as sa
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext

from grekko.adapters.sql import SqlEventStore, tables
from grekko.adapters.sql.migrate import alembic_config, current_revision, head_revision
from grekko.core.errors import ConcurrencyError
from grekko.domain.events import OrderSubmitted

OpenSql = Callable[..., SqlEventStore]
SRC_DIR = Path(__file__).resolve().parents[4] / "src" / "grekko"


def _submitted(ts: int) -> OrderSubmitted:
    return OrderSubmitted(ts_event=ts, client_order_id="O-1")


def test_opening_twice_migrates_once_and_keeps_the_data(open_sql: OpenSql) -> None:
    first = open_sql()
    first.append("O-1", [_submitted(1)], 0)
    second = open_sql()
    second.migrate()
    assert current_revision(second.engine) == head_revision() == "0004"
    assert second.stream_version("O-1") == 1
    with second.engine.connect() as connection:
        versions = connection.exec_driver_sql("SELECT version_num FROM alembic_version").all()
    assert versions == [("0004",)]


def test_migrated_tables_match_the_tables_the_queries_use(open_sql: OpenSql) -> None:
    store = open_sql()
    with store.engine.connect() as connection:
        differences = compare_metadata(MigrationContext.configure(connection), tables.metadata)
    assert differences == []


def test_downgrade_to_base_and_back_to_head(open_sql: OpenSql) -> None:
    store = open_sql()
    store.append("O-1", [_submitted(1)], 0)
    with store.engine.begin() as connection:
        command.downgrade(alembic_config(connection), "base")
    with store.engine.connect() as connection:
        assert not sa.inspect(connection).has_table("events")
    store.migrate()
    assert store.stream_version("O-1") == 0
    assert store.append("O-1", [_submitted(2)], 0) == 1


def test_auto_migrate_off_leaves_the_database_untouched(open_sql: OpenSql) -> None:
    store = open_sql(auto_migrate=False)
    assert current_revision(store.engine) is None
    store.migrate()
    assert current_revision(store.engine) == head_revision()


def test_postgres_schema_holds_every_table(open_postgres: OpenSql, pg_schema: str) -> None:
    store = open_postgres()
    with store.engine.connect() as connection:
        found = connection.execute(
            sa.text("SELECT table_name FROM information_schema.tables WHERE table_schema = :s"),
            {"s": pg_schema},
        ).scalars()
        assert set(found) == {
            "alembic_version",
            "events",
            "snapshots",
            "candles",
            "news",
            "news_assets",
            "quarantine",
            "users",
            "refresh_tokens",
            "api_keys",
            "siwe_nonces",
            "audit_log",
            "secrets",
            "idempotency_keys",
            "news_bookmarks",
        }


def test_threads_opening_a_new_sqlite_file_at_once_all_succeed(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'fresh.db'}"
    barrier = threading.Barrier(4)
    outcomes: list[str] = []

    def open_and_append(writer: int) -> None:
        barrier.wait()
        with SqlEventStore(url) as store:
            try:
                store.append("O-1", [_submitted(writer)], 0)
                outcomes.append("won")
            except ConcurrencyError:
                outcomes.append("lost")

    threads = [threading.Thread(target=open_and_append, args=(n,)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(outcomes) == ["lost", "lost", "lost", "won"]


def test_offline_mode_prints_the_ddl() -> None:
    config = alembic_config(url="sqlite:///unused.db")
    config.output_buffer = io.StringIO()
    command.upgrade(config, "head", sql=True)
    ddl = config.output_buffer.getvalue()
    assert "CREATE TABLE events" in ddl
    assert "CREATE TABLE snapshots" in ddl


def test_grekko_never_creates_tables_outside_migrations() -> None:
    offenders = [
        str(path.relative_to(SRC_DIR))
        for path in SRC_DIR.rglob("*.py")
        if re.search(r"\.create_all\(", path.read_text(encoding="utf-8"))
    ]
    assert offenders == []
