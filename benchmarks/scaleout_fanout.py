"""1,000 WebSocket clients on the gateway process of `grekko serve` (one process per service).

The clients are spread over several generator processes (benchmarks/scaleout_ws.py; one Python
process takes only so many frames a second, and that would cap the figure, not the gateway).
All of them connect, authenticate with the admin's JWT and subscribe to market.BTC/USDT first;
then ingest replays `bars` bars (both instruments, so about half are BTC/USDT) at `speed` bars
a second (speed 0: as fast as it can), and the clients listen until no frame came for idle_s.
The gateway's own counters say how many frames it delivered and conflated (a client's queue kept
only the newest bar). Two lags: the hub's (the frame's "ts", set when the gateway's bus handed
the bar over, to receipt) and end to end (ingest's XADD of the bar to receipt), which also holds
the time the bar waited in Redis for the gateway to read it.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import redis

from benchmarks.api_load import pct
from benchmarks.bench_process import parse_result_line
from benchmarks.scaleout_cluster import (
    REPO,
    Cluster,
    entry_ms,
    postgres_database,
    redis_database,
)

TOPIC = "market.BTC/USDT"


def _generators(
    url: str, token: str, clients: int, procs: int, idle_s: float, deadline_s: float
) -> list[subprocess.Popen[str]]:
    shares = [clients // procs + (1 if k < clients % procs else 0) for k in range(procs)]
    generators = []
    for n in filter(None, shares):
        command = [
            sys.executable, "-m", "benchmarks.scaleout_ws",
            url, token, str(n), TOPIC, str(idle_s), str(deadline_s),
        ]  # fmt: skip
        generators.append(
            subprocess.Popen(
                command, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
            )
        )
    return generators


def _connected(generators: list[subprocess.Popen[str]]) -> int:
    """Wait for each generator's CONNECTED line; how many clients are in."""
    total = 0
    for gen in generators:
        assert gen.stdout is not None
        line = gen.stdout.readline()
        if not line.startswith("CONNECTED "):
            _, err = gen.communicate(timeout=30)
            raise RuntimeError(f"a WebSocket generator failed: {(line + err)[-1500:]}")
        total += int(json.loads(line.split(" ", 1)[1])["clients"])
    return total


def _hub_counters(cluster: Cluster, token: str) -> dict[str, float]:
    metrics = cluster.metrics(cluster.first("gateway"), token)
    return {
        k.removeprefix("grekko_ws_"): v for k, v in metrics.items() if k.startswith("grekko_ws_")
    }


def bench_fanout(
    postgres_admin_url: str,
    redis_url: str,
    *,
    clients: int,
    procs: int,
    bars: int,
    speed: float,
    idle_s: float = 3.0,
) -> dict[str, Any]:
    with (
        tempfile.TemporaryDirectory() as tmp,
        postgres_database(postgres_admin_url, "grekko_bench_fanout") as database_url,
        redis_database(redis_url) as redis_db,
    ):
        cluster = Cluster(Path(tmp), database_url, redis_db)
        generators: list[subprocess.Popen[str]] = []
        try:
            cluster.start("execution")
            for process in [cluster.start(s, wait=False) for s in ("risk", "agents", "gateway")]:
                cluster.wait_ready(process)
            token = cluster.token()
            url = cluster.first("gateway").url
            started = time.perf_counter()
            deadline_s = 120 + bars / (speed or 50) * 3
            generators = _generators(url, token, clients, procs, idle_s, deadline_s)
            connected = _connected(generators)
            connect_wall_s = time.perf_counter() - started
            before = _hub_counters(cluster, token)
            pace = str(speed) if speed > 0 else "1e9"
            cluster.start("ingest", "--speed", pace, "--max-bars", str(bars), wait=False)
            parts = [_result(gen, deadline_s + 60) for gen in generators]
            after = _hub_counters(cluster, token)
            published = bar_times(redis_db)
        finally:
            for gen in generators:
                if gen.poll() is None:
                    gen.kill()
                    gen.wait(10)
            cluster.stop()
    result = summarize(parts, connected, connect_wall_s, before, after, bars, speed, procs)
    e2e = [
        ns / 1e6 - published[bar] for p in parts for bar, ns in p["received"] if bar in published
    ]
    result["e2e_lag_p50_ms"] = round(pct(e2e, 0.5), 1) if e2e else None
    result["e2e_lag_p99_ms"] = round(pct(e2e, 0.99), 1) if e2e else None
    return result


def bar_times(redis_url: str) -> dict[str, int]:
    """Each bar's id and when ingest added it to the bars stream (ms, Redis's clock)."""
    client = redis.Redis.from_url(redis_url)
    try:
        return {
            fields[b"event_id"].decode(): entry_ms(entry_id)
            for entry_id, fields in client.xrange("grekko.bars")
        }
    finally:
        client.close()


def _result(gen: subprocess.Popen[str], timeout_s: float) -> dict[str, Any]:
    out, err = gen.communicate(timeout=timeout_s)
    result = parse_result_line(out)
    if result is None:
        raise RuntimeError(f"a WebSocket generator failed: {err[-1500:]}")
    return result


def summarize(
    parts: list[dict[str, Any]],
    connected: int,
    connect_wall_s: float,
    before: dict[str, float],
    after: dict[str, float],
    bars: int,
    speed: float,
    procs: int,
) -> dict[str, Any]:
    lags = [x for p in parts for x in p["lags_ms"]]
    connects = [x for p in parts for x in p["connect_ms"]]
    frames = sum(int(p["frames"]) for p in parts)
    first = min((int(p["first_ns"]) for p in parts if p["first_ns"]), default=0)
    last = max((int(p["last_ns"]) for p in parts), default=0)
    window_s = (last - first) / 1e9 if first else 0.0
    delivered = after.get("messages_delivered", 0) - before.get("messages_delivered", 0)
    conflated = after.get("messages_conflated", 0) - before.get("messages_conflated", 0)
    return {
        "clients": connected,
        "generators": procs,
        "replay": {"bars": bars, "speed_bars_per_s": speed, "topic": TOPIC},
        "connect_all_s": round(connect_wall_s, 2),
        "connects_per_s": round(connected / connect_wall_s) if connect_wall_s else None,
        "connect_p50_ms": round(pct(connects, 0.5), 1) if connects else None,
        "connect_p99_ms": round(pct(connects, 0.99), 1) if connects else None,
        "frames_received": frames,
        "frames_per_client": round(frames / connected, 1) if connected else 0,
        "receive_window_s": round(window_s, 2),
        "frames_per_s": round(frames / window_s) if window_s else 0,
        "lag_p50_ms": round(pct(lags, 0.5), 1) if lags else None,
        "lag_p99_ms": round(pct(lags, 0.99), 1) if lags else None,
        "lag_max_ms": round(max(lags), 1) if lags else None,
        "server_delivered": int(delivered),
        "server_conflated": int(conflated),
        "clients_dropped": int(after.get("clients_dropped", 0)),
        "failed_connects": sum(int(p["failed_count"]) for p in parts),
        "closed_early": sum(int(p["closed_early"]) for p in parts),
        "errors": [e for p in parts for e in p["failed"]][:5],
    }
