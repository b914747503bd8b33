"""The Avellaneda-Stoikov formulas: properties that hold for any inputs, and the intensity fit
recovering known parameters from synthetic exponential excursions."""

from __future__ import annotations

import itertools
import math
import random
import statistics

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from grekko.agents.strategies import as_model

positive = st.floats(min_value=1e-3, max_value=1e3, allow_nan=False, allow_infinity=False)
gammas = st.floats(min_value=1e-3, max_value=10.0)
sigmas = st.floats(min_value=1e-4, max_value=10.0)
times = st.floats(min_value=0.5, max_value=1000.0)
kappas = st.floats(min_value=1e-2, max_value=1e3)
mids = st.floats(min_value=1.0, max_value=1e6)
lots = st.floats(min_value=-50.0, max_value=50.0)


@given(st.lists(st.floats(min_value=1.0, max_value=1e5), min_size=3, max_size=80))
def test_sigma_is_the_sample_deviation_of_log_returns(closes: list[float]) -> None:
    reference = statistics.stdev(math.log(b / a) for a, b in itertools.pairwise(closes))
    assert as_model.log_return_sigma(closes) == pytest.approx(reference, rel=1e-9, abs=1e-12)


@given(st.lists(st.floats(min_value=1.0, max_value=1e4), min_size=3, max_size=40), positive)
def test_sigma_ignores_the_price_scale(closes: list[float], scale: float) -> None:
    scaled = [c * scale for c in closes]
    assert as_model.log_return_sigma(scaled) == pytest.approx(
        as_model.log_return_sigma(closes), rel=1e-6, abs=1e-9
    )


def test_sigma_of_steady_growth_is_zero_and_short_input_is_refused() -> None:
    assert as_model.log_return_sigma([100 * 1.01**i for i in range(30)]) == pytest.approx(
        0.0, abs=1e-12
    )
    with pytest.raises(ValueError, match="at least"):
        as_model.log_return_sigma([1.0, 2.0])
    with pytest.raises(ValueError, match="positive"):
        as_model.log_return_sigma([1.0, 0.0, 2.0])


@given(gammas, sigmas, times, kappas)
def test_spread_is_positive_and_exceeds_its_flow_term(
    gamma: float, sigma: float, time_left: float, kappa: float
) -> None:
    spread = as_model.optimal_spread(gamma, sigma, time_left, kappa)
    flow = (2 / gamma) * math.log1p(gamma / kappa)
    assert spread > 0
    assert spread >= flow
    assert spread - flow == pytest.approx(gamma * sigma**2 * time_left, rel=1e-9, abs=1e-12)


@given(gammas, sigmas, times, kappas, st.floats(min_value=1.01, max_value=10.0))
def test_spread_grows_with_variance_over_the_horizon(
    gamma: float, sigma: float, time_left: float, kappa: float, factor: float
) -> None:
    """gamma fixed: more variance or more time left means a wider spread."""
    base = as_model.optimal_spread(gamma, sigma, time_left, kappa)
    assert as_model.optimal_spread(gamma, sigma * factor, time_left, kappa) > base
    assert as_model.optimal_spread(gamma, sigma, time_left * factor, kappa) > base


@given(gammas, sigmas, times, kappas, st.floats(min_value=1.01, max_value=10.0))
def test_spread_narrows_with_more_order_flow(
    gamma: float, sigma: float, time_left: float, kappa: float, factor: float
) -> None:
    """A larger kappa means fills fall off faster with distance: quote closer."""
    assert as_model.optimal_spread(gamma, sigma, time_left, kappa * factor) < (
        as_model.optimal_spread(gamma, sigma, time_left, kappa)
    )


@given(mids, lots, gammas, sigmas, times)
def test_reservation_sits_against_the_inventory(
    mid: float, q: float, gamma: float, sigma: float, time_left: float
) -> None:
    r = as_model.reservation_price(mid, q, gamma, sigma, time_left)
    shift = q * gamma * sigma**2 * time_left
    if shift > 1e-9 * mid:
        assert r < mid
    elif shift < -1e-9 * mid:
        assert r > mid
    assert as_model.reservation_price(mid, 0.0, gamma, sigma, time_left) == mid
    twice = as_model.reservation_price(mid, 2 * q, gamma, sigma, time_left)
    assert twice - mid == pytest.approx(2 * (r - mid), rel=1e-9, abs=1e-6)


