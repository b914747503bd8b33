"""Grekko's side of the ingest benchmark, run in a fresh process: prints one `RESULT {json}` line.

Throughput: N trade ticks (prices = the closes of the shared GBM workload, 100 ticks per second
of event time, venue symbol BTCUSDT, millisecond timestamps, as a Binance feed sends them) pushed
through IngestPipeline: normalize -> validate -> enrich -> publish (DataEngine bus topics + the
numbered stream), with one subscriber counting ticks as nautilus' CountQuotes does. Only the
push loop is timed.

Lag: ticks generated on the wall clock at `rate` per second for `seconds`; each tick's event
time is its scheduled time; a stream subscriber records (delivery time - event time).

Usage: python -m benchmarks.ingest_grekko N [rate] [seconds]
"""

from __future__ import annotations

import gc
import json
import sys
import time
from pathlib import Path

import pandas as pd

from grekko.core.time import LiveClock, TestClock
from grekko.domain.raw import RawTrade
from grekko.engines.bus import MessageBus
from grekko.engines.cache import Cache
from grekko.engines.data_engine import DataEngine
from grekko.engines.ingest.service import IngestService
from grekko.engines.streamer import DataStreamer, stream_topic

TICK_SPACING_MS = 10


def build_service(clock: LiveClock | TestClock) -> IngestService:
    bus = MessageBus()
    engine = DataEngine(bus, Cache())
    return IngestService(
        bus=bus, clock=clock, data_engine=engine, streamer=DataStreamer(bus, clock)
    )


def throughput(closes: list[float]) -> dict[str, object]:
    clock = LiveClock()
    service = build_service(clock)
    pipeline = service.add_source("bench", _NoSource())
    counted = [0]

    def count(_tick: object) -> None:
        counted[0] += 1

    service.bus.subscribe("data.trades.*", count)
    start_ms = 1_600_000_000_000
    raws = [
        RawTrade(
            "binance",
            "BTCUSDT",
            price,
            0.5,
            "buy" if i & 1 else "sell",
            start_ms + i * TICK_SPACING_MS,
            str(i),
        )
        for i, price in enumerate(closes)
    ]
    push = pipeline.push_trade
    gc.collect()
    gc.freeze()
    started = time.perf_counter()
    for raw in raws:
        push(raw)
    elapsed = time.perf_counter() - started
    metrics = pipeline.metrics
    return {
        "ticks": len(raws),
        "ticks_per_s": round(len(raws) / elapsed),
        "run_s": round(elapsed, 3),
        "published": metrics.published,
        "quarantined": metrics.quarantined,
        "counted": counted[0],
        "bars_closed": len(service.enricher.latest) and _bars(service),
    }


def _bars(service: IngestService) -> int:
    return sum(1 for _ in service.enricher.latest)


class _NoSource:
    name = "bench"

    def __aiter__(self) -> _NoSource:
        return self

    async def __anext__(self) -> RawTrade:
        raise StopAsyncIteration


def paced_lag(closes: list[float], rate: int, seconds: float) -> dict[str, object]:
    clock = LiveClock()
    service = build_service(clock)
    pipeline = service.add_source("lag", _NoSource())
    total = int(rate * seconds)
    lags: list[int] = []
    record = lags.append
    now_ns = time.time_ns

    def on_message(message: object) -> None:
        record(now_ns() - message.payload.ts_event)  # type: ignore[attr-defined]

    service.streamer.subscribe("lag", on_message)
    period_ns = 1_000_000_000 // rate
    push = pipeline.push_trade
    gc.collect()
    gc.freeze()  # as a long-running service does after start-up: no full collections of its setup
    n_closes = len(closes)
    i = 0
    start = time.time_ns()
    while i < total:
        due = min(total, (time.time_ns() - start) // period_ns + 1)
        if i >= due:
            time.sleep(0.0001)
            continue
        while i < due:
            push(
                RawTrade(
                    "binance",
                    "BTCUSDT",
                    closes[i % n_closes],
                    0.5,
                    "buy",
                    start + i * period_ns,
                    str(i),
                )
            )
            i += 1
    elapsed = (time.time_ns() - start) / 1e9
    lags.sort()
    return {
        "lag_rate": rate,
        "lag_ticks": total,
        "lag_achieved_rate": round(total / elapsed),
        "lag_p50_ms": round(lags[len(lags) // 2] / 1e6, 4),
        "lag_p99_ms": round(lags[int(len(lags) * 0.99)] / 1e6, 4),
        "lag_max_ms": round(lags[-1] / 1e6, 4),
        "lag_delivered": len(lags),
        "stream_topic": stream_topic("lag"),
    }


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 1_000_000
    rate = int(sys.argv[2]) if len(sys.argv) > 2 else 20_000
    seconds = float(sys.argv[3]) if len(sys.argv) > 3 else 10.0
    data_dir = Path(sys.argv[4]) if len(sys.argv) > 4 else Path("bench-data")
    closes = pd.read_parquet(data_dir / f"bars_1m_{n}.parquet", columns=["close"])["close"].tolist()
    result: dict[str, object] = {"engine": "grekko-ingest"}
    result.update(throughput(closes))
    gc.unfreeze()
    gc.collect()
    result.update(paced_lag(closes, rate, seconds))
    print("RESULT " + json.dumps(result))


if __name__ == "__main__":
    main()
