"""Quarantined records survive in the database, on SQLite and PostgreSQL, through the Quarantine sink."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from grekko.adapters.sql import SqlEventStore
from grekko.adapters.sql.quarantine_store import SqlQuarantineStore
from grekko.domain.raw import RawTrade
from grekko.engines.ingest.quarantine import Quarantine, Rejected

OpenSql = Callable[..., SqlEventStore]


def test_rejections_are_written_in_batches_and_counted(open_sql: OpenSql) -> None:
    store = SqlQuarantineStore(open_sql().engine)
    quarantine = Quarantine(sink=store)
    bad: Any = float("nan")
    raw = RawTrade("coinbase", "BTC-USD", bad, 1.0, "buy", 1_700_000_000_000, "t1")
    quarantine.add("coinbase.trades", Rejected("schema.price", "not a finite number"), raw, 5)
    quarantine.add("coinbase.trades", Rejected("spike", "far from median"), raw, 6)
    quarantine.add("binance.bars", Rejected("spike"), raw, 7)
    assert store.recent() == []  # batched until flushed

    quarantine.flush()

    rows = store.recent("coinbase.trades")
    assert [r["reason"] for r in rows] == ["spike", "schema.price"]
    assert "not a finite number" in str(rows[1]["payload"])
    assert "RawTrade(venue='coinbase'" in str(rows[1]["payload"])
    assert store.counts() == {
        ("coinbase.trades", "schema.price"): 1,
        ("coinbase.trades", "spike"): 1,
        ("binance.bars", "spike"): 1,
    }
