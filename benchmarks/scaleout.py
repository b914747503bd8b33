"""Scale-out benchmark: what running Grekko as `grekko serve` processes costs and buys, same run.

1. Event store append rate: SqlEventStore on SQLite (a file) against PostgreSQL (a fresh
   database), the same real order events; single appends, batched, two writers at once.
2. Bus latency: benchmarks/bus_latency's measurement (Redis Streams against the in-process bus).
3. End to end: ingest -> agents -> risk -> execution -> the store, bars replayed as fast as
   ingest can, with 1 and then 2 processes per service; bars/s the agents take and orders/s
   out (the venue's or risk's answer stored), from the first bar's XADD to the last answer.
4. WebSocket fan-out: 1,000 clients on the gateway process, subscribed to market.BTC/USDT,
   while the replay runs paced (and once as fast as ingest can).

Everything shares this machine's cores (run on 2: 7 to 10 Python processes, Redis, PostgreSQL
and the load generators): a second process per service adds work (each reads every bar) and
contention, not cores. Parts needing PostgreSQL or Redis are skipped, saying so, without them.
Each run has a PostgreSQL database of its own (created and dropped) and Redis database 12
(flushed before and after).

Usage: python -m benchmarks.scaleout [--bars N] [--repeat R] [--ws-clients K] [--parts ...]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import resource
import statistics
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from rich.console import Console

from benchmarks import bus_latency
from benchmarks.bench_results import machine_info
from benchmarks.scaleout_cluster import postgres_reachable, redis_database, redis_reachable
from benchmarks.scaleout_fanout import bench_fanout
from benchmarks.scaleout_pipeline import run_pipeline
from benchmarks.scaleout_report import (
    AGENTS_NOTE,
    pipeline_table,
    store_table,
    summary_table,
    ws_table,
)
from benchmarks.scaleout_store import bench_event_store

REPO = Path(__file__).resolve().parents[1]
RESULTS = REPO / "benchmarks" / "results" / "scaleout.json"
PARTS = ("store", "bus", "pipeline", "ws")
NEEDS = {
    "store": (),
    "bus": ("redis",),
    "pipeline": ("postgresql", "redis"),
    "ws": ("postgresql", "redis"),
}


def raise_open_files(wanted: int = 65_536) -> tuple[int, int]:
    """The soft limit on open files up to the hard one: 1,000 sockets on each side of the
    WebSocket run. Child processes inherit it."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = wanted if hard == resource.RLIM_INFINITY else min(hard, max(soft, wanted))
    if target > soft:
        resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)


def timed(record: dict[str, Any], name: str, run: Any) -> Any:
    """run(), with the part's wall time and the machine's load before and after in the record."""
    load_before = round(os.getloadavg()[0], 2)
    started = time.perf_counter()
    result = run()
    record.setdefault("conditions", {})[name] = {
        "seconds": round(time.perf_counter() - started, 1),
        "load_1m_before": load_before,
        "load_1m_after": round(os.getloadavg()[0], 2),
    }
    return result


# ---- parts -----------------------------------------------------------------------------------
def part_store(args: argparse.Namespace, pg: str | None, console: Console) -> dict[str, Any]:
    results = bench_event_store(pg, args.store_events, args.store_batched, args.batch)
    store_table(results, args, console)
    return results


def part_bus(args: argparse.Namespace, redis_url: str, console: Console) -> dict[str, Any]:
    """benchmarks/bus_latency's own measurement and table, on this run's Redis database."""
    with redis_database(redis_url):
        results: bus_latency.Results = {"inprocess": bus_latency.inprocess(args.bus_messages)}
        results |= asyncio.run(bus_latency.redis_runs(redis_url, args.bus_messages, args.bus_rate))
    ratios = bus_latency.report(results, args.bus_messages, args.bus_rate, console)
    return {
        "messages": args.bus_messages,
        "paced_rate": args.bus_rate,
        "results": results,
        "ratios": ratios,
    }


def part_pipeline(
    args: argparse.Namespace, pg: str, redis_url: str, console: Console
) -> dict[str, Any]:
    runs: dict[int, list[dict[str, Any]]] = {1: [], 2: []}
    for turn in range(args.repeat):
        for n in (1, 2):
            console.print(f"end to end: {n} process(es) per service, run {turn + 1}...")
            runs[n].append(run_pipeline(pg, redis_url, args.bars, n))
    summary = {n: _median_run(r) for n, r in runs.items()}
    pipeline_table(summary, runs, args, console)
    one, two = summary[1], summary[2]
    ratios = {
        k: round(two[k] / one[k], 2) if one[k] else None
        for k in ("agents_bars_per_s", "orders_out_per_s", "orders_filled_per_s")
    }
    return {
        "bars": args.bars,
        "note": AGENTS_NOTE,
        "median": summary,
        "runs": runs,
        "ratio_2_over_1": ratios,
    }


