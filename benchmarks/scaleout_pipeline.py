"""End-to-end throughput of `grekko serve`: bars in at ingest, orders out of the event store.

Layout with n processes per service (n = 1 or 2): execution and agents run n partitions by
instrument (`--instance k --partitions n`: with 2, BTC/USDT in one and ETH/USDT in the other),
risk runs n replicas (each reads every bar and order notice in a group of its own instance and
they split the order requests), one gateway, one ingest. Ingest replays `bars` bars as fast as
it can (--speed 1e9).

Agents are not doubled as replicas of one group: each strategy must see every bar of its
instrument, so a second agents process is a second partition (other instruments' strategies),
and it, like a second execution or risk process, still reads every bar.

Times come from where the work left its mark, not from polling: the first and last bar's XADD
(Redis's clock, the entry ids), each SubmitOrder's XADD on orders.requested, and each order
event's recorded_at in the store. Only "the agents have read every bar" is polled (XINFO GROUPS
every 50 ms).
"""

from __future__ import annotations

import json
import re
import tempfile
import time
from decimal import Decimal
from pathlib import Path
from typing import Any

import psutil
import redis
import sqlalchemy as sa

from benchmarks.api_load import pct
from benchmarks.scaleout_cluster import (
    Cluster,
    entry_ms,
    group_progress,
    postgres_database,
    redis_database,
    stream_span_ms,
    streams,
)

BARS = "grekko.bars"
# An order is out of the pipeline at its first answer: the venue took it (accepted, or filled at
# once), or risk or the venue refused it. A paper fill needs a later bar of the instrument, so
# orders answered after the replay's last bar stay accepted (reported as open).
ANSWERS = (
    "OrderAccepted",
    "OrderFilled",
    "OrderDenied",
    "OrderCanceled",
    "OrderRejected",
    "OrderExpired",
)
TERMINAL = ANSWERS[1:]
QUIET_S = 2.0


def start_services(cluster: Cluster, per_service: int) -> None:
    """One execution first (it migrates the fresh database), then the rest together."""
    n = per_service
    cluster.start("execution", partitions=n)
    starting = [
        cluster.start("execution", instance=k, partitions=n, wait=False) for k in range(1, n)
    ]
    for service in ("agents", "risk"):
        starting += [cluster.start(service, instance=k, partitions=n, wait=False) for k in range(n)]
    starting.append(cluster.start("gateway", partitions=n, wait=False))
    for process in starting:
        cluster.wait_ready(process)


def cpu_seconds(cluster: Cluster) -> dict[str, float]:
    """User + system CPU each live process of the cluster has used so far."""
    used: dict[str, float] = {}
    for process in cluster.processes:
        try:
            times = psutil.Process(process.popen.pid).cpu_times()
        except psutil.Error:
            continue
        used[process.name] = used.get(process.name, 0.0) + times.user + times.system
    return used


def follow(client: redis.Redis, bars: int, timeout_s: float, cpu: Any) -> dict[str, Any]:
    """Poll until every group of every stream read every entry and nothing moved for QUIET_S.
    Returns when the agents had read all bars (wall clock, s), what was left pending, and the
    CPU the processes used from the first bar seen to the moment all work was done."""
    deadline = time.monotonic() + timeout_s
    out: dict[str, Any] = {"agents_done": None, "pending_left": {}, "timed_out": True}
    marks: list[tuple[float, dict[str, float]]] = []
    last_change, last_seen = time.monotonic(), None
    while time.monotonic() < deadline:
        now = time.time()
        groups = {s: group_progress(client, s) for s in streams(client)}
        bar_groups = groups.get(BARS, {})
        if not marks and bar_groups:
            marks.append((time.monotonic(), cpu()))
        agents = [v for g, v in bar_groups.items() if g.startswith("agents")]
        if out["agents_done"] is None and agents and all(v == (bars, 0, 0) for v in agents):
            out["agents_done"] = now
        seen = tuple((s, g, v) for s in sorted(groups) for g, v in sorted(groups[s].items()))
        if seen != last_seen:
            last_seen, last_change = seen, time.monotonic()
        no_lag = all(v[1] == 0 for by_group in groups.values() for v in by_group.values())
        done = bool(bar_groups) and no_lag and all(v[0] >= bars for v in bar_groups.values())
        if done and len(marks) == 1:
            marks.append((time.monotonic(), cpu()))
        if done and out["agents_done"] and time.monotonic() - last_change > QUIET_S:
            out["pending_left"] = {
                f"{s}/{g}": v[2] for s, by in groups.items() for g, v in by.items() if v[2]
            }
            out["timed_out"] = False
            break
        time.sleep(0.05)
    if len(marks) == 2:
        (t0, c0), (t1, c1) = marks
        out["cpu_s"] = {k: round(v - c0.get(k, 0.0), 2) for k, v in sorted(c1.items())}
        out["cores_busy"] = round(sum(out["cpu_s"].values()) / max(1e-3, t1 - t0), 2)
    return out


