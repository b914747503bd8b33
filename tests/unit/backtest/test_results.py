"""Metrics and trade statistics against hand computations, properties and real market data."""

from __future__ import annotations

import math
import os
import statistics
from decimal import Decimal
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from grekko.backtest.results import (
    NS_PER_YEAR,
    FillRecord,
    compute_metrics,
    drawdown_series,
    periods_per_year,
    trade_stats,
)
from grekko.core.errors import DataError, GrekkoError

HOUR_NS = 3_600 * 10**9
DAY_NS = 24 * HOUR_NS
START_NS = 1_735_689_600 * 10**9  # 2025-01-01T00:00:00Z


def hourly(n: int) -> np.ndarray:
    return START_NS + np.arange(n, dtype=np.int64) * HOUR_NS


def shared_dir() -> Path:
    configured = os.environ.get("GREKKO_SHARED_DIR")
    if configured:
        return Path(configured)
    return Path(__file__).resolve().parents[3] / ".." / "shared"


# --- metrics: hand computations ---------------------------------------------------------------


def test_known_drawdown_series_and_its_span() -> None:
    equity = np.array([100.0, 120.0, 90.0, 110.0, 60.0, 130.0])
    expected = [0.0, 0.0, 30 / 120, 10 / 120, 60 / 120, 0.0]

    np.testing.assert_allclose(drawdown_series(equity), expected)
    metrics = compute_metrics(hourly(6), equity, 100.0)

    assert metrics.max_drawdown == pytest.approx(0.5)
    assert metrics.max_drawdown_start_ns == START_NS + 1 * HOUR_NS  # the 120 peak
    assert metrics.max_drawdown_end_ns == START_NS + 4 * HOUR_NS  # the 60 trough
    assert metrics.total_return == pytest.approx(0.3)
    assert metrics.n_points == 6


def test_drawdown_start_is_the_last_visit_of_the_peak() -> None:
    equity = np.array([100.0, 120.0, 110.0, 120.0, 80.0])

    metrics = compute_metrics(hourly(5), equity, 100.0)

    assert metrics.max_drawdown_start_ns == START_NS + 3 * HOUR_NS
    assert metrics.max_drawdown == pytest.approx(40 / 120)


def test_alternating_returns_match_hand_computed_ratios() -> None:
    returns = [0.10, -0.05, 0.10, -0.05]
    equity = [100.0]
    for r in returns:
        equity.append(equity[-1] * (1 + r))
    per_year = 365 * 24
    mean = statistics.mean(returns)  # 0.025
    stdev = statistics.stdev(returns)  # ddof=1
    downside = math.sqrt(sum(min(r, 0.0) ** 2 for r in returns) / len(returns))

    metrics = compute_metrics(hourly(5), np.array(equity), 100.0)

    assert metrics.sharpe == pytest.approx(mean / stdev * math.sqrt(per_year))
    assert metrics.sortino == pytest.approx(mean / downside * math.sqrt(per_year))
    assert metrics.volatility == pytest.approx(stdev * math.sqrt(per_year))
    assert metrics.sharpe == pytest.approx(0.025 / (0.15 / math.sqrt(3)) * math.sqrt(8760))


def test_constant_return_has_no_dispersion_and_exact_cagr() -> None:
    n = 366
    equity = 100.0 * 1.01 ** np.arange(n)
    ts = START_NS + np.arange(n, dtype=np.int64) * DAY_NS

    metrics = compute_metrics(ts, equity, 100.0)

    assert metrics.sharpe == 0.0
    assert metrics.sortino == 0.0
    assert metrics.volatility == 0.0
    assert metrics.max_drawdown == 0.0
    assert metrics.max_drawdown_start_ns is None
    assert metrics.cagr == pytest.approx(1.01**365 - 1)  # 365 daily steps span one year
    assert metrics.total_return == pytest.approx(1.01**365 - 1)