def _median_run(runs: list[dict[str, Any]]) -> dict[str, Any]:
    keys = (
        "agents_bars_per_s",
        "orders_out_per_s",
        "orders_filled_per_s",
        "out",
        "order_latency_p50_ms",
        "order_latency_p99_ms",
        "ingest_bars_per_s",
        "cores_busy",
    )
    return {k: statistics.median(r[k] or 0 for r in runs) for k in keys}


def part_ws(args: argparse.Namespace, pg: str, redis_url: str, console: Console) -> list[Any]:
    results = []
    for speed in args.ws_speeds:
        pace = f"{speed:g} bars/s" if speed > 0 else "as fast as ingest publishes"
        console.print(f"WebSocket: {args.ws_clients} clients, replay {pace}...")
        results.append(
            bench_fanout(
                pg,
                redis_url,
                clients=args.ws_clients,
                procs=args.ws_procs,
                bars=args.ws_bars,
                speed=speed,
            )
        )
    ws_table(results, args.ws_procs, console)
    return results


# ---- main ------------------------------------------------------------------------------------
def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--parts", default=",".join(PARTS), help="comma list of " + ", ".join(PARTS))
    p.add_argument(
        "--postgres",
        default="postgresql+psycopg://postgres@127.0.0.1:5432/postgres",
        help="a database to connect to for CREATE/DROP DATABASE",
    )
    p.add_argument("--redis", default="redis://127.0.0.1:6379/12", help="flushed before and after")
    p.add_argument("--store-events", type=int, default=2_000, help="single and 2-writer appends")
    p.add_argument("--store-batched", type=int, default=20_000)
    p.add_argument("--batch", type=int, default=100, help="events per batched transaction")
    p.add_argument("--bus-messages", type=int, default=10_000)
    p.add_argument("--bus-rate", type=float, default=2_000.0, help="paced phase, messages/s")
    p.add_argument("--bars", type=int, default=3_000, help="end to end: bars replayed")
    p.add_argument("--repeat", type=int, default=2, help="end-to-end runs per layout")
    p.add_argument("--ws-clients", type=int, default=1_000)
    p.add_argument("--ws-procs", type=int, default=4, help="load generator processes")
    p.add_argument("--ws-bars", type=int, default=600)
    p.add_argument(
        "--ws-speeds",
        default="20,0",
        help="replay paces in bars/s (both instruments), 0 = as fast as possible",
    )
    args = p.parse_args(argv)
    args.parts = [x for x in args.parts.split(",") if x]
    args.ws_speeds = [float(x) for x in args.ws_speeds.split(",") if x]
    unknown = set(args.parts) - set(PARTS)
    if unknown:
        p.error(f"unknown parts: {', '.join(sorted(unknown))}")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    console = Console(width=max(Console().width, 130))
    nofile = raise_open_files()
    pg_down, redis_down = postgres_reachable(args.postgres), redis_reachable(args.redis)
    pg = None if pg_down else args.postgres
    record: dict[str, Any] = {
        "generated": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "command": " ".join(["python -m benchmarks.scaleout", *sys.argv[1:]]),
        "machine": {**machine_info(), "open_files_limit": nofile[0]},
        "skipped": {},
    }
    down = {"postgresql": pg_down, "redis": redis_down}
    for name in args.parts:
        missing = [reason for need in NEEDS[name] if (reason := down[need])]
        if missing:
            console.print(f"[yellow]{name}: skipped: {'; '.join(missing)}[/]")
            record["skipped"][name] = "; ".join(missing)
            continue
        console.rule(name)
        if name == "store":
            record["store"] = timed(record, name, lambda: part_store(args, pg, console))
        elif name == "bus":
            record["bus"] = timed(record, name, lambda: part_bus(args, args.redis, console))
        elif name == "pipeline":
            record["pipeline"] = timed(
                record, name, lambda: part_pipeline(args, args.postgres, args.redis, console)
            )
        else:
            record["websocket"] = timed(
                record, name, lambda: part_ws(args, args.postgres, args.redis, console)
            )
    if pg_down and "store" in args.parts:
        record["skipped"]["store_postgresql"] = pg_down
    record["summary"] = summary_table(record, console)
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(record, indent=2, default=str) + "\n")
    console.print(
        f"results: {RESULTS.relative_to(REPO)} (load average 1 min at the end: "
        f"{os.getloadavg()[0]:.2f} on {os.cpu_count()} cores)"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
