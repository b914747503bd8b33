"""Seed Uniswap V3 pools on the devnet through the real NonfungiblePositionManager.

A V3 pool keeps its price as sqrt(raw token1 per raw token0) in Q64.96 fixed point, token0 being
the lower address, so a human price in whole tokens must be turned around for the ordering and
shifted by both tokens' decimals before it is rooted. That is done in exact rational arithmetic:
floor(sqrt(x)) == isqrt(floor(x)), so the initial sqrtPriceX96 is the exact floor, never a float.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal, localcontext
from fractions import Fraction

from eth_typing import ChecksumAddress
from web3 import Web3
from web3.contract import Contract

from grekko.adapters.devnet.deploy import Deployer, Deployment, contract_at, dev_account
from grekko.adapters.devnet.paths import ChainError

Q96 = 2**96
MIN_TICK, MAX_TICK = -887_272, 887_272
# TickMath.MIN_SQRT_RATIO / MAX_SQRT_RATIO: the prices a pool can be initialized at
MIN_SQRT_RATIO = 4_295_128_739
MAX_SQRT_RATIO = 1_461_446_703_485_210_103_287_273_052_203_988_822_378_723_970_342
_PRECISION = 80
_TICK_BASE = Decimal("1.0001")
_ALIASES = {"WETH": "WETH9"}


def _raw_price(price: Decimal | Fraction, decimals0: int, decimals1: int) -> Fraction:
    return Fraction(price) * Fraction(10) ** (decimals1 - decimals0)


def sqrt_price_x96(price: Decimal | Fraction, decimals0: int, decimals1: int) -> int:
    """floor(sqrt(price in raw units) * 2**96) for `price` in whole token1 per whole token0."""
    if price <= 0:
        raise ValueError(f"a pool price must be positive, got {price}")
    scaled = _raw_price(price, decimals0, decimals1) * 2**192
    root = math.isqrt(scaled.numerator // scaled.denominator)
    if not MIN_SQRT_RATIO <= root < MAX_SQRT_RATIO:
        raise ValueError(f"price {price} is outside what a Uniswap V3 pool can hold")
    return root


def price_from_sqrt_price_x96(sqrt_price: int, decimals0: int, decimals1: int) -> Decimal:
    """Whole token1 per whole token0 at a pool's sqrtPriceX96, to 80 significant digits."""
    raw = Fraction(sqrt_price * sqrt_price, 2**192) * Fraction(10) ** (decimals0 - decimals1)
    with localcontext() as ctx:
        ctx.prec = _PRECISION
        return Decimal(raw.numerator) / Decimal(raw.denominator)


def tick_at_sqrt_price(sqrt_price: int) -> int:
    """The greatest tick whose price is at or below this one, as TickMath.getTickAtSqrtRatio."""
    with localcontext() as ctx:
        ctx.prec = _PRECISION
        raw = (Decimal(sqrt_price) / Q96) ** 2
        tick = int((raw.ln() / _TICK_BASE.ln()).to_integral_value(rounding=ROUND_FLOOR))
    while sqrt_ratio_at_tick(tick + 1) <= sqrt_price:  # guards the log's last digit
        tick += 1
    while sqrt_ratio_at_tick(tick) > sqrt_price:
        tick -= 1
    return tick


def sqrt_ratio_at_tick(tick: int) -> int:
    """sqrt(1.0001**tick) * 2**96, rounded up like TickMath (to within its own last bits)."""
    with localcontext() as ctx:
        ctx.prec = _PRECISION
        ratio = _TICK_BASE ** (Decimal(tick) / 2) * Q96
        return int(ratio.to_integral_value(rounding=ROUND_CEILING))