def test_flat_equity_is_zero_everywhere() -> None:
    metrics = compute_metrics(hourly(50), np.full(50, 1_000.0), 1_000.0)

    assert (metrics.total_return, metrics.max_drawdown, metrics.sharpe) == (0.0, 0.0, 0.0)
    assert (metrics.sortino, metrics.cagr, metrics.volatility) == (0.0, 0.0, 0.0)
    assert metrics.max_drawdown_end_ns is None


def test_single_point() -> None:
    metrics = compute_metrics(np.array([START_NS]), np.array([110.0]), 100.0)

    assert metrics.n_points == 1
    assert metrics.total_return == pytest.approx(0.1)
    assert (metrics.sharpe, metrics.sortino, metrics.volatility, metrics.cagr) == (0, 0, 0, 0)
    assert metrics.max_drawdown == 0.0


def test_annualisation_uses_the_median_spacing_despite_gaps() -> None:
    steps = np.array([HOUR_NS, HOUR_NS, 50 * HOUR_NS, HOUR_NS, HOUR_NS])
    ts = START_NS + np.concatenate(([0], np.cumsum(steps))).astype(np.int64)

    assert periods_per_year(ts) == pytest.approx(365 * 24)
    assert NS_PER_YEAR == 365 * DAY_NS


def test_equity_through_zero_is_a_total_loss_not_more() -> None:
    equity = np.array([100.0, 50.0, -20.0, 10.0])

    assert drawdown_series(equity).tolist() == pytest.approx([0.0, 0.5, 1.0, 0.9])
    metrics = compute_metrics(hourly(4), equity, 100.0)
    assert metrics.max_drawdown == 1.0
    assert metrics.cagr == -1.0


@pytest.mark.parametrize(
    ("ts", "equity", "initial"),
    [
        (np.array([1, 2]), np.array([1.0]), 1.0),
        (np.array([], dtype=np.int64), np.array([]), 1.0),
        (np.array([1, 2]), np.array([1.0, np.nan]), 1.0),
        (np.array([2, 1]), np.array([1.0, 1.0]), 1.0),
        (np.array([1.5, 2.5]), np.array([1.0, 1.0]), 1.0),
        (np.array([1, 2]), np.array([1.0, 1.0]), 0.0),
        (np.array([[1, 2]]), np.array([[1.0, 1.0]]), 1.0),
    ],
    ids=["length", "empty", "nan", "backwards", "float-ts", "zero-initial", "2d"],
)
def test_bad_input_is_a_data_error(ts: np.ndarray, equity: np.ndarray, initial: float) -> None:
    with pytest.raises(DataError):
        compute_metrics(ts, equity, initial)


equity_points = st.lists(
    st.floats(min_value=1e-3, max_value=1e9, allow_nan=False, allow_infinity=False),
    min_size=1,
    max_size=200,
)


@given(values=equity_points, initial=st.floats(min_value=1e-3, max_value=1e9))
@settings(max_examples=200, deadline=None)
def test_metric_properties(values: list[float], initial: float) -> None:
    equity = np.array(values)
    drawdown = drawdown_series(equity)
    metrics = compute_metrics(hourly(len(values)), equity, initial)

    assert np.all(drawdown >= 0)
    assert np.all(drawdown <= 1)
    assert 0.0 <= metrics.max_drawdown <= 1.0
    assert metrics.max_drawdown == pytest.approx(float(drawdown.max()))
    assert metrics.total_return == pytest.approx(values[-1] / initial - 1.0)
    assert all(math.isfinite(x) for x in (metrics.sharpe, metrics.sortino, metrics.volatility))
    if metrics.max_drawdown > 0:
        assert metrics.max_drawdown_start_ns is not None
        assert metrics.max_drawdown_end_ns is not None
        assert metrics.max_drawdown_start_ns < metrics.max_drawdown_end_ns


