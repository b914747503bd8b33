"""`grekko agents evaluate`, and the agent options `grekko backtest` shares with it.

The evaluation runs the same kernel, agents and coordinator a backtest runs, several times over
the same files: the whole ensemble, each trading agent with only the advisory agents beside it
(so its proposals are still voted on), and buy-and-hold of the same instruments with the same
cash. Gordo's confirmations are given automatically: nobody is there to click.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

if TYPE_CHECKING:  # imported when a command runs, keeping --help fast
    from grekko.backtest.agent_eval import RunResult
    from grekko.bootstrap import BacktestSetup
    from grekko.settings import PaperSettings, RiskSettings

DEFAULT_AGENTS = "spot,gordo,gekko"
PARAM_SYNTAX = "<agent>.<key>=<value>, e.g. gekko.quantity=0.05 or gekko.run=trend_following"

AgentsOption = Annotated[
    str | None,
    typer.Option(
        help="Run these agents (comma list, e.g. spot,gordo,gekko) instead of --strategy."
    ),
]
AutoConfirmOption = Annotated[
    bool,
    typer.Option(
        "--auto-confirm", help="Confirm Gordo's trades as the user would (needs --agents)."
    ),
]
AgentParamOption = Annotated[
    list[str] | None,
    typer.Option("--agent-param", help=f"Agent setting {PARAM_SYNTAX}; repeatable."),
]


@dataclass(frozen=True)
class AgentOptions:
    names: tuple[str, ...] = ()
    auto_confirm: bool = False
    params: Mapping[str, Mapping[str, str]] = field(default_factory=dict)


def agent_names(text: str | None) -> tuple[str, ...]:
    return tuple(n.strip() for n in (text or "").split(",") if n.strip())


def agent_params(pairs: Sequence[str]) -> dict[str, dict[str, str]]:
    """`<agent>.<key>=<value>`; the key may hold dots of its own (gekko.trend_following.fast)."""
    out: dict[str, dict[str, str]] = {}
    for pair in pairs:
        target, sep, value = pair.partition("=")
        agent, dot, key = target.strip().partition(".")
        if not sep or not dot or not agent or not key.strip():
            raise typer.BadParameter(f"--agent-param takes {PARAM_SYNTAX}; got {pair!r}")
        if not value.strip():
            raise typer.BadParameter(f"--agent-param {pair!r} has no value")
        if key.strip() == "risk_budget_pct":
            decimal_option(value, f"--agent-param {agent}.risk_budget_pct")
        out.setdefault(agent, {})[key.strip()] = value.strip()
    return out


def agent_options(
    agents: str | None, auto_confirm: bool, pairs: Sequence[str], *, strategy_params: bool = False
) -> AgentOptions:
    """Check the agent options together: each one's meaning depends on --agents."""
    names = agent_names(agents)
    if not names:
        if auto_confirm:
            raise typer.BadParameter(
                "--auto-confirm needs --agents: it confirms the agents' trades in a backtest"
            )
        if pairs:
            raise typer.BadParameter("--agent-param needs --agents")
        return AgentOptions()
    if strategy_params:
        raise typer.BadParameter(
            f"--param sets --strategy's parameters; with --agents use --agent-param {PARAM_SYNTAX}"
        )
    params = agent_params(pairs)
    strangers = sorted(set(params) - set(names))
    if strangers:
        raise typer.BadParameter(
            f"--agent-param names {', '.join(strangers)}, which --agents does not run "
            f"({', '.join(names)})"
        )
    return AgentOptions(names, auto_confirm, params)


def decimal_option(text: str, name: str) -> Decimal:
    """A command-line number as an exact, finite Decimal, or a usage error naming the option."""
    try:
        value = Decimal(text)
    except InvalidOperation:
        raise typer.BadParameter(f"{name} must be a number, got {text!r}") from None
    if not value.is_finite():
        raise typer.BadParameter(f"{name} must be finite")
    return value


# ---- grekko agents evaluate --------------------------------------------------------------------
@dataclass(frozen=True)
class EvaluateRequest:
    files: tuple[Path, ...]
    agents: AgentOptions
    cash: Decimal
    fee: Decimal
    currency: str
    risk: RiskSettings
    paper: PaperSettings
    report: Path | None = None
    json_out: Path | None = None
    progress: bool = True


def _setup(req: EvaluateRequest, names: tuple[str, ...]) -> BacktestSetup:
    from grekko.bootstrap import BacktestSpec, build_backtest

    params = {aid: p for aid, p in req.agents.params.items() if aid in names}
    spec = BacktestSpec(
        files=req.files, strategy="", fee=req.fee, cash=req.cash, cash_currency=req.currency,
        risk=req.risk, paper=req.paper, agents=names, auto_confirm=True, agent_params=params,
    )  # fmt: skip
    return build_backtest(spec)


def _plan(setup: BacktestSetup) -> list[tuple[str, str, tuple[str, ...]]]:
    """(name, kind, agents) of each kernel run: the ensemble, then each trader with advisors."""
    from grekko.backtest.agent_eval import ENSEMBLE, SOLO
    from grekko.domain.agents import PROFILES

    agents = setup.desk.agents
    advisors = tuple(
        a for a, agent in agents.items() if not PROFILES[agent.agent_type].max_trade_pct
    )
    traders = [a for a in agents if a not in advisors]
    plan = [(ENSEMBLE, ENSEMBLE, tuple(agents))]
    if len(traders) > 1:
        plan += [("+".join((*advisors, t)), SOLO, (*advisors, t)) for t in traders]
    return plan


