"""Uniswap V3 price math against the fixed points every V3 deployment agrees on."""

from __future__ import annotations

import math
from decimal import Decimal
from fractions import Fraction

import pytest
from hypothesis import given
from hypothesis import strategies as st

from grekko.adapters.devnet.pools_v3 import (
    MAX_SQRT_RATIO,
    MAX_TICK,
    MIN_SQRT_RATIO,
    MIN_TICK,
    price_from_sqrt_price_x96,
    sqrt_price_x96,
    sqrt_ratio_at_tick,
    tick_at_sqrt_price,
    tick_range,
)

Q96 = 2**96


def test_price_one_with_equal_decimals_is_two_to_the_96() -> None:
    assert sqrt_price_x96(Decimal(1), 18, 18) == Q96
    assert price_from_sqrt_price_x96(Q96, 18, 18) == 1


def test_weth_usdc_at_2000_is_the_well_known_value() -> None:
    """WETH (18) as token0, USDC (6) as token1 at 2000 USDC per WETH: raw price 2000e-12."""
    expected = math.isqrt(2000 * 2**192 // 10**12)
    assert sqrt_price_x96(Decimal(2000), 18, 6) == expected
    assert abs(price_from_sqrt_price_x96(expected, 18, 6) - 2000) < Decimal("1e-20")


def test_usdc_weth_the_other_way_round_is_the_reciprocal_root() -> None:
    """USDC (6) as token0 at 0.0005 WETH per USDC: raw price 0.0005e12 = 5e8."""
    assert sqrt_price_x96(Decimal("0.0005"), 6, 18) == math.isqrt(5 * 10**8 * 2**192)


def test_sqrt_price_is_the_exact_floor() -> None:
    """A price no float holds exactly: the root is floored, not rounded to nearest."""
    price = Decimal("60000.123456789")
    root = sqrt_price_x96(price, 8, 6)
    raw = Fraction(price) * Fraction(1, 100)
    assert Fraction(root, Q96) ** 2 <= raw < Fraction(root + 1, Q96) ** 2


@given(
    price=st.decimals(min_value=Decimal("1e-12"), max_value=Decimal("1e12"), places=12),
    decimals0=st.sampled_from([0, 6, 8, 18]),
    decimals1=st.sampled_from([0, 6, 8, 18]),
)
def test_the_root_is_floored_and_the_round_trip_loses_only_its_last_unit(
    price: Decimal, decimals0: int, decimals1: int
) -> None:
    root = sqrt_price_x96(price, decimals0, decimals1)
    raw = Fraction(price) * Fraction(10) ** (decimals1 - decimals0)
    assert Fraction(root, Q96) ** 2 <= raw < Fraction(root + 1, Q96) ** 2
    back = price_from_sqrt_price_x96(root, decimals0, decimals1)
    assert back <= price
    assert (price - back) / price <= Decimal(3) / root  # (r+1)^2 / r^2 - 1 < 3 / r


def test_prices_a_pool_cannot_hold_are_refused() -> None:
    with pytest.raises(ValueError, match="positive"):
        sqrt_price_x96(Decimal(0), 18, 18)
    with pytest.raises(ValueError, match="outside"):
        sqrt_price_x96(Decimal("1e40"), 18, 18)
    with pytest.raises(ValueError, match="outside"):
        sqrt_price_x96(Decimal("1e-40"), 18, 18)


def test_tick_math_matches_tickmath_at_its_bounds_and_at_zero() -> None:
    """TickMath's constants: MIN_SQRT_RATIO at MIN_TICK, MAX_SQRT_RATIO at MAX_TICK (TickMath's
    fixed-point products are themselves off by a few parts in 1e20 at the top)."""
    assert sqrt_ratio_at_tick(0) == Q96
    assert abs(sqrt_ratio_at_tick(MIN_TICK) - MIN_SQRT_RATIO) <= 1
    assert abs(sqrt_ratio_at_tick(MAX_TICK) - MAX_SQRT_RATIO) / MAX_SQRT_RATIO < 1e-19
    assert tick_at_sqrt_price(MIN_SQRT_RATIO) == MIN_TICK
    assert tick_at_sqrt_price(Q96) == 0
    assert tick_at_sqrt_price(Q96 - 1) == -1


def test_weth_usdc_at_2000_sits_at_tick_minus_200312() -> None:
    """floor(log_1.0001(2000e-12)) = floor(-200311.5...)."""
    assert tick_at_sqrt_price(sqrt_price_x96(Decimal("0.0005"), 6, 18)) == 200311
    assert tick_at_sqrt_price(sqrt_price_x96(Decimal(2000), 18, 6)) == -200312


def test_full_range_is_the_widest_multiple_of_the_spacing() -> None:
    assert tick_range(-200312, 10) == (-887270, 887270)
    assert tick_range(0, 60) == (-887220, 887220)
    assert tick_range(5, 200) == (-887200, 887200)


def test_a_percent_range_brackets_the_price_on_the_spacing() -> None:
    lower, upper = tick_range(52983, 60, Decimal(10))
    assert lower % 60 == 0
    assert upper % 60 == 0
    assert 1.0001**lower <= 1.0001**52983 * 0.9
    assert 1.0001**upper >= 1.0001**52983 * 1.1
    assert 1.0001 ** (lower + 60) > 1.0001**52983 * 0.9  # no wider than the spacing demands
    with pytest.raises(ValueError, match="range_pct"):
        tick_range(0, 60, Decimal(100))