@pytest.mark.shared
def test_buy_and_hold_btc_matches_pandas() -> None:
    pd = pytest.importorskip("pandas")
    path = shared_dir() / "data" / "ohlcv_binance_2024_2025" / "BTCUSDT_spot_1h.csv.gz"
    if not path.exists():
        pytest.skip(f"shared market data not found at {path}")
    frame = pd.read_csv(path)
    close = frame["close"].astype(float)
    ts = frame["open_time_ms"].to_numpy(np.int64) * 1_000_000
    returns = close.pct_change().dropna()
    pandas_drawdown = (1 - close / close.cummax()).max()

    metrics = compute_metrics(ts, close.to_numpy(), float(close.iloc[0]))

    assert metrics.n_points == len(frame) == 8448
    assert metrics.total_return == pytest.approx(close.iloc[-1] / close.iloc[0] - 1)
    assert metrics.max_drawdown == pytest.approx(pandas_drawdown)
    assert metrics.sharpe == pytest.approx(returns.mean() / returns.std() * math.sqrt(8760))
    assert metrics.volatility == pytest.approx(returns.std() * math.sqrt(8760))


def test_one_million_points() -> None:
    rng = np.random.default_rng(7)
    n = 1_000_000
    equity = 1_000.0 * np.exp(np.cumsum(rng.normal(0.0, 1e-4, n)))
    ts = START_NS + np.arange(n, dtype=np.int64) * 60 * 10**9

    metrics = compute_metrics(ts, equity, 1_000.0)

    assert metrics.n_points == n
    assert periods_per_year(ts) == pytest.approx(365 * 24 * 60)
    assert metrics.max_drawdown == pytest.approx(float(drawdown_series(equity).max()))


# --- trade statistics ---------------------------------------------------------------------------


def fill(ts: int, side: str, qty: str, price: str, fee: str = "0") -> FillRecord:
    return FillRecord(ts, side, Decimal(qty), Decimal(price), Decimal(fee))  # type: ignore[arg-type]


def test_long_win() -> None:
    stats = trade_stats([fill(1, "buy", "2", "100", "1"), fill(2, "sell", "2", "110", "1.5")])

    assert stats.n_fills == 2
    assert stats.n_round_trips == 1
    assert stats.gross_pnl == Decimal("20")
    assert stats.total_fees == Decimal("2.5")
    assert stats.net_pnl == Decimal("17.5")
    assert stats.avg_trade_pnl == stats.best_trade_pnl == stats.worst_trade_pnl == Decimal("17.5")
    assert stats.win_rate == 1.0
    assert stats.open_qty == 0


def test_short_loss() -> None:
    stats = trade_stats([fill(1, "sell", "1.5", "200", "0.3"), fill(2, "buy", "1.5", "210", "0.3")])

    assert stats.n_round_trips == 1
    assert stats.gross_pnl == Decimal("-15.0")
    assert stats.net_pnl == Decimal("-15.6")
    assert stats.worst_trade_pnl == Decimal("-15.6")
    assert stats.win_rate == 0.0


def test_partial_closes_use_average_cost() -> None:
    fills = [
        fill(1, "buy", "1", "100"),
        fill(2, "buy", "1", "120"),  # average entry 110
        fill(3, "sell", "0.5", "130", "1"),  # realizes (130 - 110) * 0.5 = 10
        fill(4, "sell", "1.5", "100", "1"),  # realizes (100 - 110) * 1.5 = -15
    ]
    partial = trade_stats(fills[:3])
    assert partial.n_round_trips == 0
    assert partial.gross_pnl == Decimal("10.0")
    assert partial.open_qty == Decimal("1.5")
    assert partial.best_trade_pnl == 0

    stats = trade_stats(fills)

    assert stats.n_round_trips == 1
    assert stats.gross_pnl == Decimal("-5")  # the cash flow: 65 + 150 - 100 - 120
    assert stats.net_pnl == Decimal("-7")
    assert stats.avg_trade_pnl == Decimal("-7")