def _run_all(req: EvaluateRequest) -> list[RunResult]:
    from rich.console import Console
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeRemainingColumn,
    )

    from grekko.backtest.agent_eval import buy_and_hold_run, evaluate_run
    from grekko.backtest.runner import run

    first = _setup(req, req.agents.names)
    feeds, plan = first.feeds, _plan(first)
    bars = sum(len(f.bars) for f in feeds)
    results: list[RunResult] = []
    columns = (TextColumn("[bold]{task.description:<16}"), BarColumn(), MofNCompleteColumn(),
               TextColumn("bars"), TimeRemainingColumn())  # fmt: skip
    with Progress(*columns, console=Console(stderr=True), disable=not req.progress) as bar:
        task = bar.add_task(plan[0][0], total=bars * len(plan))
        for i, (name, kind, names) in enumerate(plan):
            setup = first if i == 0 else _setup(req, names)
            bar.update(task, description=name)
            stats = run(setup.kernel, setup.feeds, _advance(bar.update, task, i * bars))
            results.append(
                evaluate_run(name, kind, setup.kernel, setup.feeds, setup.desk, stats, req.cash)
            )
    results.append(buy_and_hold_run(feeds, req.cash, req.fee))
    return results


def _advance(update: Callable[..., None], task: Any, done: int) -> Callable[[int], None]:
    return lambda n: update(task, completed=done + n)


def run_evaluation(req: EvaluateRequest) -> dict[str, Any]:
    """Run every configuration; write JSON and HTML; return a short summary."""
    from grekko.backtest.agent_report import run_json, summaries, write_agent_report
    from grekko.backtest.outcome import write_json
    from grekko.core.time import ns_to_iso

    results = _run_all(req)
    sentences = summaries(results, req.currency)
    ts = results[0].curve.ts_ns
    meta: dict[str, Any] = {
        "files": [str(p) for p in req.files],
        "from": ns_to_iso(int(ts[0])),
        "to": ns_to_iso(int(ts[-1])),
        "cash": str(req.cash),
        "currency": req.currency,
        "fee": str(req.fee),
        "agents": list(req.agents.names),
        "agent_params": {a: dict(p) for a, p in req.agents.params.items()},
        "auto_confirm": True,
    }
    if req.json_out is not None:
        write_json(req.json_out, {**meta, "runs": [run_json(r, sentences) for r in results]})
    if req.report is not None:
        symbols = ", ".join(p.name.partition("_")[0] for p in req.files)
        params = {k: json.dumps(v) if not isinstance(v, str) else v for k, v in meta.items()}
        title = f"Agents evaluated on {symbols}, {meta['from'][:10]} to {meta['to'][:10]}"
        write_agent_report(req.report, results, title=title, params=params, currency=req.currency)
    return {
        **meta,
        "runs": {r.name: {**_headline(r), "summary": sentences[r.name]} for r in results},
    }


def _headline(result: RunResult) -> dict[str, Any]:
    m = result.metrics
    keys = ("total_return", "sharpe", "max_drawdown", "hit_rate", "turnover", "exposure",
            "proposals", "approval_rate", "final_equity")  # fmt: skip
    return {k: getattr(m, k) for k in keys}


agents_app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    help="The trading agents (Spot, Gordo, Gekko): evaluate them on real data.",
)


@agents_app.command("evaluate")
def evaluate(
    data: Annotated[
        list[Path], typer.Option("--data", help="Bar file (CSV, CSV.gz, Parquet); repeatable.")
    ],
    agents: Annotated[str, typer.Option(help="The ensemble's agents.")] = DEFAULT_AGENTS,
    agent_param: AgentParamOption = None,
    cash: Annotated[str, typer.Option(help="Starting cash of every run.")] = "100000",
    fee: Annotated[str, typer.Option(help="Fee rate per fill, a fraction of notional.")] = "0.001",
    currency: Annotated[str, typer.Option(help="Cash currency.")] = "USDT",
    report: Annotated[Path | None, typer.Option(help="Write the HTML report here.")] = None,
    json_out: Annotated[Path | None, typer.Option(help="Write every figure as JSON here.")] = None,
    progress: Annotated[
        bool, typer.Option("--progress/--no-progress", help="Show a progress bar of the runs.")
    ] = True,
    data_dir: Annotated[
        Path | None, typer.Option("--data-dir", help="Where settings live (risk, paper venue).")
    ] = None,
) -> None:
    """The ensemble vs each trading agent with Spot vs buy-and-hold, on the same bars and cash."""
    from grekko.settings import load_settings

    if not agent_names(agents):
        raise typer.BadParameter("--agents names no agent")
    options = agent_options(agents, True, agent_param or [])
    settings = load_settings(data_dir)
    request = EvaluateRequest(
        files=tuple(data), agents=options, cash=decimal_option(cash, "--cash"),
        fee=decimal_option(fee, "--fee"), currency=currency, risk=settings.risk, paper=settings.paper,
        report=report, json_out=json_out, progress=progress,
    )  # fmt: skip
    if request.cash <= 0:
        raise typer.BadParameter("--cash must be positive")
    typer.echo(json.dumps(run_evaluation(request), indent=1))
