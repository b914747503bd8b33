"""The agent evaluation's metrics on series small enough to check by hand, and their invariants."""

from __future__ import annotations

import math
import statistics
from decimal import Decimal
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from grekko.adapters.files.bars import BarArrays
from grekko.agents.ledger import ProposalLedger
from grekko.backtest.agent_eval import (
    RunResult,
    approval_rate,
    average_exposure,
    buy_and_hold_curve,
    buy_and_hold_equity,
    buy_and_hold_run,
    decision_stats,
    positions_value,
    round_trip_counts,
    run_metrics,
    turnover_ratio,
)
from grekko.backtest.agent_report import run_sentence
from grekko.backtest.equity import EquityCurve
from grekko.backtest.runner import Feed
from grekko.core.errors import DataError
from grekko.domain.agents import Decision, ProposalType, TradingProposal, agent_strategy_id
from grekko.domain.enums import LiquiditySide, OrderSide
from grekko.domain.events import OrderFilled, ProposalDecided, ProposalSubmitted

HOUR_NS = 3_600 * 10**9
START_NS = 1_735_689_600 * 10**9  # 2025-01-01T00:00:00Z
BTC = "BTC/USDT@paper"
ETH = "ETH/USDT@paper"

closes = st.lists(
    st.floats(min_value=1e-3, max_value=1e6, allow_nan=False, allow_infinity=False),
    min_size=1,
    max_size=60,
)
fees = st.floats(min_value=0.0, max_value=0.01)


def feed(instrument_id: str, close: list[float], first_bar: int = 0) -> Feed:
    """Hourly bars whose first one closes first_bar hours after START_NS + 1h."""
    n = len(close)
    ts_open = START_NS + (np.arange(n, dtype=np.int64) + first_bar) * HOUR_NS
    c = np.asarray(close, dtype=np.float64)
    bars = BarArrays(
        symbol=instrument_id.partition("@")[0],
        ts_open_ns=ts_open,
        ts_close_ns=ts_open + HOUR_NS,
        open=c, high=c, low=c, close=c, volume=np.ones(n),
        interval_ns=HOUR_NS,
        source=Path("hand-made"),
    )  # fmt: skip
    return Feed(instrument_id, bars)


def close_ts(bar: int) -> int:
    return START_NS + (bar + 1) * HOUR_NS


_fill_ids = iter(range(1, 10**9))


def fill(
    agent: str, side: str, qty: str, price: str, fee: str, ts: int, iid: str = BTC
) -> OrderFilled:
    n = next(_fill_ids)
    return OrderFilled(
        ts_event=ts,
        client_order_id=f"O-{agent_strategy_id(agent, 'hand', iid)}-{n}",
        venue_order_id=f"V-{n}",
        trade_id=f"T-{n}",
        instrument_id=iid,
        strategy_id=agent_strategy_id(agent, "hand", iid),
        side=OrderSide(side),
        last_qty=Decimal(qty),
        last_px=Decimal(price),
        fee=Decimal(fee),
        fee_currency="USDT",
        liquidity=LiquiditySide.TAKER,
    )


# ---- buy-and-hold --------------------------------------------------------------------------------
def test_buy_and_hold_spends_the_cash_at_the_first_close_fee_included() -> None:
    equity = buy_and_hold_equity([100.0, 110.0, 90.0, 120.0], 1000.0, 0.001)
    # quantity = 1000 / (100 x 1.001): the 1000 pays for the coins and their fee
    expected = [1000 * 100 / 100.1, 1000 * 110 / 100.1, 1000 * 90 / 100.1, 1000 * 120 / 100.1]
    assert equity == pytest.approx(expected, rel=1e-12)


def test_buy_and_hold_of_two_instruments_keeps_the_late_ones_cash_idle() -> None:
    a = feed(BTC, [10.0, 20.0, 20.0, 10.0])
    b = feed(ETH, [50.0, 100.0], first_bar=2)
    curve = buy_and_hold_curve([a, b], 1000.0, 0.0)
    # 500 buys 50 of A at 10; the other 500 waits two bars, then buys 10 of B at 50
    assert curve.ts_ns.tolist() == [close_ts(i) for i in range(4)]
    assert curve.equity.tolist() == pytest.approx([1000.0, 1500.0, 1500.0, 1500.0])


