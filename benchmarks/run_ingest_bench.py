"""Ingest benchmark: trade ticks through Grekko's full pipeline vs nautilus_trader's bare tick loop.

Both run in fresh child processes in the same run, on the same 1M prices (the shared GBM workload):
nautilus_trader replays them as quote ticks into a strategy that only counts them
(`bench_nautilus.py N quotes`, its loop time only); Grekko pushes them as raw Binance-style trade
ticks through normalize -> validate -> enrich -> publish. Then Grekko alone is driven at 20k
ticks/s on the wall clock to measure the publish lag. Targets: >= 300k ticks/s, p99 lag < 5 ms.

Usage: python -m benchmarks.run_ingest_bench [--ticks N] [--rate R] [--seconds S] [--no-peer]
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import platform
import sys
from datetime import UTC, datetime
from pathlib import Path

from rich.console import Console
from rich.table import Table

from benchmarks.bench_process import child_env, parse_result_line, run_measured
from benchmarks.bench_results import replace_in_readme
from benchmarks.peer_envs import PEERS, PeerEnvError, ensure_peer_envs
from benchmarks.run_backtest_bench import (
    BENCH_ROOT,
    DATA_DIR,
    REPO,
    RESULTS_DIR,
    ensure_dataset,
    project_python,
    shared_dir,
)

TARGET_TICKS_PER_S = 300_000
TARGET_P99_MS = 5.0
MARKER = "<!-- INGEST-BENCH -->"


def run_grekko(ticks: int, rate: int, seconds: float) -> dict[str, object]:
    cmd = [
        str(project_python()),
        "-m",
        "benchmarks.ingest_grekko",
        str(ticks),
        str(rate),
        str(seconds),
        str(DATA_DIR),
    ]
    outcome = run_measured(cmd, REPO, child_env(), timeout_s=900)
    result = parse_result_line(outcome.stdout)
    if outcome.returncode != 0 or result is None:
        return {"error": f"exit {outcome.returncode}: {outcome.stderr_tail(4)}"}
    result["peak_rss_mb"] = round(outcome.peak_rss_mb, 1)
    return result


def run_nautilus(ticks: int, console: Console) -> dict[str, object]:
    spec = dataclasses.replace(PEERS["nautilus"], script_args=("quotes",))
    envs = ensure_peer_envs([spec], BENCH_ROOT, Path(sys.executable), console)
    python = envs[spec.name]
    if isinstance(python, PeerEnvError):
        return {"error": f"nautilus_trader venv: {python}"}
    peers_dir = shared_dir() / "peers"
    cmd = [str(python), str(peers_dir / spec.script), str(ticks), "quotes"]
    outcome = run_measured(cmd, peers_dir, child_env(DATA_DIR=str(DATA_DIR)), timeout_s=900)
    result = parse_result_line(outcome.stdout)
    if outcome.returncode != 0 or result is None:
        return {"error": f"exit {outcome.returncode}: {outcome.stderr_tail(4)}"}
    result["peak_rss_mb"] = round(outcome.peak_rss_mb, 1)
    return result


def report(
    grekko: dict[str, object], peer: dict[str, object] | None
) -> tuple[Table, str, list[str]]:
    g_rate = float(str(grekko.get("ticks_per_s", 0)))
    p_rate = float(str(peer.get("loop_bars_per_s", 0))) if peer and "error" not in peer else 0.0
    p99 = float(str(grekko.get("lag_p99_ms", "nan")))
    rows = [
        (
            "Grekko full pipeline (normalize, validate, enrich, publish)",
            f"{g_rate:,.0f}",
            "1.00x" if not p_rate else f"{g_rate / p_rate:.2f}x",
            f"{grekko.get('peak_rss_mb', '?')}",
        ),
    ]
    if peer and "error" not in peer:
        rows.append(
            (
                f"nautilus_trader {peer.get('version')} bare quote-tick loop (count only)",
                f"{p_rate:,.0f}",
                "1.00x",
                f"{peer.get('peak_rss_mb', '?')}",
            )
        )
    table = Table(title="Ingest: ticks per second, one core")
    for header in ("engine", "ticks/s", "vs nautilus", "peak RSS MB"):
        table.add_column(header)
    for row in rows:
        table.add_row(*row)
    when = datetime.now(UTC).strftime("%Y-%m-%d %H:%M")
    cpu = platform.processor() or platform.machine()
    lines = [
        f"Latest `make bench-ingest` ({when} UTC, {grekko.get('ticks'):,} ticks, {os.cpu_count()} cores "
        f"{cpu}, Python {platform.python_version()}, hot modules compiled by mypyc):",
        "",
        "| engine | ticks/s | vs nautilus | peak RSS MB |",
        "|---|---|---|---|",
        *(f"| {' | '.join(row)} |" for row in rows),
        "",
        f"Publish lag at {grekko.get('lag_rate')} ticks/s sustained for {grekko.get('lag_ticks')} ticks "
        f"(achieved {grekko.get('lag_achieved_rate')}/s): p50 {grekko.get('lag_p50_ms')} ms, "
        f"p99 {grekko.get('lag_p99_ms')} ms, max {grekko.get('lag_max_ms')} ms.",
    ]
    verdicts = [
        f"throughput >= {TARGET_TICKS_PER_S:,} ticks/s: {'met' if g_rate >= TARGET_TICKS_PER_S else 'NOT met'} ({g_rate:,.0f})",
        f"p99 publish lag < {TARGET_P99_MS} ms at {grekko.get('lag_rate')} ticks/s: {'met' if p99 < TARGET_P99_MS else 'NOT met'} ({p99} ms)",
    ]
    return table, "\n".join(lines), verdicts


def update_readme(markdown: str) -> None:
    replace_in_readme(REPO / "README.md", MARKER, markdown)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ticks", type=int, default=1_000_000, choices=(100_000, 1_000_000))
    parser.add_argument("--rate", type=int, default=20_000)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--no-peer", action="store_true")
    args = parser.parse_args(argv)
    console = Console()
    ensure_dataset(shared_dir() / "peers", console)
    peer = None if args.no_peer else run_nautilus(args.ticks, console)
    with console.status(
        f"Grekko: {args.ticks:,} ticks, then {args.rate:,}/s for {args.seconds:.0f} s ..."
    ):
        grekko = run_grekko(args.ticks, args.rate, args.seconds)
    if "error" in grekko:
        console.print(f"[red]Grekko failed:[/] {grekko['error']}")
        return 1
    if peer and "error" in peer:
        console.print(f"[yellow]nautilus_trader failed:[/] {peer['error']}")
    table, markdown, verdicts = report(grekko, peer)
    console.print(table)
    console.print(markdown.splitlines()[-1])  # the lag line
    for verdict in verdicts:
        console.print(("[green]" if " met " in verdict else "[red]") + verdict)
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    (RESULTS_DIR / "ingest.json").write_text(
        json.dumps({"grekko": grekko, "nautilus": peer}, indent=2)
    )
    update_readme(markdown + "\n\n" + "\n".join(f"- {v}" for v in verdicts))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
