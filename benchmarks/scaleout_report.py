"""The scale-out benchmark's tables: each part's, printed as it ends, and the summary."""

from __future__ import annotations

import argparse
from typing import Any

from rich.console import Console
from rich.table import Table

AGENTS_NOTE = (
    "agents are not replicas: each strategy must see every bar of its instrument, so a second "
    "agents process is a second partition (BTC/USDT in one, ETH/USDT in the other); it and a "
    "second execution or risk process each still read every bar"
)


def store_table(results: dict[str, Any], args: argparse.Namespace, console: Console) -> None:
    sqlite, postgres = results["sqlite"], results["postgresql"]
    table = Table(title="Event store appends (events/s; 4 real order events per order stream)")
    for header in ("mode", "SQLite", "PostgreSQL", "PostgreSQL ÷ SQLite"):
        table.add_column(header, justify="left" if header == "mode" else "right")
    labels = {
        "single": f"single (1 event per transaction, {args.store_events:,})",
        "batched": f"batched ({args.batch} events per transaction, {args.store_batched:,})",
        "two_writers": f"single, 2 writer threads ({args.store_events:,})",
    }
    assert isinstance(sqlite, dict)
    for mode, label in labels.items():
        pg_rate = postgres.get(mode) if isinstance(postgres, dict) else None
        ratio = f"{pg_rate / sqlite[mode]:.2f}x" if pg_rate else "—"
        table.add_row(label, f"{sqlite[mode]:,.0f}", f"{pg_rate:,.0f}" if pg_rate else "—", ratio)
    console.print(table)
    if isinstance(postgres, str):
        console.print(f"PostgreSQL: {postgres}")


def pipeline_table(
    summary: dict[int, dict[str, Any]],
    runs: dict[int, list[dict[str, Any]]],
    args: argparse.Namespace,
    console: Console,
) -> None:
    table = Table(
        title=f"End to end, {args.bars:,} bars as fast as ingest publishes "
        f"(median of {args.repeat}; range in brackets)"
    )
    for header in (
        "processes per service",
        "bars/s (agents)",
        "orders out/s",
        "filled/s",
        "orders",
        "order p50 ms",
        "order p99 ms",
        "cores busy",
    ):
        table.add_column(header, justify="left" if header.startswith("proc") else "right")
    for n, med in summary.items():

        def span(key: str, runs_n: list[dict[str, Any]] = runs[n]) -> str:
            values = [r[key] or 0 for r in runs_n]
            return f"[{min(values):,.0f}–{max(values):,.0f}]" if len(values) > 1 else ""

        layout = "1 each" if n == 1 else "2 execution, 2 agents (partitions), 2 risk"
        table.add_row(
            layout,
            f"{med['agents_bars_per_s']:,.0f} {span('agents_bars_per_s')}",
            f"{med['orders_out_per_s']:,.1f} {span('orders_out_per_s')}",
            f"{med['orders_filled_per_s']:,.1f}",
            f"{med['out']:,.0f}",
            f"{med['order_latency_p50_ms']:,.1f}",
            f"{med['order_latency_p99_ms']:,.1f}",
            f"{med['cores_busy']:.2f}",
        )
    console.print(table)
    console.print(
        f"Note: {AGENTS_NOTE}; gateway and ingest stay 1 process. Orders follow the bars (the"
        " strategies order about once per 25 bars), so orders/s moves with bars/s. An order is"
        " out at its first answer (accepted by the paper venue, or denied); it fills on a later"
        " bar of its instrument, so those answered after the last bar stay unfilled. cores busy:"
        " CPU of all Grekko processes (not Redis, PostgreSQL) from the first bar to the last"
        " message handled, over that wall time."
    )
    for n, runs_n in runs.items():
        for r in runs_n:
            outcomes = ", ".join(f"{k} {v}" for k, v in sorted(r["by_outcome"].items()))
            stale = [p for p, v in r["processes"].items() if not v["positions_match_store"]]
            console.print(
                f"  {n}/service: {r['orders']} orders ({outcomes}; {r['open']} accepted and"
                f" unfilled at the end, {r['never_answered']} never answered); positions"
                f" differing from the store: {', '.join(stale) or 'none'}"
            )


