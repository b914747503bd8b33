"""Seed the devnet's DEX pools at the replayed market's prices, with a realistic depth.

The paper session replays BTC/USDT and ETH/USDT; on chain they are WBTC, WETH and USDC (a
dollar is a dollar here: USDT and USD map to USDC). Four pools are seeded: WETH/USDC,
WBTC/USDC, WBTC/WETH and UNI/WETH, on Uniswap V2 and, once the V3 deployment exists, on V3 at
the 0.05 % and 0.3 % tiers. Each holds `depth_usd` of value, half per side: $4M by default, a
mid-size real pool (the week replayed, mainnet's V2 WETH/USDC held far more), deep enough that
a few-thousand-dollar agent trade moves the price by about a basis point, shallow enough that
the deployer's supplies fund every pool. No UNI replay is bundled, so UNI sits at a fixed $30
unless a price is given (UNI traded between $30 and $40 in April 2021).

A pool that already exists is left alone: seeding twice, or after the mirror moved the
prices, changes nothing.
"""

from __future__ import annotations

import functools
import weakref
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from decimal import Decimal
from fractions import Fraction
from typing import Any

from eth_typing import ChecksumAddress
from web3 import Web3
from web3.contract import Contract

from grekko.adapters.devnet.artifacts import load_artifact
from grekko.adapters.devnet.deploy import TOKENS, Deployer, Deployment, dev_account
from grekko.adapters.devnet.paths import ChainError
from grekko.adapters.devnet.pools import ETHER
from grekko.adapters.devnet.pools_v3 import add_v3_pool

DEFAULT_DEPTH_USD = Decimal(4_000_000)
UNI_DEFAULT_USD = Decimal(30)
V2_FEE = 3000  # hundredths of a bip, as V3 spells fee tiers: V2's fixed 0.3 %
V3_FEES = (500, 3000)
DOLLAR = "USDC"
_GAS_MONEY = 100 * ETHER
NO_DEADLINE = 2**256 - 1  # seeding and mirror swaps are mined at once on the devnet

# market asset -> the devnet token that stands for it
INSTRUMENT_TOKENS: Mapping[str, str] = {
    "BTC": "WBTC", "ETH": "WETH", "USDT": "USDC", "USD": "USDC",
    **{token: token for token in ("USDC", "UNI", "WBTC", "WETH")},
}  # fmt: skip


@dataclass(frozen=True)
class PoolPair:
    base: str  # token symbol, priced in quote
    quote: str

    @property
    def symbol(self) -> str:
        return f"{self.base}/{self.quote}"


MARKET_PAIRS: tuple[PoolPair, ...] = (
    PoolPair("WETH", "USDC"), PoolPair("WBTC", "USDC"), PoolPair("WBTC", "WETH"),
    PoolPair("UNI", "WETH"),
)  # fmt: skip


@dataclass(frozen=True)
class MarketPool:
    """One pool on chain, described as a price source needs it (see evm.chain_source)."""

    venue: str  # uniswap_v2 | uniswap_v3
    pair: PoolPair
    address: ChecksumAddress
    base_token: ChecksumAddress
    quote_token: ChecksumAddress
    base_is_token0: bool
    base_decimals: int
    quote_decimals: int
    fee: int  # V3 fee tier; V2_FEE for V2
    created: bool = False  # made by this call, not found

    @property
    def kind(self) -> str:
        return "v3" if self.venue == "uniswap_v3" else "v2"

    @property
    def symbol(self) -> str:
        return self.pair.symbol


# -- pure: names and prices ------------------------------------------------------------------


def pool_token(asset: str) -> str:
    """The devnet token for a market asset: BTC -> WBTC, ETH -> WETH, USDT/USD/USDC -> USDC."""
    token = INSTRUMENT_TOKENS.get(asset.strip().upper())
    if token is None:
        raise ChainError(f"no devnet token stands for {asset!r}: {sorted(INSTRUMENT_TOKENS)}")
    return token


def instrument_pool_tokens(instrument: str) -> tuple[str, str]:
    """'BTC/USDT' (or 'BTC/USDT@binance') -> ('WBTC', 'USDC')."""
    symbol = instrument.split("@", 1)[0]
    base, sep, quote = symbol.partition("/")
    if not sep:
        raise ChainError(f"{instrument!r} is not a BASE/QUOTE instrument")
    return pool_token(base), pool_token(quote.split(":", 1)[0])