@given(mids, lots, gammas, sigmas, times, kappas)
def test_quotes_straddle_the_reservation_one_spread_apart(
    mid: float, q: float, gamma: float, sigma: float, time_left: float, kappa: float
) -> None:
    bid, ask = as_model.quotes(mid, q, gamma, sigma, time_left, kappa)
    r = as_model.reservation_price(mid, q, gamma, sigma, time_left)
    spread = as_model.optimal_spread(gamma, sigma, time_left, kappa)
    assert bid < ask
    assert ask - r == pytest.approx(r - bid, rel=1e-6, abs=1e-6)
    assert ask - bid == pytest.approx(spread, rel=1e-6, abs=1e-6)


def test_invalid_model_inputs_are_refused() -> None:
    with pytest.raises(ValueError, match="gamma"):
        as_model.optimal_spread(0.0, 1.0, 1.0, 1.0)
    with pytest.raises(ValueError, match="kappa"):
        as_model.optimal_spread(0.1, 1.0, 1.0, 0.0)
    with pytest.raises(ValueError, match="negative"):
        as_model.reservation_price(100.0, 1.0, 0.1, -1.0, 1.0)


@settings(max_examples=40, deadline=None)
@given(st.floats(min_value=0.05, max_value=500.0), st.integers(0, 2**32 - 1))
def test_fit_recovers_kappa_from_exponential_excursions(kappa: float, seed: int) -> None:
    rng = random.Random(seed)
    excursions = [rng.expovariate(kappa) for _ in range(4000)]
    fit = as_model.fit_intensity(excursions)
    assert fit is not None
    assert fit.fitted
    assert fit.kappa == pytest.approx(kappa, rel=0.15)  # about 6 standard errors at n=4000
    amplitude = fit.A
    assert amplitude == pytest.approx(1.0, rel=0.1)


@settings(max_examples=25, deadline=None)
@given(
    st.floats(min_value=0.5, max_value=50.0),
    st.floats(min_value=0.05, max_value=0.6),
    st.integers(0, 2**32 - 1),
)
def test_fit_recovers_A_below_one_when_many_bars_never_move(
    kappa: float, still: float, seed: int
) -> None:
    """Bars whose high equals their open never reach any quote: P starts below 1, A captures it."""
    rng = random.Random(seed)
    excursions = [0.0 if rng.random() < still else rng.expovariate(kappa) for _ in range(6000)]
    fit = as_model.fit_intensity(excursions)
    assert fit is not None
    assert fit.kappa == pytest.approx(kappa, rel=0.15)
    amplitude = fit.A
    assert amplitude == pytest.approx(1.0 - still, rel=0.12)


@given(
    st.lists(st.floats(min_value=0.0, max_value=100.0), min_size=5, max_size=200),
    st.integers(min_value=-8, max_value=8),
)
def test_fit_is_equivariant_in_the_price_unit(excursions: list[float], power: int) -> None:
    """Measuring distances in another unit divides kappa by the same factor; A is unitless.
    Powers of two scale floats exactly, so no grid comparison flips on rounding."""
    scale = 2.0**power
    base = as_model.fit_intensity(excursions)
    scaled = as_model.fit_intensity([e * scale for e in excursions])
    assert (base is None) == (scaled is None)
    if base is not None and scaled is not None:
        assert scaled.fitted == base.fitted
        assert scaled.kappa == pytest.approx(base.kappa / scale, rel=1e-6)
        amplitudes = (scaled.A, base.A)
        assert amplitudes[0] == pytest.approx(amplitudes[1], rel=1e-6)


def test_degenerate_excursions_fall_back_or_give_nothing() -> None:
    assert as_model.fit_intensity([]) is None
    assert as_model.fit_intensity([0.0] * 50) is None
    # every bar moved exactly the same distance: one hit probability, no slope to fit
    same = as_model.fit_intensity([0.4] * 50)
    assert same == as_model.Intensity(1.0, 1 / 0.4, fitted=False)
    # almost all still: the 90 % quantile is 0 and the moment estimate is used
    mostly_still = as_model.fit_intensity([0.0] * 95 + [1.0] * 5)
    assert mostly_still is not None
    assert not mostly_still.fitted
    assert mostly_still.kappa == pytest.approx(1 / 0.05)


@given(
    st.lists(st.floats(min_value=0.0, max_value=10.0), min_size=1, max_size=100),
    st.lists(st.floats(min_value=0.0, max_value=10.0), min_size=2, max_size=20),
)
def test_hit_probability_falls_with_distance(excursions: list[float], deltas: list[float]) -> None:
    ordered = sorted(deltas)
    probs = as_model.hit_probabilities(excursions, ordered)
    assert all(0 <= p <= 1 for p in probs)
    assert all(a >= b for a, b in itertools.pairwise(probs))
    for d, p in zip(ordered, probs, strict=True):
        assert p == sum(e >= d for e in excursions) / len(excursions)