def test_flip_closes_one_trip_and_opens_the_other_with_a_split_fee() -> None:
    fills = [
        fill(1, "buy", "1", "100", "1"),
        fill(2, "sell", "3", "110", "3"),  # closes 1 long (+10, fee 1), opens 2 short (fee 2)
        fill(3, "buy", "2", "105", "2"),  # closes the short: (110 - 105) * 2 = +10
    ]

    stats = trade_stats(fills)

    assert stats.n_round_trips == 2
    assert stats.gross_pnl == Decimal("20")
    assert stats.total_fees == Decimal("6")
    assert stats.net_pnl == Decimal("14")
    assert stats.best_trade_pnl == Decimal("8")  # long: 10 - fee 1 - 1/3 of fee 3
    assert stats.worst_trade_pnl == Decimal("6")  # short: 10 - 2/3 of fee 3 - fee 2
    assert stats.avg_trade_pnl == Decimal("7")
    assert stats.win_rate == 1.0


def test_fills_are_taken_in_time_order() -> None:
    stats = trade_stats([fill(2, "sell", "1", "110"), fill(1, "buy", "1", "100")])

    assert stats.gross_pnl == Decimal("10")
    assert stats.n_round_trips == 1


def test_no_fills() -> None:
    stats = trade_stats([])

    assert (stats.n_fills, stats.n_round_trips, stats.win_rate) == (0, 0, 0.0)
    assert stats.net_pnl == stats.best_trade_pnl == stats.avg_trade_pnl == 0


@pytest.mark.parametrize(
    "bad",
    [
        FillRecord(1, "hold", Decimal(1), Decimal(1), Decimal(0)),  # type: ignore[arg-type]
        FillRecord(1, "buy", Decimal(0), Decimal(1), Decimal(0)),
        FillRecord(1, "buy", Decimal(1), Decimal(-1), Decimal(0)),
        FillRecord(1, "buy", Decimal(1), Decimal(1), Decimal("NaN")),
    ],
    ids=["side", "qty", "price", "fee"],
)
def test_bad_fill_is_a_data_error(bad: FillRecord) -> None:
    with pytest.raises(GrekkoError, match="fill"):
        trade_stats([bad])


fill_steps = st.lists(
    st.tuples(
        st.sampled_from(["buy", "sell"]),
        st.integers(min_value=1, max_value=500).map(lambda q: Decimal(q) / 100),
        st.integers(min_value=100, max_value=100_000).map(lambda p: Decimal(p) / 100),
        st.integers(min_value=0, max_value=100).map(lambda f: Decimal(f) / 1000),
    ),
    min_size=1,
    max_size=60,
)


@given(steps=fill_steps, close_price=st.integers(min_value=100, max_value=100_000))
@settings(max_examples=200, deadline=None)
def test_round_trips_add_up_to_the_cash_flow_exactly(
    steps: list[tuple[str, Decimal, Decimal, Decimal]], close_price: int
) -> None:
    fills = [FillRecord(i, side, qty, px, fee) for i, (side, qty, px, fee) in enumerate(steps)]  # type: ignore[arg-type]
    open_qty = sum((q if s == "buy" else -q for s, q, _, _ in steps), Decimal(0))
    if open_qty != 0:
        side = "sell" if open_qty > 0 else "buy"
        fills.append(FillRecord(len(fills), side, abs(open_qty), Decimal(close_price), Decimal(0)))  # type: ignore[arg-type]
    cash_flow = sum((f.qty * f.price * (1 if f.side == "sell" else -1) for f in fills), Decimal(0))

    stats = trade_stats(fills)

    assert stats.open_qty == 0
    assert stats.gross_pnl == cash_flow
    assert stats.net_pnl == cash_flow - sum((f.fee for f in fills), Decimal(0))
    assert stats.avg_trade_pnl * stats.n_round_trips == pytest.approx(stats.net_pnl)
    assert stats.worst_trade_pnl <= stats.avg_trade_pnl <= stats.best_trade_pnl
    assert 0.0 <= stats.win_rate <= 1.0
    assert stats.n_round_trips >= 1


def test_forty_thousand_fills() -> None:
    fills = [
        fill(i, "buy" if i % 2 == 0 else "sell", "0.1", str(100 + (i % 7)), "0.01")
        for i in range(40_000)
    ]

    stats = trade_stats(fills)

    assert stats.n_round_trips == 20_000
    assert stats.total_fees == Decimal("400.00")
    assert stats.open_qty == 0
