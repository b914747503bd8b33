"""Backtest analytics: performance metrics of an equity curve and statistics of its fills.

Equity curves are float arrays (vectorised numpy, fast on millions of points); the caller converts
from Decimal at the edge. Trade statistics stay in Decimal, because they are money that must add up
to what the portfolio reports.

Conventions, stated once:
- A per-bar return is the simple return equity[i] / equity[i-1] - 1. A bar whose previous equity
  is not positive has no capital at risk and counts as a zero return.
- Annualisation uses the median bar spacing: periods_per_year = 365 days / median spacing.
- Sharpe = mean / std (ddof=1) * sqrt(periods_per_year), risk-free rate 0. Sortino uses the
  downside deviation sqrt(mean(min(r, 0)^2)) over all bars. Either is 0.0 when undefined: fewer
  than two points, or no dispersion (a deviation that is zero, or below 1e-9 of the mean and
  therefore only floating-point noise around a constant return).
- CAGR compounds the total return over the span of the timestamps (0.0 for a zero span, -1.0
  when equity ends non-positive, inf when a short span would compound past a float).
- Drawdown is the fraction below the running peak of the equity series itself, clipped to [0, 1]
  (equity below zero is a total loss); where the running peak is not positive it is 0.
- Round trips use average cost (the netting of grekko.domain.positions.Position): a fill that
  closes part of a position realizes (price - average entry) * closed quantity; a fill larger
  than the position closes the trip and opens the opposite one with the remainder (a flip).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from decimal import Decimal
from typing import Literal

import numpy as np
import numpy.typing as npt

from grekko.core.errors import DataError
from grekko.core.money import ZERO

NS_PER_YEAR = 365 * 86_400 * 1_000_000_000
_NOISE_RATIO = 1e-9
_MAX_EXP = 709.0  # math.exp overflows above ~709.78

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]


@dataclass(frozen=True, slots=True)
class Metrics:
    """Headline performance of one equity curve; fractions, not percentages."""

    total_return: float
    max_drawdown: float
    max_drawdown_start_ns: int | None  # the peak before the deepest trough; None without drawdown
    max_drawdown_end_ns: int | None  # the deepest trough
    sharpe: float
    sortino: float
    cagr: float
    volatility: float
    n_points: int


@dataclass(frozen=True, slots=True)
class FillRecord:
    """One execution as the analytics see it: no ids, only what PnL needs."""

    ts_ns: int
    side: Literal["buy", "sell"]
    qty: Decimal
    price: Decimal
    fee: Decimal


@dataclass(frozen=True, slots=True)
class TradeStats:
    """Fill and round-trip statistics; a round trip runs from flat through a position back to flat.

    gross_pnl is every realized price PnL (including partial closes of a still-open trip);
    net_pnl = gross_pnl - total_fees. Per-trip figures (win_rate, avg, best, worst) are net of the
    fees of the trip's own fills, a flipping fill's fee split pro rata between the two trips.
    """

    n_fills: int
    n_round_trips: int
    win_rate: float
    total_fees: Decimal
    gross_pnl: Decimal
    net_pnl: Decimal
    avg_trade_pnl: Decimal
    best_trade_pnl: Decimal
    worst_trade_pnl: Decimal
    open_qty: Decimal  # signed position left after the last fill


def _validated(ts_ns: npt.ArrayLike, equity: npt.ArrayLike) -> tuple[IntArray, FloatArray]:
    ts = np.asarray(ts_ns)
    eq = np.asarray(equity, dtype=np.float64)
    if ts.ndim != 1 or eq.ndim != 1:
        raise DataError("timestamps and equity must be one-dimensional arrays")
    if ts.shape != eq.shape:
        raise DataError(f"timestamps ({ts.size}) and equity ({eq.size}) differ in length")
    if eq.size == 0:
        raise DataError("an equity curve needs at least one point")
    if not np.issubdtype(ts.dtype, np.integer):
        raise DataError(f"timestamps must be integer nanoseconds, got dtype {ts.dtype}")
    if not np.all(np.isfinite(eq)):
        raise DataError("equity contains NaN or infinite values")
    ts = ts.astype(np.int64, copy=False)
    if ts.size > 1 and bool(np.any(np.diff(ts) < 0)):
        raise DataError("timestamps must be non-decreasing")
    return ts, eq


def drawdown_series(equity: npt.ArrayLike) -> FloatArray:
    """Fraction below the running peak at each point, in [0, 1]."""
    eq = np.asarray(equity, dtype=np.float64)
    if eq.size == 0:
        return np.zeros(0, dtype=np.float64)
    peak = np.maximum.accumulate(eq)
    positive = peak > 0
    safe_peak = np.where(positive, peak, 1.0)
    drawdown = np.where(positive, (peak - eq) / safe_peak, 0.0)
    return np.clip(drawdown, 0.0, 1.0)


def simple_returns(equity: FloatArray) -> FloatArray:
    """Per-bar simple returns; a bar after non-positive equity returns 0 (nothing at risk)."""
    previous = equity[:-1]
    at_risk = previous > 0
    safe_previous = np.where(at_risk, previous, 1.0)
    return np.where(at_risk, (equity[1:] - previous) / safe_previous, 0.0)


def periods_per_year(ts_ns: IntArray) -> float:
    """How many bars of the median spacing fit in a 365-day year; 0.0 when it is undefined."""
    if ts_ns.size < 2:
        return 0.0
    spacing = float(np.median(np.diff(ts_ns)))
    return NS_PER_YEAR / spacing if spacing > 0 else 0.0


def _is_dispersed(deviation: float, mean: float) -> bool:
    return deviation > 0 and deviation > _NOISE_RATIO * abs(mean)


def _risk_ratios(returns: FloatArray, per_year: float) -> tuple[float, float, float]:
    """(sharpe, sortino, annualised volatility) of per-bar returns."""
    if returns.size < 2 or per_year <= 0:
        return 0.0, 0.0, 0.0
    mean = float(np.mean(returns))
    std = float(np.std(returns, ddof=1))
    downside = float(np.sqrt(np.mean(np.minimum(returns, 0.0) ** 2)))
    scale = float(np.sqrt(per_year))
    sharpe = mean / std * scale if _is_dispersed(std, mean) else 0.0
    sortino = mean / downside * scale if _is_dispersed(downside, mean) else 0.0
    volatility = std * scale if _is_dispersed(std, mean) else 0.0
    return sharpe, sortino, volatility


def _cagr(final: float, initial: float, span_ns: int) -> float:
    if span_ns <= 0:
        return 0.0
    if final <= 0:
        return -1.0
    log_growth_per_year = math.log(final / initial) / (span_ns / NS_PER_YEAR)
    if log_growth_per_year > _MAX_EXP:
        return math.inf  # short spans compound absurdly; say so rather than overflow
    return math.expm1(log_growth_per_year)


def max_drawdown_window(drawdown: FloatArray, equity: FloatArray) -> tuple[int, int]:
    """(peak, trough) indices of the deepest drawdown; the peak is the last visit of that high.

    Both are 0 for an empty or never-falling curve.
    """
    if drawdown.size == 0:
        return 0, 0
    trough = int(np.argmax(drawdown))
    if drawdown[trough] <= 0:
        return 0, 0
    before = equity[: trough + 1]
    return int(np.flatnonzero(before == before.max())[-1]), trough


def compute_metrics(ts_ns: npt.ArrayLike, equity: npt.ArrayLike, initial_equity: float) -> Metrics:
    """Metrics of an equity curve sampled at ts_ns; returns are relative to initial_equity."""
    if not np.isfinite(initial_equity) or initial_equity <= 0:
        raise DataError(f"initial equity must be a positive finite number, got {initial_equity}")
    ts, eq = _validated(ts_ns, equity)
    drawdown = drawdown_series(eq)
    peak, trough = max_drawdown_window(drawdown, eq)
    depth = float(drawdown[trough])
    sharpe, sortino, volatility = _risk_ratios(simple_returns(eq), periods_per_year(ts))
    final = float(eq[-1])
    return Metrics(
        total_return=final / initial_equity - 1.0,
        max_drawdown=depth,
        max_drawdown_start_ns=int(ts[peak]) if depth > 0 else None,
        max_drawdown_end_ns=int(ts[trough]) if depth > 0 else None,
        sharpe=sharpe,
        sortino=sortino,
        cagr=_cagr(final, initial_equity, int(ts[-1] - ts[0])),
        volatility=volatility,
        n_points=int(eq.size),
    )


def _signed_qty(fill: FillRecord) -> Decimal:
    if fill.side not in ("buy", "sell"):
        raise DataError(f"fill side must be 'buy' or 'sell', got {fill.side!r}")
    if not fill.qty > 0 or not fill.price > 0 or not fill.fee.is_finite():
        raise DataError(f"fill needs a positive qty and price and a finite fee: {fill!r}")
    return fill.qty if fill.side == "buy" else -fill.qty


class _RoundTripBook:
    """Walks fills in time order through an average-cost position, closing a trip at flat.

    A closed trip's gross PnL is its cash flow (sells minus buys), which is exact in Decimal;
    the average-cost split only decides what the partial closes of the open trip realized.
    """

    def __init__(self) -> None:
        self.quantity = ZERO  # signed: > 0 long, < 0 short
        self.trip_pnls: list[Decimal] = []
        self._closed_gross = ZERO
        self._entry_cost = ZERO  # sum of qty * price of the open position, always >= 0
        self._trip_cash = ZERO  # sells minus buys of the open trip
        self._trip_realized = ZERO
        self._trip_fees = ZERO

    @property
    def gross(self) -> Decimal:
        return self._closed_gross + self._trip_realized

    def apply(self, fill: FillRecord) -> None:
        signed = _signed_qty(fill)
        held = self.quantity
        if held == 0 or (held > 0) == (signed > 0):
            self.quantity = held + signed
            self._entry_cost += fill.qty * fill.price
            self._trip_cash -= signed * fill.price
            self._trip_fees += fill.fee
            return
        closed = min(fill.qty, abs(held))
        closing_fee = fill.fee if closed == fill.qty else fill.fee * closed / fill.qty
        self.quantity = held + signed
        self._trip_fees += closing_fee
        if closed < abs(held):
            released = self._entry_cost * closed / abs(held)
            self._entry_cost -= released
            self._trip_realized += (fill.price * closed - released) * (1 if held > 0 else -1)
            self._trip_cash += closed * fill.price if held > 0 else -closed * fill.price
            return
        trip_gross = self._trip_cash + held * fill.price
        self.trip_pnls.append(trip_gross - self._trip_fees)
        self._closed_gross += trip_gross
        remainder = fill.qty - closed
        self._entry_cost = remainder * fill.price
        self._trip_cash = -(self.quantity * fill.price)
        self._trip_realized = ZERO
        self._trip_fees = fill.fee - closing_fee


def trade_stats(fills: list[FillRecord]) -> TradeStats:
    """Statistics of fills of one instrument, taken in time order (a stable sort on ts_ns)."""
    book = _RoundTripBook()
    for fill in sorted(fills, key=lambda f: f.ts_ns):
        book.apply(fill)
    trips = book.trip_pnls
    total_fees = sum((f.fee for f in fills), ZERO)
    n_trips = len(trips)
    return TradeStats(
        n_fills=len(fills),
        n_round_trips=n_trips,
        win_rate=sum(1 for pnl in trips if pnl > 0) / n_trips if n_trips else 0.0,
        total_fees=total_fees,
        gross_pnl=book.gross,
        net_pnl=book.gross - total_fees,
        avg_trade_pnl=sum(trips, ZERO) / n_trips if n_trips else ZERO,
        best_trade_pnl=max(trips, default=ZERO),
        worst_trade_pnl=min(trips, default=ZERO),
        open_qty=book.quantity,
    )
