"""Consensus benchmark: proposals through the coordinator (3 in-process agents) and the risk engine.

Each proposal is a whole round: broadcast, three votes (each agent reads the shared analysis of
real indicators), the weighted tally, the budget fit, the round's events appended to the store,
execution through the proposer's context, the risk engine's checks (per-agent cap included), the
execution engine and the paper venue. Measured with the event store of a backtest (in memory)
and of a paper session (SQLite file). No peer has weighted multi-agent voting, so the reference
in the same run is the same orders sent straight through the risk engine without a vote: the
ratio is what consensus costs. Targets: round p99 <= 5 ms, >= 2,000 proposals/s.

Usage: python -m benchmarks.run_agents_bench [--proposals N]
"""

from __future__ import annotations

import argparse
import gc
import json
import tempfile
import time
from decimal import Decimal
from pathlib import Path

import numpy as np
from rich.console import Console
from rich.table import Table

from benchmarks.bench_results import machine_info, replace_in_readme
from benchmarks.run_backtest_bench import REPO, RESULTS_DIR
from grekko.adapters.files.bars import bundled_files, iter_bar_rows, load_bars
from grekko.adapters.sql import SqlEventStore
from grekko.agents.hosting import Executor
from grekko.bootstrap import BacktestSpec, build_backtest, risk_limits
from grekko.bootstrap.agents import build_agent_desk
from grekko.domain.agents import ProposalType
from grekko.domain.data import Bar
from grekko.domain.enums import OrderSide
from grekko.settings import RiskSettings

MARKER = "<!-- AGENTS-BENCH -->"
TARGET_P99_MS = 5.0
TARGET_PER_S = 2_000
IID = "BTC/USDT@paper"
QTY = Decimal("0.001")
BATCH = 500  # proposals between bars, so market orders fill and open orders stay bounded


def _kernel(
    store: str, tmp: Path
) -> tuple[object, list[tuple[int, int, float, float, float, float, float]]]:
    path = bundled_files()[0]
    risk = RiskSettings(max_orders_per_second=10**9, max_order_notional=Decimal(10**12))
    setup = build_backtest(
        BacktestSpec(files=(path,), strategy="sma_cross", cash=Decimal(10**10), risk=risk)
    )
    kernel = setup.kernel
    kernel.trader.remove("sma_cross")
    if store == "sqlite":
        sql = SqlEventStore(f"sqlite:///{tmp / 'bench.db'}")
        sql.migrate()
        kernel.store = sql
        kernel.execution._store = sql
        kernel.risk._store = sql
    kernel.risk.limits = risk_limits(risk)
    rows = list(iter_bar_rows(load_bars(path), 0, 4000))
    return kernel, rows


def _bar(kernel: object, row: tuple[int, int, float, float, float, float, float]) -> None:
    ts_open, ts_close, o, h, low, c, v = row
    kernel.clock.set_time(ts_close)  # type: ignore[attr-defined]
    kernel.data.process_bar(Bar(IID, o, h, low, c, v, ts_open, ts_close))  # type: ignore[attr-defined]


def bench_consensus(store: str, proposals: int, tmp: Path) -> dict[str, object]:
    kernel, rows = _kernel(store, tmp)
    desk = build_agent_desk(
        kernel,  # type: ignore[arg-type]
        kernel.store,  # type: ignore[attr-defined]
        ["spot", "gordo", "gekko"],
        vote_timeout_s=0.5,
    )
    for name in ("gordo", "gekko"):
        desk.configure(name, "bench", params={"run": ""})
    for row in rows[:300]:  # warm the indicators the agents vote on
        _bar(kernel, row)
    coordinator = desk.coordinator
    times = np.empty(proposals)
    cursor = 300
    gc.collect()
    started = time.perf_counter()
    for i in range(proposals):
        proposal = desk.new_proposal(
            "gekko", ProposalType.BUY, IID, QTY, strategy="trend_following", rationale="bench"
        )
        t0 = time.perf_counter()
        record = coordinator.submit(proposal)
        times[i] = time.perf_counter() - t0
        if i % BATCH == BATCH - 1:
            _bar(kernel, rows[cursor])
            cursor += 1
        if i == 0:
            assert record.client_order_ids, record.decision_reason
    elapsed = time.perf_counter() - started
    statuses: dict[str, int] = {}
    for record in coordinator.ledger.records.values():
        statuses[record.status] = statuses.get(record.status, 0) + 1
    kernel.store.close()  # type: ignore[attr-defined]
    return {
        "store": store,
        "proposals": proposals,
        "per_s": round(proposals / elapsed),
        "p50_ms": round(float(np.percentile(times, 50)) * 1000, 3),
        "p99_ms": round(float(np.percentile(times, 99)) * 1000, 3),
        "max_ms": round(float(times.max()) * 1000, 3),
        "statuses": statuses,
    }


