"""Evaluating the agents on real data: what each run earned, how it was decided, and who earned it.

A run is a finished backtest (the ensemble, one trading agent with the advisors, or buy-and-hold of
the same instruments). Everything here is read after the run, from the kernel's fills and the
coordinator's proposal ledger; no second trading loop.

Conventions, on top of grekko.backtest.results:
- total return, Sharpe (annualised from the median bar spacing) and max drawdown are those of the
  equity curve rebuilt from the fills at every bar close;
- hit rate is the share of round trips that won net of their fees; round trips are counted per
  agent and instrument, from that agent's own fills (the agents share one account);
- turnover is traded notional / average equity over the curve;
- approval rate is (approved + modified) / decided proposals;
- buy-and-hold splits the starting cash evenly over the instruments and spends each share at the
  instrument's first bar close, the fee taken out of it, so its return on one instrument is
  last / (first x (1 + fee)) - 1 (positions are marked at the close, never sold, like the runs').
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import numpy as np
import numpy.typing as npt

from grekko.agents.desk import AgentDesk
from grekko.agents.ledger import ProposalRecord
from grekko.backtest.equity import EquityCurve, equity_curve
from grekko.backtest.outcome import collect, fill_records
from grekko.backtest.results import compute_metrics, trade_stats
from grekko.backtest.runner import Feed, RunStats
from grekko.core.errors import DataError
from grekko.domain.agents import PROFILES, parse_agent_strategy_id
from grekko.domain.events import OrderFilled
from grekko.engines.kernel import Kernel

ENSEMBLE = "ensemble"
SOLO = "solo"
BUY_AND_HOLD = "buy_and_hold"
TOP_REASONS = 5
UNDECIDED = "undecided"

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
_NUMBER = re.compile(r"\d[\d,]*(?:\.\d+)?")


# ---- metrics (pure numpy) ----------------------------------------------------------------------
def turnover_ratio(traded_notional: float, equity: npt.ArrayLike) -> float:
    """Traded notional over average equity; 0.0 when the average is not positive."""
    eq = np.asarray(equity, dtype=np.float64)
    average = float(np.mean(eq)) if eq.size else 0.0
    return traded_notional / average if average > 0 else 0.0


def share(part: int, whole: int) -> float | None:
    return part / whole if whole else None


def approval_rate(by_decision: Mapping[str, int]) -> float | None:
    approved = by_decision.get("approved", 0) + by_decision.get("modified", 0)
    return share(approved, approved + by_decision.get("rejected", 0))


def _fill_owner(fill: OrderFilled) -> str:
    parsed = parse_agent_strategy_id(fill.strategy_id)
    return parsed[0] if parsed is not None else fill.strategy_id


def round_trip_counts(fills: Iterable[OrderFilled]) -> tuple[int, int]:
    """(winning round trips, round trips), net of fees, per agent and instrument."""
    groups: dict[tuple[str, str], list[OrderFilled]] = {}
    for fill in fills:
        groups.setdefault((_fill_owner(fill), fill.instrument_id), []).append(fill)
    wins = trips = 0
    for group in groups.values():
        stats = trade_stats(fill_records(group))
        trips += stats.n_round_trips
        wins += round(stats.win_rate * stats.n_round_trips)
    return wins, trips


def buy_and_hold_equity(close: npt.ArrayLike, cash: float, fee: float) -> FloatArray:
    """Equity at each close after spending cash at the first close, the fee included."""
    c = np.asarray(close, dtype=np.float64)
    if c.ndim != 1 or c.size == 0 or not np.all(np.isfinite(c)) or not np.all(c > 0):
        raise DataError("buy-and-hold needs a non-empty series of positive finite closes")
    if not cash > 0 or not fee >= 0:
        raise DataError(f"buy-and-hold needs positive cash and a fee >= 0, got {cash}, {fee}")
    quantity = cash / (float(c[0]) * (1.0 + fee))
    return np.multiply(c, quantity)


def _forward_fill(values: FloatArray) -> FloatArray:
    present = np.where(~np.isnan(values), np.arange(values.size), 0)
    return values[np.maximum.accumulate(present)]


def _on_timeline(timeline: IntArray, feed: Feed) -> FloatArray:
    """The feed's closes on the timeline, carried forward; 0.0 before its first bar."""
    close = np.full(timeline.size, np.nan)
    close[np.searchsorted(timeline, feed.bars.ts_close_ns)] = feed.bars.close
    return np.nan_to_num(_forward_fill(close), nan=0.0)