def usd_prices(prices: Mapping[str, Decimal]) -> dict[str, Decimal]:
    """Token -> USD price from keys spelled as assets (BTC), tokens (WBTC) or dollar-quoted
    instruments (BTC/USDT). USDC is $1 and UNI its default unless given."""
    usd: dict[str, Decimal] = {DOLLAR: Decimal(1), "UNI": UNI_DEFAULT_USD}
    for key, price in prices.items():
        if "/" in key:
            base, quote = instrument_pool_tokens(key)
            if quote != DOLLAR:
                raise ChainError(f"{key}: only dollar-quoted instruments give a USD price")
        else:
            base = pool_token(key)
        if Decimal(price) <= 0:
            raise ChainError(f"{key}: price {price} is not positive")
        usd[base] = Decimal(price)
    return usd


def pair_price(pair: PoolPair, usd: Mapping[str, Decimal]) -> Fraction:
    """Whole quote tokens per whole base token, exact."""
    missing = [t for t in (pair.base, pair.quote) if t not in usd]
    if missing:
        raise ChainError(f"{pair.symbol}: no USD price for {', '.join(missing)}")
    return Fraction(usd[pair.base]) / Fraction(usd[pair.quote])


def raw_price(price: Fraction, base_decimals: int, quote_decimals: int) -> Fraction:
    """Quote base units per base unit, the ratio a pool's reserves hold."""
    return price * Fraction(10**quote_decimals, 10**base_decimals)


def seed_amounts(
    price: Fraction, base_usd: Decimal, depth_usd: Decimal, base_decimals: int, quote_decimals: int
) -> tuple[int, int]:
    """(base units, quote units) worth `depth_usd` together, in the ratio of `price`."""
    base_units = int(Fraction(depth_usd / 2) / Fraction(base_usd) * 10**base_decimals)
    quote_units = round(base_units * raw_price(price, base_decimals, quote_decimals))
    if base_units <= 0 or quote_units <= 0:
        raise ChainError(f"depth ${depth_usd} is too small for a pool at price {float(price)}")
    return base_units, quote_units


# -- chain -----------------------------------------------------------------------------------


@functools.cache
def _abi(name: str) -> list[dict[str, Any]]:
    """Artifacts are read once per process: a pool's is hundreds of kilobytes of JSON."""
    return load_artifact(name).abi


_CONTRACTS: weakref.WeakKeyDictionary[Web3, dict[tuple[str, str], Contract]] = (
    weakref.WeakKeyDictionary()
)
_DECIMALS: weakref.WeakKeyDictionary[Web3, dict[str, int]] = weakref.WeakKeyDictionary()


def contract(w3: Web3, name: str, address: str) -> Contract:
    """deploy.contract_at, built once per node connection: web3 takes milliseconds to build a
    contract object, more than the call it then makes."""
    known = _CONTRACTS.setdefault(w3, {})
    key = (name, Web3.to_checksum_address(address))
    if key not in known:
        artifact = "GrekkoToken" if name in {t.symbol for t in TOKENS} else name
        known[key] = w3.eth.contract(address=key[1], abi=_abi(artifact))
    return known[key]


def token_address(deployment: Deployment, symbol: str) -> ChecksumAddress:
    name = "WETH9" if symbol == "WETH" else symbol
    if name not in deployment.contracts:
        raise ChainError(f"{symbol} is not deployed on this devnet")
    return deployment.contracts[name]


def token_contract(w3: Web3, deployment: Deployment, symbol: str) -> Contract:
    name = "WETH9" if symbol == "WETH" else symbol
    return contract(w3, name, token_address(deployment, symbol))


def token_decimals(w3: Web3, deployment: Deployment, symbol: str) -> int:
    """Asked once per node connection: a token's decimals never change."""
    known = _DECIMALS.setdefault(w3, {})
    address = token_address(deployment, symbol)
    if address not in known:
        known[address] = int(token_contract(w3, deployment, symbol).functions.decimals().call())
    return known[address]


def _describe(
    w3: Web3, deployment: Deployment, pair: PoolPair, venue: str, address: str, fee: int
) -> MarketPool:
    base = token_address(deployment, pair.base)
    quote = token_address(deployment, pair.quote)
    decimals = [token_decimals(w3, deployment, s) for s in (pair.base, pair.quote)]
    return MarketPool(
        venue=venue,
        pair=pair,
        address=Web3.to_checksum_address(address),
        base_token=base,
        quote_token=quote,
        base_is_token0=int(base, 16) < int(quote, 16),
        base_decimals=decimals[0],
        quote_decimals=decimals[1],
        fee=fee,
    )


