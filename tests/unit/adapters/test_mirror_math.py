"""The mirror's arbitrage math, replayed in the integers a Uniswap pool computes in."""

from __future__ import annotations

from fractions import Fraction

import pytest
from hypothesis import given
from hypothesis import strategies as st

from grekko.adapters.devnet.mirror import (
    Q96,
    v2_amount_in_to_price,
    v2_amount_out,
    v2_arbitrage,
    v3_amount_in,
    v3_sqrt_target,
)

ONE_BP = Fraction(1, 10_000)
# raw reserves of real pools: 40 WBTC is 4e9 units, 2M USDC 2e12, 1000 WETH 1e21
reserves = st.integers(min_value=10**8, max_value=10**30)
# a target within a factor of 2 of the pool's price, in basis points of it
moves_bps = st.integers(min_value=5_000, max_value=20_000)


def swap(reserve_in: int, reserve_out: int, amount_in: int) -> tuple[int, int]:
    """The pair's reserves after a swap, as UniswapV2Pair.swap leaves them."""
    out = v2_amount_out(amount_in, reserve_in, reserve_out)
    new_in, new_out = reserve_in + amount_in, reserve_out - out
    # the pair's own check: balances net of the 0.3 % fee keep k
    assert (new_in * 1000 - amount_in * 3) * new_out * 1000 >= reserve_in * reserve_out * 1000**2
    return new_in, new_out


def test_amount_out_is_getamountout_of_the_v2_library() -> None:
    # 1 WETH into 1000 WETH / 2,000,000 USDC: 997 * 2e12 / (1000e18 * 1000 + 997e15)
    assert v2_amount_out(10**18, 1000 * 10**18, 2_000_000 * 10**6) == 1_992_013_962


@given(reserve_base=reserves, reserve_quote=reserves, move=moves_bps)
def test_one_swap_moves_a_pool_to_its_target_within_a_basis_point(
    reserve_base: int, reserve_quote: int, move: int
) -> None:
    target = Fraction(reserve_quote, reserve_base) * Fraction(move, 10_000)
    sell_base, amount = v2_arbitrage(reserve_base, reserve_quote, target)
    if sell_base:
        new_base, new_quote = swap(reserve_base, reserve_quote, amount)
    else:
        new_quote, new_base = swap(reserve_quote, reserve_base, amount)
    assert abs(Fraction(new_quote, new_base) / target - 1) <= ONE_BP
    assert sell_base == (move < 10_000)


@given(reserve_in=reserves, reserve_out=reserves, move=st.integers(5_000, 9_999))
def test_the_swap_never_overshoots_the_target(reserve_in: int, reserve_out: int, move: int) -> None:
    """Every rounding (the root, the input, the pair's output) leaves the price at or above the
    target, never past it: the mirror never sells more than the move needs."""
    target = Fraction(reserve_out, reserve_in) * Fraction(move, 10_000)
    amount = v2_amount_in_to_price(reserve_in, reserve_out, target)
    assert amount > 0
    new_in, new_out = swap(reserve_in, reserve_out, amount)
    assert target <= Fraction(new_out, new_in) <= target * (1 + ONE_BP)


@given(reserve_in=reserves, reserve_out=reserves, move=st.integers(10_000, 20_000))
def test_a_pool_at_or_below_the_target_needs_no_input_of_that_token(
    reserve_in: int, reserve_out: int, move: int
) -> None:
    target = Fraction(reserve_out, reserve_in) * Fraction(move, 10_000)
    assert v2_amount_in_to_price(reserve_in, reserve_out, target) == 0


def test_bad_reserves_or_targets_are_refused() -> None:
    with pytest.raises(ValueError, match="positive"):
        v2_amount_in_to_price(0, 10, Fraction(1))
    with pytest.raises(ValueError, match="positive"):
        v2_amount_in_to_price(10, 10, Fraction(0))


@given(
    numerator=st.integers(1, 10**30),
    denominator=st.integers(1, 10**30),
)
def test_the_v3_limit_is_the_floor_of_the_root_of_the_target(
    numerator: int, denominator: int
) -> None:
    target = Fraction(numerator, denominator)
    root = v3_sqrt_target(target)
    assert Fraction(root * root, 2**192) <= target < Fraction((root + 1) ** 2, 2**192)


@given(
    liquidity=st.integers(10**10, 10**28),
    sqrt_now=st.integers(2**80, 2**110),
    move=moves_bps,
    fee=st.sampled_from([100, 500, 3000, 10_000]),
)
def test_the_v3_input_covers_the_move_and_its_fee(
    liquidity: int, sqrt_now: int, move: int, fee: int
) -> None:
    """Net of the fee, the input pays SqrtPriceMath's delta for the move, within one unit."""
    sqrt_target = v3_sqrt_target(Fraction(sqrt_now * sqrt_now, 2**192) * Fraction(move, 10_000))
    amount = v3_amount_in(liquidity, sqrt_now, sqrt_target, fee)
    if sqrt_target < sqrt_now:  # token0 in: L * (1/target - 1/now)
        needed = Fraction(liquidity * Q96 * (sqrt_now - sqrt_target), sqrt_now * sqrt_target)
    else:  # token1 in: L * (target - now)
        needed = Fraction(liquidity * (sqrt_target - sqrt_now), Q96)
    net = Fraction(amount * (1_000_000 - fee), 1_000_000)
    assert needed <= net < needed + 2
