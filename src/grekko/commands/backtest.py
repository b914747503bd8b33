"""`grekko backtest`: load, wire, run with a progress bar, then write JSON and the HTML report."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from grekko.backtest import outcome as results
from grekko.backtest.agent_eval import agents_section
from grekko.backtest.runner import RunStats, run
from grekko.bootstrap import BacktestSetup, BacktestSpec, build_backtest
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
    agents: tuple[str, ...] = ()  # agent plugins instead of the strategy
    auto_confirm: bool = False
    agent_params: Mapping[str, Mapping[str, str]] = field(default_factory=dict)


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
        agents=req.agents,
        auto_confirm=req.auto_confirm,
        agent_params=req.agent_params,
    )
    setup = build_backtest(spec)
    stats = _run(setup, req.progress)
    outcome = results.collect(setup.kernel, setup.feeds, stats, req.cash)
    meta: dict[str, Any] = {
        "strategy": None if req.agents else req.strategy,
        "params": {} if req.agents else dict(req.params),
        "instruments": [feed.instrument_id for feed in setup.feeds],
        "files": [str(path) for path in req.files],
        "quantity": str(req.quantity),
        "fee": str(req.fee),
    }
    payload = results.to_json(setup.kernel, outcome, meta)
    if setup.desk is not None:
        payload["agents"] = agents_section(setup.desk)
    if req.json_out is not None:
        results.write_json(req.json_out, payload)
    if req.report is not None:
        who = f"agents {', '.join(req.agents)}" if req.agents else req.strategy
        title = f"{who} on {', '.join(f.bars.symbol for f in setup.feeds)}"
        results.write_report(req.report, outcome, setup.feeds, title, _report_params(req, meta))
    return _summary(payload)


def _run(setup: BacktestSetup, progress: bool) -> RunStats:
    if not progress:
        return run(setup.kernel, setup.feeds)
    total = sum(len(feed.bars) for feed in setup.feeds)
    with Progress(
        TextColumn("[bold]backtest"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("bars"),
        TimeRemainingColumn(),
        console=Console(stderr=True),
        transient=False,
    ) as bar:
        task = bar.add_task("run", total=total)
        return run(setup.kernel, setup.feeds, lambda n: bar.update(task, completed=n))


def _report_params(req: BacktestRequest, meta: dict[str, Any]) -> dict[str, str]:
    params = {k: str(v) for k, v in meta.items() if k != "files"}
    params["files"] = ", ".join(meta["files"])
    if req.agents:
        params |= {"agents": ", ".join(req.agents), "auto_confirm": str(req.auto_confirm)}
        params |= {f"{a}.{k}": v for a, p in req.agent_params.items() for k, v in p.items()}
    return params


def _summary(payload: dict[str, Any]) -> dict[str, Any]:
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
    if "agents" in payload:
        summary["agents"] = payload["agents"]
    return summary