def _nonzero(address: str) -> bool:
    return int(address, 16) != 0


def find_v2_pool(w3: Web3, deployment: Deployment, pair: PoolPair) -> MarketPool | None:
    """The pair if it exists and holds liquidity; an empty pair counts as missing."""
    factory = contract(w3, "UniswapV2Factory", deployment.contracts["UniswapV2Factory"])
    base, quote = (token_address(deployment, s) for s in (pair.base, pair.quote))
    address = str(factory.functions.getPair(base, quote).call())
    if not _nonzero(address):
        return None
    reserves = contract(w3, "UniswapV2Pair", address).functions.getReserves().call()
    if not (reserves[0] and reserves[1]):
        return None
    return _describe(w3, deployment, pair, "uniswap_v2", address, V2_FEE)


def find_v3_pool(w3: Web3, deployment: Deployment, pair: PoolPair, fee: int) -> MarketPool | None:
    """The pool at this tier if it exists, is initialized and has liquidity in range."""
    if "UniswapV3Factory" not in deployment.contracts:
        return None
    factory = contract(w3, "UniswapV3Factory", deployment.contracts["UniswapV3Factory"])
    base, quote = (token_address(deployment, s) for s in (pair.base, pair.quote))
    address = str(factory.functions.getPool(base, quote, fee).call())
    if not _nonzero(address):
        return None
    pool = contract(w3, "UniswapV3Pool", address)
    if not (pool.functions.slot0().call()[0] and pool.functions.liquidity().call()):
        return None
    return _describe(w3, deployment, pair, "uniswap_v3", address, fee)


def find_market_pools(
    w3: Web3, deployment: Deployment, v3_fees: Sequence[int] = V3_FEES
) -> list[MarketPool]:
    """Every seeded market pool that exists now, V2 first."""
    found = [find_v2_pool(w3, deployment, pair) for pair in MARKET_PAIRS]
    found += [find_v3_pool(w3, deployment, pair, fee) for pair in MARKET_PAIRS for fee in v3_fees]
    return [pool for pool in found if pool is not None]


def pool_contract(w3: Web3, pool: MarketPool) -> Contract:
    return contract(w3, "UniswapV2Pair" if pool.kind == "v2" else "UniswapV3Pool", pool.address)


def pool_state(w3: Web3, pool: MarketPool) -> tuple[int, int]:
    """V2: (reserve0, reserve1); V3: (sqrtPriceX96, in-range liquidity)."""
    contract = pool_contract(w3, pool)
    if pool.kind == "v2":
        r0, r1, _ = contract.functions.getReserves().call()
        return int(r0), int(r1)
    return int(contract.functions.slot0().call()[0]), int(contract.functions.liquidity().call())


def state_price(pool: MarketPool, state: tuple[int, int]) -> Fraction:
    """Whole quote per whole base at a `pool_state`."""
    if pool.kind == "v2":
        token1_per_token0 = Fraction(state[1], state[0])
    else:
        token1_per_token0 = Fraction(state[0] * state[0], 2**192)
    raw = token1_per_token0 if pool.base_is_token0 else 1 / token1_per_token0
    return raw / Fraction(10**pool.quote_decimals, 10**pool.base_decimals)


def pool_price(w3: Web3, pool: MarketPool) -> Fraction:
    """Whole quote per whole base now: from V2 reserves or the V3 pool's sqrtPriceX96."""
    return state_price(pool, pool_state(w3, pool))


# -- seeding ---------------------------------------------------------------------------------


def ensure_token_balance(
    w3: Web3, deployer: Deployer, deployment: Deployment, symbol: str, units: int
) -> None:
    """WETH is wrapped from ether (anvil_setBalance tops the ether up: a devnet has no scarcity);
    the other tokens' whole supply sits with the deployer, so a shortfall is an error."""
    me = deployer.account.address
    token = token_contract(w3, deployment, symbol)
    short = units - int(token.functions.balanceOf(me).call())
    if short <= 0:
        return
    if symbol != "WETH":
        raise ChainError(f"{me} holds too little {symbol}: {short} base units short")
    balance = int(w3.eth.get_balance(me))
    if balance < short + _GAS_MONEY:
        set_ether_balance(w3, me, balance + short + _GAS_MONEY)
    deployer.call(token, "deposit", value=short)


