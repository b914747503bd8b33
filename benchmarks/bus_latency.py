"""Bus benchmark: RedisStreamsBus vs the in-process MessageBus, publish -> handle, same run.

What splitting Grekko into processes costs per message. Each message is a real `Bar` whose ts_open
carries perf_counter_ns() at publish (CLOCK_MONOTONIC, shared by every process on the machine);
the handler subtracts it from its own clock. Three set-ups:

- in-process MessageBus: a synchronous call, the floor; it has no queue, so its latency is
  the burst's (pacing changes nothing).
- RedisStreamsBus, consumer in the same process: publisher and consumer share one event loop.
- RedisStreamsBus, consumer in a child process: the layout of `grekko serve <service>`.

Every Redis delivery pays the full path: bounded buffer -> pipelined XADD -> XREADGROUP -> lease
(SET NX) -> handler -> MULTI(SET done, XACK). Two phases each: a burst of N messages published as
fast as the buffer takes them (throughput, first publish to last handled), then N messages paced
at --rate per second (latency p50/p99, no queue build-up).

Usage: python -m benchmarks.bus_latency [--messages N] [--rate R] [--url redis://...]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import subprocess
import sys
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

import redis
from rich.console import Console
from rich.table import Table

from benchmarks.bench_results import machine_info
from grekko.adapters.redis import RedisStreamsBus
from grekko.domain.data import Bar
from grekko.engines.bus import MessageBus
from grekko.ports.streams import BusBackpressure, Delivery

REPO = Path(__file__).resolve().parents[1]
RESULTS = REPO / "benchmarks" / "results" / "bus_latency.json"
GROUP = "bench"
Phase = dict[str, float]
Results = dict[str, dict[str, Phase]]


def stamped_bar(i: int) -> Bar:
    close = 42_000.0 + (i % 100)
    return Bar("BTC/USDT", close, close + 1, close - 1, close, 1.5, time.perf_counter_ns(), i)


def summary(latencies_ns: list[int], elapsed_ns: int | None = None) -> Phase:
    ordered = sorted(latencies_ns)

    def pct(q: float) -> float:
        return round(ordered[min(len(ordered) - 1, int(q * len(ordered)))] / 1000, 1)

    out = {"p50_us": pct(0.50), "p99_us": pct(0.99), "max_us": round(ordered[-1] / 1000, 1)}
    if elapsed_ns:
        out["msgs_per_s"] = round(len(ordered) / (elapsed_ns / 1e9))
    return out


# ---- in-process ------------------------------------------------------------------------------
def inprocess(n: int) -> dict[str, Phase]:
    bus = MessageBus()
    latencies: list[int] = []
    bus.subscribe("data.bars.*", lambda bar: latencies.append(time.perf_counter_ns() - bar.ts_open))
    started = time.perf_counter_ns()
    for i in range(n):
        bus.publish("data.bars.BTC/USDT", stamped_bar(i))
    elapsed = time.perf_counter_ns() - started
    return {"burst": summary(latencies, elapsed), "paced": summary(latencies)}


# ---- Redis -----------------------------------------------------------------------------------
async def consume_n(
    url: str, prefix: str, stream: str, n: int, ready: bool
) -> tuple[list[int], int]:
    """Handle n messages; returns their latencies and perf_counter_ns() when the last was handled."""
    bus = RedisStreamsBus(url, namespace=prefix, idempotency_ttl_s=600)
    latencies: list[int] = []
    stop = asyncio.Event()
    done_at = [0]

    def handle(delivery: Delivery) -> None:
        now = time.perf_counter_ns()
        latencies.append(now - delivery.message.ts_open)  # type: ignore[attr-defined]
        if len(latencies) >= n:
            done_at[0] = now
            stop.set()

    task = asyncio.create_task(
        bus.consume(stream, GROUP, "c-1", handle, stop=stop, batch=200, block_ms=100)
    )
    if ready:
        print("READY", flush=True)
    await task
    await bus.close()
    return latencies, done_at[0]


async def publish(bus: RedisStreamsBus, stream: str, n: int, rate: float | None) -> tuple[int, int]:
    """Publish n bars, paced at rate/s or as fast as the buffer takes them; (start ns, refusals)."""
    started, refused, i = time.perf_counter_ns(), 0, 0
    while i < n:
        due = (
            n if rate is None else min(n, int((time.perf_counter_ns() - started) / 1e9 * rate) + 1)
        )
        while i < due:
            try:
                bus.publish(stream, stamped_bar(i), event_id=f"{stream}:{i}")
            except BusBackpressure:
                refused += 1
                break
            i += 1
        await asyncio.sleep(0 if rate is None else 0.0005)
    await bus.flush()
    return started, refused


async def redis_phase(url: str, n: int, rate: float | None, child: bool) -> Phase:
    prefix = f"grekko-bench-{uuid.uuid4().hex[:10]}"
    stream = f"{prefix}:bars"
    bus = RedisStreamsBus(url, namespace=prefix, stream_maxlen=max(100_000, 2 * n))
    await bus.ensure_group(stream, GROUP)
    try:
        if child:
            started, refused, latencies, done_at = await with_child_consumer(
                bus, url, prefix, stream, n, rate
            )
        else:
            consumer = asyncio.create_task(consume_n(url, prefix, stream, n, ready=False))
            await asyncio.sleep(0.1)
            started, refused = await publish(bus, stream, n, rate)
            latencies, done_at = await consumer
    finally:
        await bus.close()
        purge(url, prefix)
    phase = summary(latencies, done_at - started if rate is None else None)
    phase["backpressure"] = refused
    return phase


async def with_child_consumer(
    bus: RedisStreamsBus, url: str, prefix: str, stream: str, n: int, rate: float | None
) -> tuple[int, int, list[int], int]:
    """Publish here, consume in a fresh process: the split `grekko serve` makes."""
    cmd = [sys.executable, "-m", "benchmarks.bus_latency", "--child", url, prefix, stream, str(n)]
    proc = subprocess.Popen(cmd, cwd=REPO, stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    if proc.stdout.readline().strip() != "READY":
        proc.kill()
        raise RuntimeError("the consumer process did not start")
    await asyncio.sleep(0.3)  # let it reach XREADGROUP
    started, refused = await publish(bus, stream, n, rate)
    out, _ = await asyncio.to_thread(proc.communicate, timeout=600)
    result = json.loads(out.strip().splitlines()[-1])
    return started, refused, result["latencies_ns"], result["done_at"]


def purge(url: str, prefix: str) -> None:
    client = redis.Redis.from_url(url)
    for key in client.scan_iter(match=prefix + "*", count=1000):
        client.delete(key)
    client.close()


async def redis_runs(url: str, n: int, rate: float) -> Results:
    results: Results = {}
    for name, child in (("redis_same_process", False), ("redis_child_process", True)):
        results[name] = {
            "burst": await redis_phase(url, n, None, child),
            "paced": await redis_phase(url, n, rate, child),
        }
    return results


# ---- report ----------------------------------------------------------------------------------
LABELS = {
    "inprocess": "in-process MessageBus",
    "redis_same_process": "Redis, 1 process",
    "redis_child_process": "Redis, 2 processes",
}


def report(results: Results, n: int, rate: float, console: Console) -> dict[str, Phase]:
    """Ratios to the in-process bus: how many times fewer messages per second, how many times
    longer from publish to handler."""
    base = results["inprocess"]
    table = Table(title=f"Bus publish -> handle: {n:,} msgs; latency paced at {rate:,.0f}/s")
    for header in ("bus", "msgs/s", "p50 µs", "p99 µs", "max µs", "÷ msgs/s", "× p50", "× p99"):
        table.add_column(header, justify="left" if header == "bus" else "right")
    ratios: dict[str, Phase] = {}
    for name, phases in results.items():
        burst, paced = phases["burst"], phases["paced"]
        ratios[name] = {
            "throughput_slowdown": round(base["burst"]["msgs_per_s"] / burst["msgs_per_s"], 1),
            "p50_multiple": round(paced["p50_us"] / base["paced"]["p50_us"], 1),
            "p99_multiple": round(paced["p99_us"] / base["paced"]["p99_us"], 1),
        }
        table.add_row(
            LABELS[name],
            f"{burst['msgs_per_s']:,.0f}",
            f"{paced['p50_us']:,.1f}",
            f"{paced['p99_us']:,.1f}",
            f"{paced['max_us']:,.1f}",
            *(f"{ratios[name][k]:,.1f}x" for k in ratios[name]),
        )
    console.print(table)
    return ratios


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--messages", type=int, default=20_000)
    parser.add_argument(
        "--rate", type=float, default=2_000.0, help="paced phase, messages per second"
    )
    parser.add_argument("--url", default="redis://127.0.0.1:6379/0")
    parser.add_argument(
        "--child", nargs=4, metavar=("URL", "PREFIX", "STREAM", "N"), help=argparse.SUPPRESS
    )
    args = parser.parse_args()
    if args.child:
        url, prefix, stream, n = args.child
        latencies, done_at = asyncio.run(consume_n(url, prefix, stream, int(n), ready=True))
        print(json.dumps({"latencies_ns": latencies, "done_at": done_at}))
        return
    console = Console(width=max(Console().width, 110))  # the table stays readable in a log
    try:
        redis.Redis.from_url(args.url, socket_connect_timeout=2).ping()
    except redis.RedisError as exc:
        raise SystemExit(f"Redis not reachable at {args.url}: {type(exc).__name__}") from None
    results: Results = {"inprocess": inprocess(args.messages)}
    console.print("in-process done; Redis runs (4 phases)...")
    results |= asyncio.run(redis_runs(args.url, args.messages, args.rate))
    ratios = report(results, args.messages, args.rate, console)
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    record = {
        "generated": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "command": " ".join(["python -m benchmarks.bus_latency", *sys.argv[1:]]),
        "messages": args.messages,
        "paced_rate": args.rate,
        "machine": machine_info(),
        "results": results,
        "ratios": ratios,
    }
    RESULTS.write_text(json.dumps(record, indent=2) + "\n")
    console.print(f"results: {RESULTS.relative_to(REPO)}")


if __name__ == "__main__":
    main()