def _buy_and_hold(feeds: Sequence[Feed], cash: float, fee: float) -> tuple[EquityCurve, FloatArray]:
    """The curve and, at each close, the cash still waiting for its instrument's first bar."""
    if not feeds:
        raise DataError("buy-and-hold needs at least one instrument")
    timeline = np.unique(np.concatenate([f.bars.ts_close_ns for f in feeds]))
    part = cash / len(feeds)
    total = np.zeros(timeline.size)
    idle = np.zeros(timeline.size)
    for feed in feeds:
        first = int(np.searchsorted(timeline, feed.bars.ts_close_ns[0]))
        idle[:first] += part
        total[first:] += buy_and_hold_equity(_on_timeline(timeline, feed)[first:], part, fee)
    return EquityCurve(timeline, total + idle), idle


def buy_and_hold_curve(feeds: Sequence[Feed], cash: float, fee: float) -> EquityCurve:
    """Even split of cash, each share idle until its instrument's first close, then held."""
    return _buy_and_hold(feeds, cash, fee)[0]


def positions_value(
    feeds: Sequence[Feed], fills: Sequence[OrderFilled], timeline: IntArray
) -> FloatArray:
    """Gross value of the open positions at each close (a fill counts from the next close on,
    as in grekko.backtest.equity)."""
    n = timeline.size
    gross = np.zeros(n)
    for feed in feeds:
        mine = [f for f in fills if f.instrument_id == feed.instrument_id]
        if not mine:
            continue
        where = np.minimum(
            np.searchsorted(timeline, [f.ts_event for f in mine], side="right"), n - 1
        )
        signed = [float(f.last_qty) * f.side.sign for f in mine]
        held = np.zeros(n)
        np.add.at(held, where, signed)
        gross += np.abs(np.cumsum(held) * _on_timeline(timeline, feed))
    return gross


def average_exposure(value: npt.ArrayLike, equity: npt.ArrayLike) -> float:
    """Mean of position value / equity over the closes (0 where equity is not positive)."""
    v = np.asarray(value, dtype=np.float64)
    eq = np.asarray(equity, dtype=np.float64)
    at_risk = eq > 0
    return (
        float(np.mean(np.where(at_risk, v / np.where(at_risk, eq, 1.0), 0.0))) if eq.size else 0.0
    )


@dataclass(frozen=True, slots=True)
class RunMetrics:
    """Headline figures of one run (or of one agent's own fills); fractions, not percentages."""

    total_return: float
    final_equity: float
    pnl: float
    sharpe: float
    max_drawdown: float
    hit_rate: float | None
    round_trips: int
    fills: int
    fees: float
    traded_notional: float
    turnover: float
    exposure: float  # average gross position value / equity
    proposals: int
    approval_rate: float | None


def run_metrics(
    curve: EquityCurve,
    initial_cash: float,
    fills: Sequence[OrderFilled],
    decisions: Mapping[str, int],
    exposure: float,
) -> RunMetrics:
    m = compute_metrics(curve.ts_ns, curve.equity, initial_cash)
    wins, trips = round_trip_counts(fills)
    notional = sum(float(f.last_qty * f.last_px) for f in fills)
    final = float(curve.equity[-1])
    return RunMetrics(
        total_return=m.total_return,
        final_equity=final,
        pnl=final - initial_cash,
        sharpe=m.sharpe,
        max_drawdown=m.max_drawdown,
        hit_rate=share(wins, trips),
        round_trips=trips,
        fills=len(fills),
        fees=sum(float(f.fee) for f in fills),
        traded_notional=notional,
        turnover=turnover_ratio(notional, curve.equity),
        exposure=exposure,
        proposals=sum(decisions.values()),
        approval_rate=approval_rate(decisions),
    )


# ---- decisions ---------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class Decisions:
    """How a run's proposals were decided, where they ended, and why the rejected ones were."""

    proposals: int
    by_decision: dict[str, int]
    by_status: dict[str, int]
    order_outcomes: dict[str, int]
    rejections: list[tuple[str, int]]  # (an example reason, how many) most common first


def _decision(record: ProposalRecord) -> str:
    return UNDECIDED if record.decision is None else str(record.decision)


def decision_stats(records: Iterable[ProposalRecord]) -> Decisions:
    """Rejection reasons are grouped with their numbers masked (equity, shares differ)."""
    kept = list(records)
    reasons: Counter[str] = Counter()
    examples: dict[str, str] = {}
    for r in kept:
        if _decision(r) == "rejected":
            key = _NUMBER.sub("#", r.decision_reason)
            reasons[key] += 1
            examples.setdefault(key, r.decision_reason)
    outcomes = Counter(o.status for r in kept for o in r.outcomes.values())
    return Decisions(
        proposals=len(kept),
        by_decision=dict(Counter(_decision(r) for r in kept)),
        by_status=dict(Counter(r.status for r in kept)),
        order_outcomes=dict(outcomes),
        rejections=[(examples[k], n) for k, n in reasons.most_common(TOP_REASONS)],
    )