def order_figures(database_url: str, requested_ms: dict[str, int]) -> dict[str, Any]:
    """Each order's outcome and when it was stored, from the event store alone."""
    engine = sa.create_engine(database_url)
    query = sa.text(
        "SELECT stream_id, event_type, recorded_at, payload FROM events "
        "WHERE stream_id LIKE 'order-%' ORDER BY global_position"
    )
    answered: dict[str, int] = {}
    outcome: dict[str, tuple[str, int]] = {}
    positions: dict[str, Decimal] = {}
    instrument: dict[str, str] = {}
    reasons: dict[str, int] = {}
    last_event: dict[str, str] = {}
    with engine.connect() as connection:
        for stream, kind, recorded_at, payload in connection.execute(query):
            coid = stream.removeprefix("order-")
            last_event[coid] = kind
            if kind == "OrderInitialized":
                instrument[coid] = _field(payload, "instrument_id")
            if kind in ANSWERS and coid not in answered:
                answered[coid] = int(recorded_at)
            if kind in TERMINAL and coid not in outcome:
                outcome[coid] = (kind, int(recorded_at))
                if kind in ("OrderDenied", "OrderCanceled"):
                    reason = re.sub(r"-?\d[\d.]*(E-?\d+)?", "N", _field(payload, "reason"))
                    reasons[reason] = reasons.get(reason, 0) + 1
            if kind == "OrderFilled":
                qty = Decimal(_field(payload, "last_qty"))
                sign = 1 if _field(payload, "side") == "buy" else -1
                positions[instrument[coid]] = (
                    positions.get(instrument[coid], Decimal(0)) + sign * qty
                )
    engine.dispose()
    by_kind: dict[str, int] = {}
    for kind, _ in outcome.values():
        by_kind[kind] = by_kind.get(kind, 0) + 1
    latencies = [
        answered[c] / 1e6 - ms for c, ms in requested_ms.items() if c in answered
    ]  # requested (XADD) -> answered (stored), ms
    open_at: dict[str, int] = {}
    for coid, kind in last_event.items():
        if coid not in outcome:
            open_at[kind] = open_at.get(kind, 0) + 1
    return {
        "orders": len(instrument),
        "open_by_last_event": open_at,
        "out": len(answered),
        "never_answered": len(instrument) - len(answered),
        "open": len(instrument) - len(outcome),
        "by_outcome": by_kind,
        "denied_or_canceled_because": reasons,
        "last_out_ns": max(answered.values(), default=0),
        "order_latency_p50_ms": round(pct(latencies, 0.5), 1) if latencies else None,
        "order_latency_p99_ms": round(pct(latencies, 0.99), 1) if latencies else None,
        "positions": {k: str(v) for k, v in positions.items() if v},
    }


def _field(payload: str, name: str) -> str:
    return str(json.loads(payload)[name])