def bench_direct(store: str, orders: int, tmp: Path) -> dict[str, object]:
    """The same orders through the risk engine with no vote: what consensus is measured against."""
    kernel, rows = _kernel(store, tmp)
    ctx = kernel.trader.add(Executor("direct"))  # type: ignore[attr-defined]
    for row in rows[:300]:
        _bar(kernel, row)
    cursor = 300
    times = np.empty(orders)
    started = time.perf_counter()
    for i in range(orders):
        t0 = time.perf_counter()
        ctx.submit_market(IID, OrderSide.BUY, QTY)
        times[i] = time.perf_counter() - t0
        if i % BATCH == BATCH - 1:
            _bar(kernel, rows[cursor])
            cursor += 1
    elapsed = time.perf_counter() - started
    kernel.store.close()  # type: ignore[attr-defined]
    return {
        "store": store,
        "orders": orders,
        "per_s": round(orders / elapsed),
        "p50_ms": round(float(np.percentile(times, 50)) * 1000, 3),
        "p99_ms": round(float(np.percentile(times, 99)) * 1000, 3),
    }


def report(rounds: list[dict[str, object]], direct: list[dict[str, object]]) -> str:
    when = time.strftime("%Y-%m-%d %H:%M", time.gmtime())
    lines = [
        f"Latest `make bench-agents` ({when} UTC, one process, 2 cores): each proposal is a full round "
        "(broadcast, 3 votes on real indicators, weighted tally, budget fit, events stored, risk engine, "
        "paper venue). No peer votes, so the reference is the same order sent straight to the risk engine.",
        "",
        "| event store | consensus rounds/s | round p50 | round p99 | target | orders/s without a vote | consensus cost |",
        "|---|---|---|---|---|---|---|",
    ]
    for r, d in zip(rounds, direct, strict=True):
        per_s, p99 = int(r["per_s"]), float(r["p99_ms"])  # type: ignore[call-overload]
        ok = "met" if per_s >= TARGET_PER_S and p99 <= TARGET_P99_MS else "**not met**"
        lines.append(
            f"| {r['store']} | **{per_s:,}** | {r['p50_ms']} ms | **{p99} ms** | "
            f"≥ 2,000/s, p99 ≤ 5 ms: {ok} | {int(d['per_s']):,} | "  # type: ignore[call-overload]
            f"{int(d['per_s']) / per_s:.1f}x slower |"  # type: ignore[call-overload]
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--proposals", type=int, default=20_000)
    args = parser.parse_args(argv)
    console = Console()
    rounds, direct = [], []
    with tempfile.TemporaryDirectory() as tmp:
        for store in ("memory", "sqlite"):
            n = args.proposals if store == "memory" else max(1, args.proposals // 4)
            sub = Path(tmp) / store
            sub.mkdir()
            console.print(f"[bold]{store}[/]: {n:,} consensus rounds ...")
            rounds.append(bench_consensus(store, n, sub))
            (sub / "bench.db").unlink(missing_ok=True)
            console.print(f"[bold]{store}[/]: {n:,} orders without a vote ...")
            direct.append(bench_direct(store, n, sub))
    table = Table("store", "rounds/s", "p50 ms", "p99 ms", "max ms", "direct orders/s")
    for r, d in zip(rounds, direct, strict=True):
        table.add_row(
            str(r["store"]),
            f"{r['per_s']:,}",
            str(r["p50_ms"]),
            str(r["p99_ms"]),
            str(r["max_ms"]),
            f"{d['per_s']:,}",
        )
    console.print(table)
    markdown = report(rounds, direct)
    console.print(markdown)
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    (RESULTS_DIR / "agents.json").write_text(
        json.dumps({"machine": machine_info(), "rounds": rounds, "direct": direct}, indent=2)
    )
    replace_in_readme(REPO / "README.md", MARKER, markdown)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