@settings(max_examples=200, deadline=None)
@given(close=closes, fee=fees)
def test_buy_and_hold_return_is_last_over_first_less_the_fee(
    close: list[float], fee: float
) -> None:
    run = buy_and_hold_run([feed(BTC, close)], Decimal(100_000), Decimal(repr(fee)))
    m = run.metrics
    ratio = close[-1] / close[0]
    assert m.total_return == pytest.approx(ratio / (1 + fee) - 1, rel=1e-9, abs=1e-12)
    assert m.total_return == pytest.approx((1 - m.fees / 100_000) * ratio - 1, rel=1e-9, abs=1e-12)
    assert 0.0 <= m.max_drawdown <= 1.0
    assert m.exposure == pytest.approx(1.0)
    assert m.proposals == 0
    assert m.approval_rate is None


def test_buy_and_hold_refuses_a_series_it_cannot_buy() -> None:
    with pytest.raises(DataError):
        buy_and_hold_equity([0.0, 1.0], 1000.0, 0.001)
    with pytest.raises(DataError):
        buy_and_hold_equity([], 1000.0, 0.001)
    with pytest.raises(DataError):
        buy_and_hold_equity([1.0], -1.0, 0.001)


# ---- ratios ------------------------------------------------------------------------------------
def test_turnover_is_traded_notional_over_average_equity() -> None:
    assert turnover_ratio(3000.0, [900.0, 1000.0, 1100.0]) == pytest.approx(3.0)
    assert turnover_ratio(3000.0, [0.0, -10.0]) == 0.0


def test_approval_rate_counts_modified_as_approved_and_ignores_the_undecided() -> None:
    assert approval_rate({"approved": 3, "modified": 1, "rejected": 4}) == 0.5
    assert approval_rate({"rejected": 2, "undecided": 5}) == 0.0
    assert approval_rate({"undecided": 5}) is None
    assert approval_rate({}) is None


def test_round_trips_are_counted_per_agent_and_won_only_net_of_fees() -> None:
    fills = [
        fill("gekko", "buy", "1", "100", "0.1", 1),
        fill("gordo", "buy", "2", "100", "0.2", 2),  # another agent's trip, interleaved
        fill("gekko", "sell", "1", "110", "0.11", 3),  # +10 gross, +9.79 net: a win
        fill("gekko", "buy", "1", "100", "0.1", 4),
        fill("gordo", "sell", "2", "90", "0.18", 5),  # -20: a loss
        fill("gekko", "sell", "1", "100.1", "0.1001", 6),  # +0.1 gross, -0.1001 net: a loss
        fill("gekko", "buy", "1", "100", "0.1", 7),  # still open: not a round trip
    ]
    assert round_trip_counts(fills) == (1, 3)


def test_run_metrics_on_a_hand_computed_curve() -> None:
    equity = [100.0, 101.0, 100.495, 102.5049]  # returns +1 %, -0.5 %, +2 % an hour
    curve = EquityCurve(np.array([close_ts(i) for i in range(4)]), np.array(equity))
    fills = [
        fill("gekko", "buy", "1", "100", "0.1", 1),
        fill("gekko", "sell", "1", "110", "0.11", 2),
    ]
    m = run_metrics(curve, 100.0, fills, {"approved": 1, "rejected": 1}, 0.25)
    returns = [0.01, -0.005, 0.02]
    assert m.sharpe == pytest.approx(
        statistics.mean(returns) / statistics.stdev(returns) * math.sqrt(365 * 24), rel=1e-6
    )
    assert m.max_drawdown == pytest.approx((101.0 - 100.495) / 101.0)
    assert m.total_return == pytest.approx(0.025049)
    assert m.pnl == pytest.approx(2.5049)
    assert m.traded_notional == pytest.approx(210.0)
    assert m.turnover == pytest.approx(210.0 / statistics.mean(equity))
    assert m.fees == pytest.approx(0.21)
    assert (m.round_trips, m.hit_rate, m.fills) == (1, 1.0, 2)
    assert (m.proposals, m.approval_rate, m.exposure) == (2, 0.5, 0.25)


