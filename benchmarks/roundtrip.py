"""Order round trip through the real kernel: submit -> risk -> execution -> paper venue -> fill ->
portfolio position -> PositionChanged event, timed per order with perf_counter_ns.

A market order fills on the next market observation, so each round trip is: the strategy
submits, one trade tick arrives, and the clock stops when a subscriber receives the
PositionChanged event. Prints `RESULT {json}` with median_us, p99_us, orders.

usage: python -m benchmarks.roundtrip [ORDERS]
"""

from __future__ import annotations

import json
import statistics
import sys
import time
from decimal import Decimal

from grekko.adapters.memory.event_store import InMemoryEventStore
from grekko.adapters.paper.venue import PaperVenue, PaperVenueConfig
from grekko.agents.strategies.base import Strategy
from grekko.backtest.runner import quiet_gc, settle
from grekko.core.time import TestClock
from grekko.domain.data import TradeTick
from grekko.domain.enums import OrderSide
from grekko.domain.instruments import spot
from grekko.engines.kernel import Kernel

WARMUP = 500


def _loop(orders, clock, ctx, iid, qty, process_trade, stops, samples, now) -> None:
    for i in range(orders + WARMUP):
        now += 1_000_000_000
        clock.set_time(now)
        side = OrderSide.BUY if i % 2 == 0 else OrderSide.SELL
        start = time.perf_counter_ns()
        ctx.submit_market(iid, side, qty)
        process_trade(TradeTick(iid, 30_000.0 + (i % 7), 5.0, side, f"t{i}", now))
        if i >= WARMUP:
            samples.append(stops[-1] - start)
        if not i % 4096:
            settle()


def main() -> None:
    orders = int(sys.argv[1]) if len(sys.argv) > 1 else 20_000
    clock = TestClock(1_600_000_000_000_000_000)
    kernel = Kernel(clock, InMemoryEventStore())
    instrument = spot("BTC/USDT")
    kernel.add_instrument(instrument)
    kernel.add_venue(
        PaperVenue(
            PaperVenueConfig(), kernel.cache.instrument, clock, kernel.portfolio.position_qty
        )
    )
    kernel.fund("USDT", Decimal(10_000_000_000))
    strategy = Strategy("roundtrip")
    ctx = kernel.trader.add(strategy)
    stops: list[int] = []
    kernel.bus.subscribe("events.position.*", lambda _event: stops.append(time.perf_counter_ns()))
    iid = instrument.id
    qty = Decimal(1)
    process_trade = kernel.data.process_trade
    now = clock.timestamp_ns()
    process_trade(TradeTick(iid, 30_000.0, 1.0, OrderSide.BUY, "t0", now))
    samples: list[int] = []
    with quiet_gc():
        _loop(orders, clock, ctx, iid, qty, process_trade, stops, samples, now)

    filled = sum(1 for o in kernel.cache.orders.values() if o.filled_qty == o.quantity)
    if filled != orders + WARMUP:
        raise SystemExit(f"only {filled} of {orders + WARMUP} orders filled")
    samples.sort()
    record = {
        "engine": "grekko-roundtrip",
        "orders": orders,
        "median_us": round(statistics.median(samples) / 1000, 2),
        "p99_us": round(samples[int(len(samples) * 0.99)] / 1000, 2),
        "events_stored": sum(1 for _ in kernel.store.read_all()),
    }
    print("RESULT " + json.dumps(record), flush=True)


if __name__ == "__main__":
    main()