def ws_table(results: list[dict[str, Any]], procs: int, console: Console) -> None:
    table = Table(
        title=f"WebSocket fan-out through the gateway process ({procs} load "
        "processes on the same cores)"
    )
    for header in (
        "replay",
        "clients",
        "connect all s",
        "connect p50/p99 ms",
        "frames/s",
        "frames/client",
        "hub lag p50/p99 ms",
        "end-to-end p50/p99 ms",
        "conflated",
    ):
        table.add_column(header, justify="left" if header == "replay" else "right")
    for r in results:
        speed = r["replay"]["speed_bars_per_s"]
        table.add_row(
            f"{speed:g} bars/s" if speed > 0 else "max",
            f"{r['clients']:,}",
            f"{r['connect_all_s']:.1f}",
            f"{r['connect_p50_ms']:,.0f} / {r['connect_p99_ms']:,.0f}",
            f"{r['frames_per_s']:,}",
            f"{r['frames_per_client']:,.0f}",
            f"{r['lag_p50_ms']:,.1f} / {r['lag_p99_ms']:,.1f}",
            f"{r['e2e_lag_p50_ms']:,.0f} / {r['e2e_lag_p99_ms']:,.0f}",
            f"{r['server_conflated']:,}",
        )
    console.print(table)
    console.print(
        "hub lag: the frame's ts (set when the gateway's bus hands the bar to the hub) to receipt; "
        "end to end: ingest's XADD of the bar to receipt (includes the wait in Redis). "
        "At 'max' the bars queue in Redis, so its end-to-end lag is the backlog, not a latency."
    )


def summary_table(record: dict[str, Any], console: Console) -> list[list[str]]:
    """The figures a reader wants first, each with its ratio."""
    rows: list[list[str]] = []

    def add(measure: str, a: float | None, b: float | None, fmt: str, ratio: str) -> None:
        if a is None or b is None:
            return
        rows.append([measure, format(a, fmt), format(b, fmt), ratio.format(b / a if a else 0)])

    store = record.get("store", {})
    if isinstance(store.get("postgresql"), dict):
        for mode in ("single", "batched", "two_writers"):
            add(
                f"event store {mode} appends/s: SQLite -> PostgreSQL",
                store["sqlite"][mode],
                store["postgresql"][mode],
                ",.0f",
                "{:.2f}x",
            )
    if "bus" in record:
        res = record["bus"]["results"]
        for q in ("p50_us", "p99_us"):
            add(
                f"bus {q[:3]} µs: in-process -> Redis, consumer in another process",
                res["inprocess"]["paced"][q],
                res["redis_child_process"]["paced"][q],
                ",.1f",
                "{:,.0f}x",
            )
    if "pipeline" in record:
        med = record["pipeline"]["median"]
        for key, label in (
            ("agents_bars_per_s", "end to end bars/s"),
            ("orders_out_per_s", "end to end orders out/s"),
        ):
            add(
                f"{label}: 1 -> 2 processes per service",
                med[1][key],
                med[2][key],
                ",.1f",
                "{:.2f}x",
            )
    for ws in record.get("websocket", []):
        speed = ws["replay"]["speed_bars_per_s"]
        pace = f"{speed:g} bars/s" if speed else "max"
        rows.append(
            [
                f"WebSocket {ws['clients']} clients, replay {pace}: frames/s; lag p50/p99 ms",
                f"{ws['frames_per_s']:,}",
                f"{ws['e2e_lag_p50_ms']:,.0f} / {ws['e2e_lag_p99_ms']:,.0f}",
                "—",
            ]
        )
    table = Table(title="Scale-out summary")
    for header in ("measure", "from", "to", "ratio"):
        table.add_column(header, justify="left" if header == "measure" else "right")
    for row in rows:
        table.add_row(*row)
    console.print(table)
    return rows