@settings(max_examples=200, deadline=None)
@given(equity=st.lists(st.integers(-(10**8), 10**9).map(lambda cents: cents / 100), min_size=1))
def test_run_metrics_stay_in_their_ranges_on_any_curve(equity: list[float]) -> None:
    curve = EquityCurve(np.array([close_ts(i) for i in range(len(equity))]), np.array(equity))
    m = run_metrics(curve, 1000.0, [], {}, 0.0)
    assert 0.0 <= m.max_drawdown <= 1.0
    assert m.total_return == pytest.approx(equity[-1] / 1000.0 - 1.0)
    assert m.turnover == 0.0
    assert (m.round_trips, m.hit_rate, m.proposals, m.approval_rate) == (0, None, 0, None)


def test_exposure_counts_a_fill_from_the_next_close_on() -> None:
    f = feed(BTC, [10.0, 20.0, 30.0])
    timeline = f.bars.ts_close_ns
    bought = fill("gekko", "buy", "2", "10", "0", int(timeline[0]) + 1)
    value = positions_value([f], [bought], timeline)
    assert value.tolist() == [0.0, 40.0, 60.0]
    assert average_exposure(value, [100.0, 100.0, 120.0]) == pytest.approx((0 + 0.4 + 0.5) / 3)


# ---- decisions and words -----------------------------------------------------------------------
def test_rejections_are_grouped_with_their_numbers_masked() -> None:
    ledger = ProposalLedger()
    reasons = [
        (Decision.REJECTED, "50% of the active weight voted yes; 60% needed"),
        (Decision.REJECTED, "33% of the active weight voted yes; 60% needed"),
        (Decision.REJECTED, "'analysis' is not among gekko's pre-approved strategies"),
        (Decision.MODIFIED, "approved: quantity cut from 1 to 0.03"),
        (Decision.APPROVED, "approved: 100% of the active weight voted yes"),
    ]
    for i, (decision, reason) in enumerate(reasons):
        pid = f"P-{i}"
        proposal = TradingProposal(
            proposal_id=pid, proposer="gekko", proposal_type=ProposalType.BUY,
            instrument_id=BTC, quantity=Decimal(1),
        )  # fmt: skip
        ledger.apply(ProposalSubmitted(ts_event=i, proposal_id=pid, proposal=proposal))
        ledger.apply(
            ProposalDecided(
                ts_event=i, proposal_id=pid, decision=decision, yes_weight=3, total_weight=6,
                quantity=Decimal(0), reason=reason,
            )
        )  # fmt: skip
    stats = decision_stats(ledger.records.values())
    assert stats.proposals == 5
    assert stats.by_decision == {"rejected": 3, "modified": 1, "approved": 1}
    assert stats.by_status == {"rejected": 3, "approved": 2}
    assert stats.rejections == [
        ("50% of the active weight voted yes; 60% needed", 2),
        ("'analysis' is not among gekko's pre-approved strategies", 1),
    ]


@settings(max_examples=100, deadline=None)
@given(final=st.floats(min_value=1.0, max_value=1e7).filter(lambda x: x != 1000.0))
def test_a_losing_run_is_said_to_lose(final: float) -> None:
    curve = EquityCurve(np.array([close_ts(0), close_ts(1)]), np.array([1000.0, final]))
    fills = [fill("gekko", "buy", "1", "100", "0.1", 1)]
    m = run_metrics(curve, 1000.0, fills, {"approved": 1}, 0.1)
    run = buy_and_hold_run([feed(BTC, [1.0, 1.0])], Decimal(1000), Decimal(0))
    ensemble = RunResult("ensemble", "ensemble", ("spot", "gekko"), 1000.0, curve, m)
    sentence = run_sentence(ensemble, run, "USDT")
    assert ("lost" in sentence) == (final < 1000.0)
    assert ("gained" in sentence) == (final > 1000.0)
    assert ("behind buy-and-hold" in sentence) == (final < 1000.0)