def tick_range(
    current_tick: int, spacing: int, range_pct: Decimal | None = None
) -> tuple[int, int]:
    """Usable ticks on the spacing: the full range, or about ±range_pct % around current_tick."""
    lowest, highest = -(MAX_TICK // spacing) * spacing, (MAX_TICK // spacing) * spacing
    if range_pct is None:
        return lowest, highest
    if not 0 < range_pct < 100:
        raise ValueError(f"range_pct must be within (0, 100), got {range_pct}")
    with localcontext() as ctx:
        ctx.prec = _PRECISION
        below = (1 - range_pct / 100).ln() / _TICK_BASE.ln()
        above = (1 + range_pct / 100).ln() / _TICK_BASE.ln()
    lower = (current_tick + math.floor(below)) // spacing * spacing
    upper = -(-(current_tick + math.ceil(above)) // spacing) * spacing
    return max(lower, lowest), min(max(upper, lower + spacing), highest)


@dataclass(frozen=True)
class _Position:
    sqrt_price: int
    sqrt_lower: int
    sqrt_upper: int

    def liquidity(self, amount0: int | None, amount1: int | None) -> int:
        """The most liquidity the given amounts pay for (LiquidityAmounts, price in range)."""
        p, a, b = self.sqrt_price, self.sqrt_lower, self.sqrt_upper
        options = []
        if amount0 is not None:
            options.append(amount0 * (p * b // Q96) // (b - p))
        if amount1 is not None:
            options.append(amount1 * Q96 // (p - a))
        if not options:
            raise ValueError("give amount_a_whole, amount_b_whole or both")
        return min(options)

    def amounts(self, liquidity: int) -> tuple[int, int]:
        """What `liquidity` costs in each token, rounded up, with a margin for TickMath rounding."""
        p, a, b = self.sqrt_price, self.sqrt_lower, self.sqrt_upper
        amount0 = -(-liquidity * Q96 * (b - p) // b // p)
        amount1 = -(-liquidity * (p - a) // Q96)
        return amount0 + amount0 // 10**6 + 1, amount1 + amount1 // 10**6 + 1


def _base_units(amount: Decimal | None, decimals: int) -> int | None:
    return None if amount is None else int(amount.scaleb(decimals))


def _fund(deployer: Deployer, token: Contract, is_weth: bool, amount: int, spender: str) -> None:
    """Top the dev account up to `amount` (wrap ether or mint) and approve the manager for it."""
    me = deployer.account.address
    short = amount - int(token.functions.balanceOf(me).call())
    if short > 0 and is_weth:
        deployer.call(token, "deposit", value=short)
    elif short > 0:
        deployer.call(token, "mint", me, short)
    deployer.call(token, "approve", spender, amount)


def add_v3_pool(
    w3: Web3,
    deployment: Deployment,
    token_a_symbol: str,
    token_b_symbol: str,
    fee: int,
    price: Decimal,
    *,
    amount_a_whole: Decimal | None = None,
    amount_b_whole: Decimal | None = None,
    liquidity: int | None = None,
    range_pct: Decimal | None = None,
) -> ChecksumAddress:
    """Create and initialize the pool at `price` (whole token_b per whole token_a) unless it
    exists, then mint a position from the dev account over the full range or ±range_pct %.

    Give one amount and the other is what that position needs at the pool's price; give both and
    the position is the most liquidity both pay for; or give the position's `liquidity` (L) and
    pay what it costs. A pool that already existed keeps its price.
    """
    if (liquidity is None) == (amount_a_whole is None and amount_b_whole is None):
        raise ValueError("give amount_a_whole and/or amount_b_whole, or liquidity")
    names = [_ALIASES.get(s, s) for s in (token_a_symbol, token_b_symbol)]
    tokens = [contract_at(w3, n, deployment.contracts[n]) for n in names]
    decimals = [int(t.functions.decimals().call()) for t in tokens]
    amounts = [_base_units(amount_a_whole, decimals[0]), _base_units(amount_b_whole, decimals[1])]
    flip = int(tokens[0].address, 16) > int(tokens[1].address, 16)
    price0 = 1 / Fraction(price) if flip else Fraction(price)
    if flip:
        tokens, decimals, amounts = tokens[::-1], decimals[::-1], amounts[::-1]
    pool = _create_pool(w3, deployment, tokens, fee, sqrt_price_x96(price0, *decimals))
    _mint(w3, deployment, tokens, pool, (amounts, liquidity), range_pct)
    return pool.address


def _create_pool(
    w3: Web3, deployment: Deployment, tokens: list[Contract], fee: int, sqrt_price: int
) -> Contract:
    factory = contract_at(w3, "UniswapV3Factory", deployment.contracts["UniswapV3Factory"])
    if int(factory.functions.feeAmountTickSpacing(fee).call()) == 0:
        raise ChainError(f"fee tier {fee} is not enabled on the Uniswap V3 factory")
    manager = contract_at(
        w3, "NonfungiblePositionManager", deployment.contracts["NonfungiblePositionManager"]
    )
    t0, t1 = (t.address for t in tokens)
    Deployer(w3, dev_account()).call(
        manager, "createAndInitializePoolIfNecessary", t0, t1, fee, sqrt_price
    )
    return contract_at(w3, "UniswapV3Pool", factory.functions.getPool(t0, t1, fee).call())


def _mint(
    w3: Web3,
    deployment: Deployment,
    tokens: list[Contract],
    pool: Contract,
    budget: tuple[list[int | None], int | None],
    range_pct: Decimal | None,
) -> None:
    sqrt_price, tick = (int(x) for x in pool.functions.slot0().call()[:2])
    lower, upper = tick_range(tick, int(pool.functions.tickSpacing().call()), range_pct)
    position = _Position(sqrt_price, sqrt_ratio_at_tick(lower), sqrt_ratio_at_tick(upper))
    if not position.sqrt_lower < sqrt_price < position.sqrt_upper:
        raise ChainError(f"the pool's price (tick {tick}) lies outside ticks {lower}..{upper}")
    (given0, given1), liquidity = budget
    need0, need1 = position.amounts(liquidity or position.liquidity(given0, given1))
    desired = (need0 if given0 is None else given0, need1 if given1 is None else given1)
    deployer = Deployer(w3, dev_account())
    manager = deployment.contracts["NonfungiblePositionManager"]
    for token, amount in zip(tokens, desired, strict=True):
        _fund(deployer, token, token.address == deployment.contracts["WETH9"], amount, manager)
    deadline = int(w3.eth.get_block("latest")["timestamp"]) + 3_600
    params = (
        *(t.address for t in tokens),
        int(pool.functions.fee().call()),
        lower,
        upper,
        *desired,
        0,
        0,
        deployer.account.address,
        deadline,
    )
    npm = contract_at(w3, "NonfungiblePositionManager", manager)
    deployer.call(npm, "mint", params)
