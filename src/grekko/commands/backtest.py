"""`grekko backtest`: load, wire, run with a progress bar, then write JSON and the HTML report."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from grekko.backtest import outcome as results
from grekko.backtest.runner import run
from grekko.bootstrap import BacktestSpec, build_backtest
from grekko.settings import PaperSettings, RiskSettings


@dataclass(frozen=True)
class BacktestRequest:
    files: tuple[Path, ...]
    strategy: str
    params: Mapping[str, str]
    symbol: str | None
    quantity: Decimal
    fee: Decimal
    cash: Decimal
    currency: str
    risk: RiskSettings
    paper: PaperSettings
    json_out: Path | None = None
    report: Path | None = None
    progress: bool = True


def run_backtest(req: BacktestRequest) -> dict[str, Any]:
    """Run and return a short summary (the full record goes to --json-out)."""
    spec = BacktestSpec(
        files=req.files,
        strategy=req.strategy,
        params=req.params,
        symbol=req.symbol,
        quantity=req.quantity,
        fee=req.fee,
        cash=req.cash,
        cash_currency=req.currency,
        risk=req.risk,
        paper=req.paper,
    )
    setup = build_backtest(spec)
    total = sum(len(feed.bars) for feed in setup.feeds)
    console = Console(stderr=True)
    if req.progress:
        with Progress(
            TextColumn("[bold]backtest"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("bars"),
            TimeRemainingColumn(),
            console=console,
            transient=False,
        ) as bar:
            task = bar.add_task("run", total=total)
            stats = run(setup.kernel, setup.feeds, lambda n: bar.update(task, completed=n))
    else:
        stats = run(setup.kernel, setup.feeds)
    outcome = results.collect(setup.kernel, setup.feeds, stats, req.cash)
    meta = {
        "strategy": req.strategy,
        "params": dict(req.params),
        "instruments": [feed.instrument_id for feed in setup.feeds],
        "files": [str(path) for path in req.files],
        "quantity": str(req.quantity),
        "fee": str(req.fee),
    }
    payload = results.to_json(setup.kernel, outcome, meta)
    if req.json_out is not None:
        results.write_json(req.json_out, payload)
    if req.report is not None:
        title = f"{req.strategy} on {', '.join(f.bars.symbol for f in setup.feeds)}"
        params = {k: str(v) for k, v in meta.items() if k != "files"} | {
            "files": ", ".join(meta["files"])
        }
        results.write_report(req.report, outcome, setup.feeds, title, params)
    keep = (
        "bars",
        "elapsed_s",
        "bars_per_s",
        "final_equity",
        "total_return",
        "max_drawdown",
        "sharpe",
        "round_trips",
        "orders_denied",
        "trading_state",
    )
    summary = {k: payload[k] for k in keep}
    summary["fills"] = len(payload["fills"])
    summary["orders"] = len(payload["orders"])
    return summary
