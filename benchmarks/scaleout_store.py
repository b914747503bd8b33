"""Event store append rate, SqlEventStore on SQLite (a file, WAL, synchronous=NORMAL as the
platform opens it) against PostgreSQL (a fresh database), with the same real order events.

Each order is the four events an order that fills leaves (initialized, submitted, accepted,
filled) on its own stream `order-<id>`, appended with the expected version as the kernel does:

- single: one event per transaction, the way risk and execution store what happens one by one;
- batched: append_many of `batch` events (batch/4 orders) per transaction;
- 2 writers: single appends from two threads at once, as two processes sharing the store would
  (SQLite has one writer at a time, PostgreSQL serializes appends by an advisory lock).
"""

from __future__ import annotations

import tempfile
import threading
import time
from collections.abc import Sequence
from decimal import Decimal
from pathlib import Path

from benchmarks.scaleout_cluster import postgres_database
from grekko.adapters.sql import SqlEventStore
from grekko.domain.enums import LiquiditySide, OrderSide, OrderType
from grekko.domain.events import (
    Event,
    OrderAccepted,
    OrderFilled,
    OrderInitialized,
    OrderSubmitted,
)

T0 = 1_704_067_200_000_000_000
EVENTS_PER_ORDER = 4


def order_events(i: int, tag: str) -> tuple[str, list[Event]]:
    """The stream and events of one market order that filled."""
    coid = f"O-bench-{tag}-{i}"
    side = OrderSide.BUY if i % 2 else OrderSide.SELL
    ts = T0 + i * 60_000_000_000
    return f"order-{coid}", [
        OrderInitialized(
            ts_event=ts,
            client_order_id=coid,
            strategy_id="sma_cross-BTC/USDT",
            instrument_id="BTC/USDT@paper",
            side=side,
            order_type=OrderType.MARKET,
            quantity=Decimal("0.01"),
        ),
        OrderSubmitted(ts_event=ts, client_order_id=coid),
        OrderAccepted(ts_event=ts + 1, client_order_id=coid, venue_order_id=f"P-{coid}"),
        OrderFilled(
            ts_event=ts + 2,
            client_order_id=coid,
            venue_order_id=f"P-{coid}",
            trade_id=f"T-{coid}",
            instrument_id="BTC/USDT@paper",
            strategy_id="sma_cross-BTC/USDT",
            side=side,
            last_qty=Decimal("0.01"),
            last_px=Decimal("42123.45") + i,
            fee=Decimal("0.421"),
            fee_currency="USDT",
            liquidity=LiquiditySide.TAKER,
        ),
    ]


def _single(store: SqlEventStore, orders: Sequence[tuple[str, list[Event]]]) -> None:
    for stream, events in orders:
        for version, event in enumerate(events):
            store.append(stream, [event], version)


def _batched(store: SqlEventStore, orders: Sequence[tuple[str, list[Event]]], batch: int) -> None:
    per = max(1, batch // EVENTS_PER_ORDER)
    for start in range(0, len(orders), per):
        store.append_many([(stream, events, 0) for stream, events in orders[start : start + per]])


def _two_writers(store: SqlEventStore, orders: Sequence[tuple[str, list[Event]]]) -> None:
    errors: list[BaseException] = []

    def write(part: Sequence[tuple[str, list[Event]]]) -> None:
        try:
            _single(store, part)
        except BaseException as exc:  # reported below, not lost in the thread
            errors.append(exc)

    threads = [threading.Thread(target=write, args=(orders[k::2],)) for k in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if errors:
        raise errors[0]


def measure(url: str, single_events: int, batched_events: int, batch: int) -> dict[str, float]:
    """events/s of each mode on the store at url (a fresh, empty one)."""
    store = SqlEventStore(url)
    try:
        _single(store, [order_events(i, "warm") for i in range(25)])  # connections, plans
        rates: dict[str, float] = {}
        runs = {
            "single": (single_events, lambda o: _single(store, o)),
            "batched": (batched_events, lambda o: _batched(store, o, batch)),
            "two_writers": (single_events, lambda o: _two_writers(store, o)),
        }
        for mode, (events, run) in runs.items():
            orders = [order_events(i, mode) for i in range(events // EVENTS_PER_ORDER)]
            started = time.perf_counter()
            run(orders)
            elapsed = time.perf_counter() - started
            rates[mode] = round(len(orders) * EVENTS_PER_ORDER / elapsed)
        written = sum(1 for _ in store.read_all())
        expected = 100 + sum(events // EVENTS_PER_ORDER * 4 for events, _ in runs.values())
        if written != expected:
            raise RuntimeError(
                f"{url.split(':', maxsplit=1)[0]}: {written} events stored, {expected} appended"
            )
        return rates
    finally:
        store.close()


def bench_event_store(
    postgres_admin_url: str | None, single_events: int, batched_events: int, batch: int
) -> dict[str, dict[str, float] | str]:
    """{"sqlite": rates, "postgresql": rates or why it was skipped}."""
    results: dict[str, dict[str, float] | str] = {}
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{Path(tmp) / 'events.db'}"
        results["sqlite"] = measure(url, single_events, batched_events, batch)
    if postgres_admin_url is None:
        results["postgresql"] = "skipped: PostgreSQL not reachable"
        return results
    with postgres_database(postgres_admin_url, "grekko_bench_store") as url:
        results["postgresql"] = measure(url, single_events, batched_events, batch)
    return results
