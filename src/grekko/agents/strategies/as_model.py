"""Avellaneda & Stoikov (2008), "High-frequency trading in a limit order book": the pure math.

Floats, no I/O, no kernel types, so every formula can be checked on its own. The functions are
unit-agnostic: prices may be in any additive unit (the strategy uses percent of log-price),
sigma is in that unit per square root of one time step, kappa in the inverse of that unit,
times are in steps (bars) and the inventory q in lots.

- reservation price   r = s - q * gamma * sigma^2 * (T - t)
- optimal total spread  delta = gamma * sigma^2 * (T - t) + (2 / gamma) * ln(1 + gamma / kappa)
- order arrivals at distance d from the mid: lambda(d) = A * exp(-kappa * d)
"""

from __future__ import annotations

import math
from bisect import bisect_left
from collections.abc import Sequence
from dataclasses import dataclass
from itertools import pairwise

MIN_SIGMA_POINTS = 3  # closes, so two returns: the fewest a sample deviation needs


def log_returns(closes: Sequence[float]) -> list[float]:
    return [math.log(b / a) for a, b in pairwise(closes)]


def log_return_sigma(closes: Sequence[float]) -> float:
    """Per-step volatility: the sample standard deviation of consecutive log returns."""
    if len(closes) < MIN_SIGMA_POINTS:
        raise ValueError(f"sigma needs at least {MIN_SIGMA_POINTS} prices, got {len(closes)}")
    if any(not (c > 0 and math.isfinite(c)) for c in closes):
        raise ValueError("sigma needs positive finite prices")
    rets = log_returns(closes)
    mean = math.fsum(rets) / len(rets)
    var = math.fsum((r - mean) ** 2 for r in rets) / (len(rets) - 1)
    return math.sqrt(var)


@dataclass(frozen=True, slots=True)
class Intensity:
    """Fitted arrival intensity lambda(d) = A exp(-kappa d).

    `fitted` is False when the log-linear least-squares fit was degenerate (too few distinct
    hit probabilities, or a non-decreasing fit) and the moment estimate kappa = 1 / mean
    excursion with A = 1 was used instead: exact for exponential excursions.
    """

    A: float
    kappa: float
    fitted: bool


def hit_probabilities(excursions: Sequence[float], deltas: Sequence[float]) -> list[float]:
    """Share of observations whose excursion reached at least each delta."""
    xs = sorted(excursions)
    n = len(xs)
    if n == 0:
        raise ValueError("no excursions")
    return [(n - bisect_left(xs, d)) / n for d in deltas]


def _quantile(sorted_xs: Sequence[float], q: float) -> float:
    pos = q * (len(sorted_xs) - 1)
    lo = math.floor(pos)
    hi = min(lo + 1, len(sorted_xs) - 1)
    return sorted_xs[lo] + (sorted_xs[hi] - sorted_xs[lo]) * (pos - lo)


def linear_fit(points: Sequence[tuple[float, float]]) -> tuple[float, float] | None:
    """Ordinary least squares y = a + b x: (a, b), or None when x does not vary."""
    n = len(points)
    if n < 2:
        return None
    mx = math.fsum(x for x, _ in points) / n
    my = math.fsum(y for _, y in points) / n
    sxx = math.fsum((x - mx) ** 2 for x, _ in points)
    if sxx <= 0:
        return None
    sxy = math.fsum((x - mx) * (y - my) for x, y in points)
    b = sxy / sxx
    return my - b * mx, b


def fit_intensity(
    excursions: Sequence[float], grid_points: int = 20, max_quantile: float = 0.9
) -> Intensity | None:
    """Estimate A and kappa from the distances price travelled away from a reference.

    For each delta on a grid up to the `max_quantile` excursion (the thin tail beyond it is
    noise), P(delta) is the share of excursions >= delta, the probability that a quote resting
    at delta would have been hit; ln P = ln A - kappa delta is fitted by least squares.
    None when there is nothing to estimate from (no positive excursion at all).
    """
    if grid_points < 2 or not 0 < max_quantile < 1:
        raise ValueError("fit_intensity needs grid_points >= 2 and 0 < max_quantile < 1")
    xs = sorted(e for e in excursions if e >= 0 and math.isfinite(e))
    mean = math.fsum(xs) / len(xs) if xs else 0.0
    if mean <= 0:
        return None
    fitted = _log_linear_fit(xs, grid_points, max_quantile)
    return fitted if fitted is not None else Intensity(1.0, 1.0 / mean, fitted=False)


def _log_linear_fit(xs: Sequence[float], grid_points: int, max_quantile: float) -> Intensity | None:
    """The least-squares fit on sorted excursions, or None when it is degenerate."""
    top = _quantile(xs, max_quantile)
    if top <= 0:
        return None
    deltas = [top * i / grid_points for i in range(1, grid_points + 1)]
    probs = hit_probabilities(xs, deltas)
    points = [(d, math.log(p)) for d, p in zip(deltas, probs, strict=True) if p > 0]
    if len({y for _, y in points}) < 2:
        return None
    fit = linear_fit(points)
    if fit is None:
        return None
    intercept, slope = fit
    if not (-slope > 0 and math.isfinite(slope) and math.isfinite(intercept)):
        return None
    return Intensity(math.exp(intercept), -slope, fitted=True)


def _check(gamma: float, sigma: float, time_left: float) -> None:
    if not gamma > 0:
        raise ValueError(f"gamma must be positive, got {gamma}")
    if sigma < 0 or time_left < 0:
        raise ValueError("sigma and the time left cannot be negative")


def reservation_price(mid: float, q: float, gamma: float, sigma: float, time_left: float) -> float:
    """The price at which holding q more or less is a matter of indifference: below the mid when
    long (eager to sell), above when short, the mid when flat."""
    _check(gamma, sigma, time_left)
    return mid - q * gamma * sigma * sigma * time_left


def optimal_spread(gamma: float, sigma: float, time_left: float, kappa: float) -> float:
    """Total bid-ask distance: an inventory-risk term plus the order-flow term."""
    _check(gamma, sigma, time_left)
    if not kappa > 0:
        raise ValueError(f"kappa must be positive, got {kappa}")
    return gamma * sigma * sigma * time_left + (2.0 / gamma) * math.log1p(gamma / kappa)


def quotes(
    mid: float, q: float, gamma: float, sigma: float, time_left: float, kappa: float
) -> tuple[float, float]:
    """(bid, ask) centred on the reservation price, the optimal spread apart."""
    r = reservation_price(mid, q, gamma, sigma, time_left)
    half = optimal_spread(gamma, sigma, time_left, kappa) / 2.0
    return r - half, r + half