def set_ether_balance(w3: Web3, address: str, wei: int) -> None:
    w3.provider.make_request("anvil_setBalance", [address, hex(wei)])  # type: ignore[arg-type]


def ensure_allowance(token: Contract, deployer: Deployer, spender: str, units: int) -> None:
    owner = deployer.account.address
    if int(token.functions.allowance(owner, spender).call()) < units:
        deployer.call(token, "approve", spender, 2**256 - 1)


def _seed_v2(
    w3: Web3, deployer: Deployer, deployment: Deployment, seeds: list[tuple[PoolPair, int, int]]
) -> None:
    router = contract(w3, "UniswapV2Router02", deployment.contracts["UniswapV2Router02"])
    needs: dict[str, int] = {}
    for pair, base_units, quote_units in seeds:
        needs[pair.base] = needs.get(pair.base, 0) + base_units
        needs[pair.quote] = needs.get(pair.quote, 0) + quote_units
    for symbol, units in needs.items():
        ensure_token_balance(w3, deployer, deployment, symbol, units)
        ensure_allowance(token_contract(w3, deployment, symbol), deployer, router.address, units)
    me = deployer.account.address
    for pair, base_units, quote_units in seeds:
        base = token_address(deployment, pair.base)
        quote = token_address(deployment, pair.quote)
        args = (base, quote, base_units, quote_units, base_units, quote_units, me, NO_DEADLINE)
        deployer.call(router, "addLiquidity", *args)


def _seed_plan(
    w3: Web3, deployment: Deployment, pair: PoolPair, usd: Mapping[str, Decimal], depth: Decimal
) -> tuple[PoolPair, int, int]:
    decimals = (token_decimals(w3, deployment, s) for s in (pair.base, pair.quote))
    return pair, *seed_amounts(pair_price(pair, usd), usd[pair.base], depth, *decimals)


def seed_market_pools(
    w3: Web3,
    deployment: Deployment,
    prices: Mapping[str, Decimal],
    *,
    depth_usd: Decimal = DEFAULT_DEPTH_USD,
    v3_fees: Sequence[int] = V3_FEES,
) -> list[MarketPool]:
    """Create the market pools that are missing at `prices` (see `usd_prices` for the keys);
    returns every market pool, those found untouched and those created (`created=True`)."""
    usd = usd_prices(prices)
    deployer = Deployer(w3, dev_account())
    missing_v2 = [p for p in MARKET_PAIRS if find_v2_pool(w3, deployment, p) is None]
    if missing_v2:
        plans = [_seed_plan(w3, deployment, p, usd, depth_usd) for p in missing_v2]
        _seed_v2(w3, deployer, deployment, plans)
    created = {("uniswap_v2", p.symbol, V2_FEE) for p in missing_v2}
    if "UniswapV3Factory" in deployment.contracts:
        created |= _seed_v3(w3, deployer, deployment, usd, depth_usd, v3_fees)
    pools = find_market_pools(w3, deployment, v3_fees)
    return [replace(p, created=(p.venue, p.symbol, p.fee) in created) for p in pools]


def _seed_v3(
    w3: Web3,
    deployer: Deployer,
    deployment: Deployment,
    usd: Mapping[str, Decimal],
    depth: Decimal,
    fees: Sequence[int],
) -> set[tuple[str, str, int]]:
    """Full-range positions, so each V3 pool prices like a V2 pool of the same depth."""
    missing = [
        (pair, fee)
        for pair in MARKET_PAIRS
        for fee in fees
        if find_v3_pool(w3, deployment, pair, fee) is None
    ]
    side_weth = (depth / 2 / usd["WETH"]).scaleb(18)
    weth = sum(int(side_weth * Decimal("1.01")) for pair, _ in missing if "WETH" in pair.symbol)
    if weth:  # wrapped up front: add_v3_pool wraps without topping the ether up
        ensure_token_balance(w3, deployer, deployment, "WETH", weth)
    for pair, fee in missing:
        exact = pair_price(pair, usd)
        add_v3_pool(
            w3,
            deployment,
            pair.base,
            pair.quote,
            fee,
            Decimal(exact.numerator) / exact.denominator,
            amount_a_whole=depth / 2 / usd[pair.base],
        )
    return {("uniswap_v3", pair.symbol, fee) for pair, fee in missing}