def requested_times(client: redis.Redis) -> dict[str, int]:
    """Each SubmitOrder's client order id and the ms its request entered orders.requested."""
    out: dict[str, int] = {}
    for entry_id, fields in client.xrange("grekko.orders.requested"):
        if fields.get(b"type") == b"SubmitOrder":
            out[fields[b"event_id"].decode()] = entry_ms(entry_id)
    return out


def process_views(cluster: Cluster, store_positions: dict[str, str]) -> dict[str, Any]:
    """Per agents/risk/execution process: messages handled and failed, and whether the positions
    its kernel holds are the ones the store adds up to (every process follows every order)."""
    views: dict[str, Any] = {}
    for process in cluster.processes:
        if process.service not in ("risk", "execution", "agents"):
            continue
        metrics = cluster.metrics(process)
        state = cluster.state(process)
        held = {
            k: str(Decimal(v["quantity"]).normalize())
            for k, v in state.get("positions", {}).items()
            if Decimal(v["quantity"]) != 0
        }
        expected = {k: str(Decimal(v).normalize()) for k, v in store_positions.items()}
        views[process.name] = {
            "handled": int(metrics.get('grekko_bus_messages_total{outcome="handled"}', 0)),
            "failures": int(metrics.get('grekko_bus_messages_total{outcome="failures"}', 0)),
            # order events the periodic catch-up applied before (or instead of) their notice
            "caught_up": int(metrics.get("grekko_orders_caught_up_total", 0)),
            "positions_match_store": held == expected,
        }
        if held != expected:  # what differs, for the record
            views[process.name]["positions_held"] = held
    return views


def run_pipeline(
    postgres_admin_url: str, redis_url: str, bars: int, per_service: int, timeout_s: float = 240.0
) -> dict[str, Any]:
    """One run on a fresh database and a flushed Redis database; the figures of the module doc."""
    with (
        tempfile.TemporaryDirectory() as tmp,
        postgres_database(postgres_admin_url, "grekko_bench_scaleout") as database_url,
        redis_database(redis_url) as redis_db,
    ):
        cluster = Cluster(Path(tmp), database_url, redis_db)
        client = redis.Redis.from_url(redis_db)
        try:
            start_services(cluster, per_service)
            cluster.start("ingest", "--speed", "1e9", "--max-bars", str(bars), wait=False)
            progress = follow(client, bars, timeout_s, lambda: cpu_seconds(cluster))
            span = stream_span_ms(client, BARS)
            requested = requested_times(client)
            if span is None:
                raise RuntimeError("ingest published no bar")
            orders = order_figures(database_url, requested)
            views = process_views(cluster, orders["positions"])
        finally:
            cluster.stop()
            client.close()
    return summarize(bars, per_service, span, progress, orders, views)


def summarize(
    bars: int,
    per_service: int,
    span: tuple[int, int],
    progress: dict[str, Any],
    orders: dict[str, Any],
    views: dict[str, Any],
) -> dict[str, Any]:
    first_s, last_s = span[0] / 1e3, span[1] / 1e3
    agents_s = (progress["agents_done"] or time.time()) - first_s
    out_s = orders["last_out_ns"] / 1e9 - first_s
    return {
        "processes_per_service": per_service,
        "layout": {
            "execution": per_service,
            "agents": per_service,
            "risk": per_service,
            "gateway": 1,
            "ingest": 1,
        },
        "bars": bars,
        "ingest_bars_per_s": round(bars / max(1e-3, last_s - first_s)),
        "agents_seconds": round(agents_s, 2),
        "agents_bars_per_s": round(bars / agents_s),
        "out_seconds": round(out_s, 2),
        "orders_out_per_s": round(orders["out"] / out_s, 1) if out_s > 0 else 0,
        "orders_filled_per_s": round(orders["by_outcome"].get("OrderFilled", 0) / out_s, 1)
        if out_s > 0
        else 0,
        **{k: v for k, v in orders.items() if k != "last_out_ns"},
        "pending_left": progress["pending_left"],
        "timed_out": progress["timed_out"],
        "cpu_s": progress.get("cpu_s"),
        "cores_busy": progress.get("cores_busy"),
        "processes": views,
    }
