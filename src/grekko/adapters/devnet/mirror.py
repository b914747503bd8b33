"""Keep the devnet's pools at the replayed market's prices, as arbitrageurs keep mainnet's.

Each `align` moves every pool that is off its target by one swap from a maker account (anvil dev
account 1): on V2 the exact input that takes a constant-product pool with the 0.3 % fee from its
reserves to the target ratio, solved in integers as the pair computes; on V3 an exactInputSingle
through SwapRouter whose sqrtPriceLimitX96 is the target, so the pool itself stops there. A pool
within `tolerance_bps` is left alone: an unchanged bar sends nothing.

The swaps are real trades, so the watchers and agents see them as market flow. The maker is funded
from dev account 0 (transfers, or mints: it owns the tokens) and with ether by anvil_setBalance;
this is a devnet-only tool signing with anvil's public test keys.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from fractions import Fraction
from typing import Any, cast

from eth_typing import ChecksumAddress
from web3 import Web3
from web3.contract import Contract

from grekko.adapters.devnet.deploy import Deployer, Deployment, dev_account
from grekko.adapters.devnet.market_pools import (
    NO_DEADLINE,
    MarketPool,
    contract,
    ensure_allowance,
    find_market_pools,
    pair_price,
    pool_contract,
    raw_price,
    set_ether_balance,
    state_price,
    token_contract,
    usd_prices,
)
from grekko.adapters.devnet.paths import ChainError
from grekko.adapters.devnet.pools import ETHER
from grekko.adapters.devnet.pools_v3 import MAX_SQRT_RATIO, MIN_SQRT_RATIO

FEE_KEPT, FEE_BASE = 997, 1000  # a V2 pair keeps 0.3 % of every input
V3_FEE_BASE = 1_000_000
Q96 = 2**96
BPS = 10_000
DEFAULT_TOLERANCE_BPS = Decimal(2)
FUNDING_SHARE = Fraction(1, 10)  # the maker holds this share of each token's pooled amount
_MAKER_ETHER = 10_000 * ETHER
SWAP_GAS = 1_500_000  # a swap through one pool needs a tenth of it; the rest is refunded
V2_SYNC_TOPIC = bytes(Web3.keccak(text="Sync(uint112,uint112)"))
V3_SWAP_TOPIC = bytes(Web3.keccak(text="Swap(address,address,int256,int256,uint160,uint128,int24)"))

# -- pure math -------------------------------------------------------------------------------


def v2_amount_out(amount_in: int, reserve_in: int, reserve_out: int) -> int:
    """UniswapV2Library.getAmountOut: what the pair pays for `amount_in`."""
    kept = amount_in * FEE_KEPT
    return kept * reserve_out // (reserve_in * FEE_BASE + kept)


def v2_amount_in_to_price(reserve_in: int, reserve_out: int, target: Fraction) -> int:
    """The input that leaves reserve_out / reserve_in at `target` (raw out per raw in).

    With x, y the reserves and a the input, the pair ends at (x + a, x*y / (x + 0.997 a)), so
    target * (x + a) * (x + 0.997 a) = x*y; times 1000 that is the quadratic
    997 a^2 + 1997 x a + 1000 x^2 - 1000 x y / target = 0, whose discriminant simplifies to
    9 x^2 + 3_988_000 x y / target. Zero when the pool is already at or below the target.
    """
    if reserve_in <= 0 or reserve_out <= 0 or target <= 0:
        raise ValueError("reserves and the target must be positive")
    if Fraction(reserve_out, reserve_in) <= target:
        return 0
    x, y, n, d = reserve_in, reserve_out, target.numerator, target.denominator
    root = math.isqrt((9 * x * x * n + 3_988_000 * x * y * d) * n)  # sqrt(discriminant) * n
    return max(0, (root - 1997 * x * n) // (1994 * n))


def v2_arbitrage(reserve_base: int, reserve_quote: int, target: Fraction) -> tuple[bool, int]:
    """(sell base?, input amount) taking the pool to `target` raw quote per raw base."""
    if Fraction(reserve_quote, reserve_base) > target:
        return True, v2_amount_in_to_price(reserve_base, reserve_quote, target)
    return False, v2_amount_in_to_price(reserve_quote, reserve_base, 1 / target)


def v3_sqrt_target(target: Fraction) -> int:
    """floor(sqrt(target) * 2**96) for `target` in raw token1 per raw token0, kept inside the
    prices a pool can reach."""
    scaled = target * 2**192
    root = math.isqrt(scaled.numerator // scaled.denominator)
    return min(max(root, MIN_SQRT_RATIO + 1), MAX_SQRT_RATIO - 1)


def v3_amount_in(liquidity: int, sqrt_now: int, sqrt_target: int, fee: int) -> int:
    """The input (fee included) that moves in-range `liquidity` from sqrt_now to sqrt_target:
    token0 when the price falls, token1 when it rises (SqrtPriceMath's deltas, rounded up)."""
    if sqrt_target < sqrt_now:
        net = -(-liquidity * Q96 * (sqrt_now - sqrt_target) // (sqrt_now * sqrt_target))
    else:
        net = -(-liquidity * (sqrt_target - sqrt_now) // Q96)
    return -(-net * V3_FEE_BASE // (V3_FEE_BASE - fee))


def off_by_bps(price: Fraction, target: Fraction) -> Fraction:
    return abs(price / target - 1) * BPS


def as_decimal(value: Fraction) -> Decimal:
    return Decimal(value.numerator) / Decimal(value.denominator)


# -- the maker -------------------------------------------------------------------------------


@dataclass(frozen=True)
class MirrorTrade:
    venue: str
    symbol: str  # the pool's base/quote, e.g. WETH/USDC
    pool: ChecksumAddress
    fee: int
    sold: str  # token symbol the maker paid in
    bought: str
    amount_in: int  # base units of `sold` the pool took
    target: Decimal  # whole quote per whole base
    price_before: Decimal
    price_after: Decimal
    tx_hash: str


@dataclass(frozen=True)
class _Plan:
    pool: MarketPool
    target: Fraction
    before: Fraction
    sold: str
    bought: str
    amount: int  # V2: the exact input; V3: an upper bound, the pool takes what the limit allows
    limit: int = 0  # V3 sqrtPriceLimitX96


class MarketMirror:
    """Aligns the market pools (those `find_market_pools` finds, or the given ones) to prices."""

    def __init__(
        self,
        w3: Web3,
        deployment: Deployment,
        maker_index: int = 1,
        *,
        tolerance_bps: Decimal = DEFAULT_TOLERANCE_BPS,
        pools: Sequence[MarketPool] | None = None,
    ) -> None:
        self.w3 = w3
        self.deployment = deployment
        self.tolerance_bps = Fraction(tolerance_bps)
        self.maker = Deployer(w3, dev_account(maker_index))
        self.funder = Deployer(w3, dev_account(0))
        contracts = deployment.contracts
        self.router = contract(w3, "UniswapV2Router02", contracts["UniswapV2Router02"])
        self.swap_router = (
            contract(w3, "SwapRouter", contracts["SwapRouter"])
            if "SwapRouter" in contracts
            else None
        )
        self._tokens: dict[str, Contract] = {}
        self._floor: dict[str, int] = {}
        self._chain_id = int(w3.eth.chain_id)
        self._use(find_market_pools(w3, deployment) if pools is None else pools)

    def _use(self, pools: Sequence[MarketPool]) -> None:
        self.pools: tuple[MarketPool, ...] = tuple(pools)
        self._contracts = [pool_contract(self.w3, p) for p in self.pools]
        self._prepared = False

    @property
    def address(self) -> ChecksumAddress:
        return self.maker.account.address

    def refresh(self) -> None:
        """Find the market pools again (after seeding more of them)."""
        self._use(find_market_pools(self.w3, self.deployment))

    def _token(self, symbol: str) -> Contract:
        if symbol not in self._tokens:
            self._tokens[symbol] = token_contract(self.w3, self.deployment, symbol)
        return self._tokens[symbol]

    def prepare(self) -> None:
        """Ether, token float and router approvals for the maker; a no-op once they are there."""
        if self._prepared:
            return
        if int(self.w3.eth.get_balance(self.address)) < _MAKER_ETHER // 2:
            set_ether_balance(self.w3, self.address, _MAKER_ETHER)
        symbols = sorted({s for p in self.pools for s in (p.pair.base, p.pair.quote)})
        spenders = [self.router.address]
        if self.swap_router is not None and any(p.kind == "v3" for p in self.pools):
            spenders.append(self.swap_router.address)
        for symbol in symbols:
            token = self._token(symbol)
            pooled = sum(int(token.functions.balanceOf(p.address).call()) for p in self.pools)
            self._floor[symbol] = int(pooled * FUNDING_SHARE)
            self._fund(symbol, self._floor[symbol])
            for spender in spenders:
                ensure_allowance(token, self.maker, spender, 2**255)
        self._prepared = True

    def _fund(self, symbol: str, units: int) -> None:
        """Make sure the maker holds `units`; short, it is topped up to twice that (or the floor)
        so top-ups stay rare."""
        token = self._token(symbol)
        held = int(token.functions.balanceOf(self.address).call())
        if held >= units:
            return
        short = max(2 * units, self._floor.get(symbol, 0)) - held
        if symbol == "WETH":
            if int(self.w3.eth.get_balance(self.address)) < short + ETHER:
                set_ether_balance(self.w3, self.address, short + _MAKER_ETHER)
            self.maker.call(token, "deposit", value=short)
            return
        spare = int(token.functions.balanceOf(self.funder.account.address).call())
        if spare >= short:
            self.funder.call(token, "transfer", self.address, short)
        else:
            self.funder.call(token, "mint", self.address, short)

    def states(self) -> list[tuple[int, int]]:
        """Every pool's `pool_state`, read in one batch request."""
        with self.w3.batch_requests() as batch:
            for pool, state_of in zip(self.pools, self._contracts, strict=True):
                if pool.kind == "v2":
                    batch.add(state_of.functions.getReserves())
                else:
                    batch.add(state_of.functions.slot0())
                    batch.add(state_of.functions.liquidity())
            answers: Iterator[Any] = iter(cast("list[Any]", batch.execute()))
        states: list[tuple[int, int]] = []
        for pool in self.pools:
            first = next(answers)
            if pool.kind == "v2":
                states.append((int(first[0]), int(first[1])))
            else:
                states.append((int(first[0]), int(next(answers))))
        return states

    def align(self, prices: Mapping[str, Decimal]) -> list[MirrorTrade]:
        """One swap per pool more than `tolerance_bps` off the prices (keys as `usd_prices`)."""
        usd = usd_prices(prices)
        self.prepare()
        plans: list[_Plan] = []
        for pool, state in zip(self.pools, self.states(), strict=True):
            target = pair_price(pool.pair, usd)
            if off_by_bps(state_price(pool, state), target) > self.tolerance_bps:
                plans.append(self._plan(pool, state, target))
        plans = [p for p in plans if p.amount > 0]  # a pool too shallow to move by one unit
        if not plans:
            return []
        needs: dict[str, int] = {}
        for plan in plans:
            needs[plan.sold] = needs.get(plan.sold, 0) + plan.amount
        for symbol, units in needs.items():
            self._fund(symbol, units)
        nonce = int(self.w3.eth.get_transaction_count(self.address, "pending"))
        gas_price = int(self.w3.eth.gas_price)
        hashes = [self._send(self._calldata(p), nonce + i, gas_price) for i, p in enumerate(plans)]
        return [self._trade(p, h) for p, h in zip(plans, hashes, strict=True)]

    def _plan(self, pool: MarketPool, state: tuple[int, int], target: Fraction) -> _Plan:
        before = state_price(pool, state)
        goal = raw_price(target, pool.base_decimals, pool.quote_decimals)
        if pool.kind == "v2":
            base, quote = state if pool.base_is_token0 else state[::-1]
            sell_base, amount = v2_arbitrage(base, quote, goal)
            return _Plan(pool, target, before, *_sides(pool, sell_base), amount)
        sqrt_now, liquidity = state
        limit = v3_sqrt_target(goal if pool.base_is_token0 else 1 / goal)
        token0_in = limit < sqrt_now
        # twice the in-range estimate: the pool stops at the limit and takes only what it needs
        amount = 2 * v3_amount_in(liquidity, sqrt_now, limit, pool.fee) + 1
        sides = _sides(pool, token0_in == pool.base_is_token0)
        return _Plan(pool, target, before, *sides, amount, limit)

    def _calldata(self, plan: _Plan) -> tuple[Contract, str]:
        token_in, token_out = self._token(plan.sold).address, self._token(plan.bought).address
        if plan.pool.kind == "v2":
            args: list[Any] = [plan.amount, 0, [token_in, token_out], self.address, NO_DEADLINE]
            return self.router, self.router.encode_abi("swapExactTokensForTokens", args=args)
        if self.swap_router is None:
            raise ChainError("V3 pools are watched but no SwapRouter is deployed")
        params = (
            token_in,
            token_out,
            plan.pool.fee,
            self.address,
            NO_DEADLINE,
            plan.amount,
            0,
            plan.limit,
        )
        return self.swap_router, self.swap_router.encode_abi("exactInputSingle", args=[params])

    def _send(self, call: tuple[Contract, str], nonce: int, gas_price: int) -> bytes:
        """Signed like Deployer.transact, but with the nonce and gas price read once per align
        and a fixed gas limit: a swap's cost is known, and each asked-for number is a round trip."""
        to, data = call
        tx: dict[str, Any] = {
            "from": self.address,
            "to": to.address,
            "data": data,
            "value": 0,
            "gas": SWAP_GAS,
            "gasPrice": gas_price,
            "nonce": nonce,
            "chainId": self._chain_id,
        }
        signed = self.maker.account.sign_transaction(tx)
        return bytes(self.w3.eth.send_raw_transaction(signed.raw_transaction))

    def _trade(self, plan: _Plan, tx_hash: bytes) -> MirrorTrade:
        receipt = self.w3.eth.wait_for_transaction_receipt(
            tx_hash,  # type: ignore[arg-type]
            timeout=30,
            poll_latency=0.01,
        )
        if receipt["status"] != 1:
            raise ChainError(f"the mirror's swap on {plan.pool.symbol} reverted: 0x{tx_hash.hex()}")
        paid, after = _swap_effect(plan.pool, receipt["logs"])
        return MirrorTrade(
            venue=plan.pool.venue,
            symbol=plan.pool.symbol,
            pool=plan.pool.address,
            fee=plan.pool.fee,
            sold=plan.sold,
            bought=plan.bought,
            amount_in=plan.amount if plan.pool.kind == "v2" else paid,
            target=as_decimal(plan.target),
            price_before=as_decimal(plan.before),
            price_after=as_decimal(state_price(plan.pool, after)),
            tx_hash="0x" + tx_hash.hex(),
        )


def _sides(pool: MarketPool, sell_base: bool) -> tuple[str, str]:
    base, quote = pool.pair.base, pool.pair.quote
    return (base, quote) if sell_base else (quote, base)


def _words(data: bytes) -> list[int]:
    return [int.from_bytes(data[i : i + 32], "big", signed=True) for i in range(0, len(data), 32)]


def _swap_effect(pool: MarketPool, logs: Sequence[Any]) -> tuple[int, tuple[int, int]]:
    """(what the pool took, its state after) from the swap's own logs: V2's Sync holds the new
    reserves, V3's Swap the pool's deltas (+ = in) and its new sqrtPriceX96 and liquidity."""
    paid, state = 0, None
    for entry in logs:
        topics = [bytes(t) for t in entry["topics"]]
        if Web3.to_checksum_address(entry["address"]) != pool.address or not topics:
            continue
        words = _words(bytes(entry["data"]))
        if pool.kind == "v2" and topics[0] == V2_SYNC_TOPIC:
            state = (words[0], words[1])
        elif pool.kind == "v3" and topics[0] == V3_SWAP_TOPIC:
            paid, state = max(words[0], words[1]), (words[2], words[3])
    if state is None:
        raise ChainError(f"the mirror's swap on {pool.address} left no pool event")
    return paid, state