def proposal_counts(records: Iterable[ProposalRecord]) -> dict[str, object]:
    stats = decision_stats(records)
    return {
        "total": stats.proposals,
        "by_decision": stats.by_decision,
        "by_status": stats.by_status,
        "approval_rate": approval_rate(stats.by_decision),
    }


def agents_section(desk: AgentDesk) -> dict[str, Any]:
    """The agents part of a backtest's JSON: each agent's own book and its proposals' fates."""
    records = list(desk.coordinator.ledger.records.values())
    return {
        "auto_confirm": desk.coordinator.auto_confirm,
        "proposals": proposal_counts(records),
        "by_agent": {
            aid: {
                "type": str(agent.agent_type),
                "book": dict(desk.performance(aid)),
                "proposals": proposal_counts(r for r in records if r.proposal.proposer == aid),
            }
            for aid, agent in desk.agents.items()
        },
    }


# ---- runs --------------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class AgentAttribution:
    """One agent inside a run: its own fills marked at the bar closes, from the starting cash."""

    agent_id: str
    agent_type: str
    trades: bool  # False for an advisory agent (no per-trade budget)
    book: dict[str, object]
    curve: EquityCurve
    metrics: RunMetrics
    decisions: Decisions


@dataclass(frozen=True, slots=True)
class RunResult:
    name: str
    kind: str
    agents: tuple[str, ...]
    initial_cash: float
    curve: EquityCurve
    metrics: RunMetrics
    decisions: Decisions | None = None
    attribution: dict[str, AgentAttribution] = field(default_factory=dict)
    kernel_equity: Decimal | None = None  # the portfolio's own figure, to check the curve by


def attribution(
    desk: AgentDesk, feeds: Sequence[Feed], fills: Sequence[OrderFilled], cash: float
) -> dict[str, AgentAttribution]:
    records = list(desk.coordinator.ledger.records.values())
    out: dict[str, AgentAttribution] = {}
    for aid, agent in desk.agents.items():
        own = [f for f in fills if _fill_owner(f) == aid]
        curve = equity_curve(feeds, own, cash)
        exposure = average_exposure(positions_value(feeds, own, curve.ts_ns), curve.equity)
        decided = decision_stats(r for r in records if r.proposal.proposer == aid)
        out[aid] = AgentAttribution(
            agent_id=aid,
            agent_type=str(agent.agent_type),
            trades=PROFILES[agent.agent_type].max_trade_pct > 0,
            book=dict(desk.performance(aid)),
            curve=curve,
            metrics=run_metrics(curve, cash, own, decided.by_decision, exposure),
            decisions=decided,
        )
    return out


def evaluate_run(
    name: str,
    kind: str,
    kernel: Kernel,
    feeds: list[Feed],
    desk: AgentDesk,
    stats: RunStats,
    initial_cash: Decimal,
) -> RunResult:
    outcome = collect(kernel, feeds, stats, initial_cash)
    cash = float(initial_cash)
    decisions = decision_stats(desk.coordinator.ledger.records.values())
    held = positions_value(feeds, outcome.fills, outcome.curve.ts_ns)
    exposure = average_exposure(held, outcome.curve.equity)
    return RunResult(
        name=name,
        kind=kind,
        agents=tuple(desk.agents),
        initial_cash=cash,
        curve=outcome.curve,
        metrics=run_metrics(outcome.curve, cash, outcome.fills, decisions.by_decision, exposure),
        decisions=decisions,
        attribution=attribution(desk, feeds, outcome.fills, cash),
        kernel_equity=outcome.final_equity,
    )


def buy_and_hold_run(feeds: Sequence[Feed], initial_cash: Decimal, fee: Decimal) -> RunResult:
    cash, rate = float(initial_cash), float(fee)
    curve, idle = _buy_and_hold(feeds, cash, rate)
    invested = cash / (1.0 + rate)  # what bought the coins; the rest paid the fees
    m = compute_metrics(curve.ts_ns, curve.equity, cash)
    final = float(curve.equity[-1])
    metrics = RunMetrics(
        total_return=m.total_return,
        final_equity=final,
        pnl=final - cash,
        sharpe=m.sharpe,
        max_drawdown=m.max_drawdown,
        hit_rate=None,
        round_trips=0,
        fills=len(feeds),
        fees=cash - invested,
        traded_notional=invested,
        turnover=turnover_ratio(invested, curve.equity),
        exposure=average_exposure(curve.equity - idle, curve.equity),
        proposals=0,
        approval_rate=None,
    )
    return RunResult(BUY_AND_HOLD, BUY_AND_HOLD, (), cash, curve, metrics)
