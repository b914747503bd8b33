"""UniswapV3 adapter against the real V3 factory, pools, SwapRouter and QuoterV2 on anvil.

The module adds its V3 pools to the session chain once, inside its own snapshot that it reverts
at the end, so the other modules never see them: WETH/USDC at 0.05 % (2000 USDC per WETH) and at
0.3 % (1980, so buying WETH is cheaper there despite the fee), WETH/UNI at 0.3 % over ±20 %, and an
initialized WETH/USDC 1 % pool with no liquidity. There is no USDC/UNI pool.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from decimal import Decimal
from fractions import Fraction
from typing import Any

import pytest
from evm_chain_support import EvmChain

from grekko.adapters.devnet.deploy import Deployer, contract_at, dev_account
from grekko.adapters.devnet.pools_v3 import (
    add_v3_pool,
    price_from_sqrt_price_x96,
    sqrt_price_x96,
    tick_at_sqrt_price,
)
from grekko.adapters.evm.swaps import SwapError, SwapFill, SwapRejected
from grekko.adapters.evm.uniswap_v3 import UniswapV3
from grekko.bootstrap.chain import uniswap_v3_config

USDC_IN = 5_000 * 10**6
TICK = Decimal("0.0001")  # one tick is a 1.0001 price step
# (token a, token b, fee, whole b per whole a, whole a deposited, ±range %)
SEEDS = (
    ("WETH", "USDC", 500, Decimal(2000), Decimal(500), None),
    ("WETH", "USDC", 3000, Decimal(1980), Decimal(500), None),
    ("WETH", "UNI", 3000, Decimal(200), Decimal(500), Decimal(20)),
)


@dataclass(frozen=True)
class V3Pools:
    by_seed: dict[tuple[str, str, int], str]
    empty: str  # WETH/USDC 1 %: initialized, no liquidity


def _symbol(symbol: str) -> str:
    return "WETH9" if symbol == "WETH" else symbol


@pytest.fixture(scope="module")
def v3_pools(evm_session: EvmChain) -> Iterator[V3Pools]:
    w3, deployment = evm_session.w3, evm_session.deployment
    snapshot = w3.provider.make_request("evm_snapshot", [])["result"]  # type: ignore[arg-type]
    try:
        by_seed = {
            (a, b, fee): add_v3_pool(
                w3, deployment, a, b, fee, price, amount_a_whole=amount, range_pct=pct
            )
            for a, b, fee, price, amount, pct in SEEDS
        }
        c = deployment.contracts
        manager = contract_at(w3, "NonfungiblePositionManager", c["NonfungiblePositionManager"])
        t0, t1 = sorted([c["WETH9"], c["USDC"]], key=lambda a: int(a, 16))
        Deployer(w3, dev_account()).call(
            manager, "createAndInitializePoolIfNecessary", t0, t1, 10000, 2**96
        )
        factory = contract_at(w3, "UniswapV3Factory", c["UniswapV3Factory"])
        yield V3Pools(by_seed, factory.functions.getPool(t0, t1, 10000).call())
    finally:
        reverted = w3.provider.make_request("evm_revert", [snapshot])  # type: ignore[arg-type]
        assert reverted["result"] is True, reverted


@pytest.fixture
def uniswap(evm: EvmChain, v3_pools: V3Pools) -> UniswapV3:
    """A fresh adapter (and nonce manager) per test: the rollback resets the account's nonce."""
    config = uniswap_v3_config(evm.deployment.contracts)
    return UniswapV3(evm.w3, config, evm.wallet)


def _balance(evm: EvmChain, symbol: str) -> int:
    token = contract_at(evm.w3, _symbol(symbol), evm.token(_symbol(symbol)))
    return int(token.functions.balanceOf(evm.wallet.address).call())


def test_each_pool_starts_at_the_requested_price_within_a_tick(
    evm: EvmChain, v3_pools: V3Pools
) -> None:
    decimals = {"WETH": 18, "USDC": 6, "UNI": 18}
    weth = contract_at(evm.w3, "WETH9", evm.token("WETH9"))
    for a, b, fee, price, deposited, _ in SEEDS:
        pool = contract_at(evm.w3, "UniswapV3Pool", v3_pools.by_seed[(a, b, fee)])
        held = weth.functions.balanceOf(pool.address).call()
        given = int(deposited) * 10**18
        assert given - given // 10**12 <= held <= given  # the given side, all but rounding dust
        sqrt_price, tick = pool.functions.slot0().call()[:2]
        a_first = pool.functions.token0().call() == evm.token(_symbol(a))
        d0, d1 = (decimals[a], decimals[b]) if a_first else (decimals[b], decimals[a])
        price0 = Fraction(price) if a_first else 1 / Fraction(price)
        assert sqrt_price == sqrt_price_x96(price0, d0, d1)  # initialized with the exact root
        on_chain = price_from_sqrt_price_x96(sqrt_price, d0, d1)
        in_b_per_a = on_chain if a_first else 1 / on_chain
        assert abs(in_b_per_a - price) / price < TICK
        assert tick == tick_at_sqrt_price(sqrt_price)
        assert pool.functions.fee().call() == fee
        assert pool.functions.liquidity().call() > 0


def test_pools_lists_the_fee_tiers_that_hold_liquidity(
    evm: EvmChain, uniswap: UniswapV3, v3_pools: V3Pools
) -> None:
    usdc, uni, weth = evm.token("USDC"), evm.token("UNI"), evm.token("WETH9")
    assert uniswap.pools(usdc, weth) == {
        500: v3_pools.by_seed[("WETH", "USDC", 500)],
        3000: v3_pools.by_seed[("WETH", "USDC", 3000)],
    }
    assert uniswap.pools(weth, usdc) == uniswap.pools(usdc, weth)
    assert int(v3_pools.empty, 16) != 0  # the 1 % pool exists but has nothing to trade against
    assert uniswap.pools(usdc, uni) == {}
    assert uniswap.pools(weth, uni) == {3000: v3_pools.by_seed[("WETH", "UNI", 3000)]}


def test_the_better_fee_tier_wins_in_each_direction(evm: EvmChain, uniswap: UniswapV3) -> None:
    """Buying WETH is cheaper at 0.3 % (WETH at 1980), selling it pays more at 0.05 % (2000)."""
    usdc, weth = evm.token("USDC"), evm.token("WETH9")
    buy = {fee: uniswap.quote(USDC_IN, [usdc, weth], [fee]) for fee in (500, 3000)}
    assert buy[3000].amount_out > buy[500].amount_out
    assert uniswap.best_quote(USDC_IN, usdc, weth) == buy[3000]
    sell = {fee: uniswap.quote(10**18, [weth, usdc], [fee]) for fee in (500, 3000)}
    assert sell[500].amount_out > sell[3000].amount_out
    best = uniswap.best_quote(10**18, weth, usdc)
    assert best == sell[500]
    assert best.protocol == "uniswap_v3"
    assert best.fees == (500,)
    assert best.gas_estimate > 0
    assert 1990 * 10**6 < best.amount_out < 2000 * 10**6  # 2000 less 0.05 % and a little impact


def test_usdc_to_uni_routes_through_weth_because_no_direct_pool_exists(
    evm: EvmChain, uniswap: UniswapV3
) -> None:
    usdc, uni, weth = evm.token("USDC"), evm.token("UNI"), evm.token("WETH9")
    via = (usdc, weth, uni)
    assert uniswap.routes(usdc, uni) == [(via, (500, 3000)), (via, (3000, 3000))]
    best = uniswap.best_quote(USDC_IN, usdc, uni)
    assert best.path == via
    assert best.fees == (3000, 3000)
    first = uniswap.quote(USDC_IN, [usdc, weth], [3000])
    second = uniswap.quote(first.amount_out, [weth, uni], [3000])
    assert best.amount_out == second.amount_out  # the multi-hop quote is the hops in turn
    assert best.amounts == (USDC_IN, second.amount_out)


def _eth(evm: EvmChain) -> int:
    return int(evm.w3.eth.get_balance(evm.wallet.address))


@pytest.mark.parametrize(("symbol_out", "decimals_out"), [("UNI", 18), ("WETH", 18)])
def test_a_swap_fills_with_the_quoted_amount_to_the_wei(
    evm: EvmChain, uniswap: UniswapV3, symbol_out: str, decimals_out: int
) -> None:
    usdc, token_out = evm.token("USDC"), evm.token(_symbol(symbol_out))
    assert uniswap.ensure_allowance(usdc, USDC_IN) is not None
    assert uniswap.ensure_allowance(usdc, USDC_IN) is None
    usdc_before, out_before, eth_before = (
        _balance(evm, "USDC"),
        _balance(evm, symbol_out),
        _eth(evm),
    )
    quote = uniswap.best_quote(USDC_IN, usdc, token_out)

    fill = uniswap.execute(quote)

    assert isinstance(fill, SwapFill), fill
    assert (fill.amount_in, fill.amount_out) == (USDC_IN, quote.amount_out)
    assert (fill.path, fill.fees, fill.protocol) == (quote.path, quote.fees, "uniswap_v3")
    assert _balance(evm, "USDC") == usdc_before - USDC_IN
    assert _balance(evm, symbol_out) == out_before + quote.amount_out
    receipt = evm.w3.eth.get_transaction_receipt(fill.tx_hash)  # type: ignore[arg-type]
    assert fill.gas_used == receipt["gasUsed"]
    assert fill.fee_wei == receipt["gasUsed"] * receipt["effectiveGasPrice"]
    assert fill.block_number == receipt["blockNumber"]
    assert _eth(evm) == eth_before - fill.fee_wei
    expected_price = Decimal(quote.amount_out).scaleb(-decimals_out) / Decimal(USDC_IN).scaleb(-6)
    assert fill.price == expected_price
    reference = Decimal(200 if symbol_out == "UNI" else 1) / 1980  # the 0.3 % WETH pool's price
    assert reference * Decimal("0.98") < fill.price < reference * Decimal("0.997")  # fees, impact


def test_an_impossible_min_out_is_rejected_before_sending(
    evm: EvmChain, uniswap: UniswapV3
) -> None:
    usdc, uni = evm.token("USDC"), evm.token("UNI")
    uniswap.ensure_allowance(usdc, USDC_IN)
    nonce = evm.w3.eth.get_transaction_count(evm.wallet.address)
    usdc_before = _balance(evm, "USDC")
    quote = uniswap.best_quote(USDC_IN, usdc, uni)

    rejected = uniswap.swap(USDC_IN, usdc, uni, min_amount_out=quote.amount_out + 1)

    assert isinstance(rejected, SwapRejected), rejected
    assert rejected.reason == "Too little received"
    assert (rejected.min_amount_out, rejected.tx_hash) == (quote.amount_out + 1, None)
    assert evm.w3.eth.get_transaction_count(evm.wallet.address) == nonce  # nothing was sent
    assert _balance(evm, "USDC") == usdc_before


def test_spending_more_than_the_wallet_holds_is_rejected_with_stf(
    evm: EvmChain, uniswap: UniswapV3
) -> None:
    usdc, weth = evm.token("USDC"), evm.token("WETH9")
    too_much = _balance(evm, "USDC") + 1
    rejected = uniswap.swap(too_much, usdc, weth)
    assert isinstance(rejected, SwapRejected), rejected
    assert rejected.reason == "STF"  # TransferHelper: safeTransferFrom failed
    assert rejected.tx_hash is None


def test_an_exact_output_buy_receives_exactly_the_amount(evm: EvmChain, uniswap: UniswapV3) -> None:
    usdc, uni = evm.token("USDC"), evm.token("UNI")
    want = 1_000 * 10**18
    quote = uniswap.best_quote_out(want, usdc, uni)
    assert quote.exact_output
    assert quote.fees == (3000, 3000)
    usdc_before = _balance(evm, "USDC")

    fill = uniswap.execute(quote)

    assert isinstance(fill, SwapFill), fill
    assert (fill.amount_in, fill.amount_out) == (quote.amount_in, want)
    assert _balance(evm, "USDC") == usdc_before - quote.amount_in
    assert _balance(evm, "UNI") == want
    weth = evm.token("WETH9")
    one_weth = uniswap.best_quote_out(10**18, usdc, weth)
    per_tier = [uniswap.quote_out(10**18, [usdc, weth], [fee]) for fee in (500, 3000)]
    assert one_weth == min(per_tier, key=lambda q: q.amount_in)
    single = uniswap.execute(one_weth, slippage_bps=0)
    assert isinstance(single, SwapFill), single
    assert (single.amount_in, single.amount_out) == (one_weth.amount_in, 10**18)
    with pytest.raises(SwapError, match="no Uniswap V3 route"):
        uniswap.best_quote_out(10_000 * 10**18, usdc, weth)  # more than pools hold


def _pending_count(evm: EvmChain) -> int:
    status = evm.w3.provider.make_request("txpool_status", [])["result"]  # type: ignore[arg-type]
    return int(status["pending"], 16)


def test_a_swap_that_reverts_on_chain_comes_back_with_the_replayed_reason(
    evm: EvmChain, uniswap: UniswapV3
) -> None:
    """With mining paused, a bigger-tipping UNI buy lands in the same block ahead of our
    zero-slippage swap, which then reverts on chain rather than in the pre-send estimate."""
    w3, usdc, uni, weth = evm.w3, evm.token("USDC"), evm.token("UNI"), evm.token("WETH9")
    uniswap.ensure_allowance(usdc, USDC_IN)
    router = contract_at(w3, "SwapRouter", evm.deployment.contracts["SwapRouter"])
    buyer = dev_account(0)
    deadline = int(w3.eth.get_block("latest")["timestamp"]) + 600
    w3.provider.make_request("evm_setAutomine", [False])  # type: ignore[arg-type]
    try:
        with ThreadPoolExecutor(max_workers=1) as pool:
            pending = pool.submit(uniswap.swap, USDC_IN, usdc, uni, 0)
            while _pending_count(evm) < 1 and not pending.done():
                time.sleep(0.01)
            params: Any = {
                "from": buyer.address,
                "value": 50 * 10**18,  # the router wraps it: WETH in, paid in ether
                "gas": 500_000,
                "nonce": w3.eth.get_transaction_count(buyer.address, "pending"),
                "maxFeePerGas": 500 * 10**9,
                "maxPriorityFeePerGas": 400 * 10**9,
            }
            single = (weth, uni, 3000, buyer.address, deadline, 50 * 10**18, 0, 0)
            buy: Any = router.functions.exactInputSingle(single).build_transaction(params)
            w3.eth.send_raw_transaction(buyer.sign_transaction(buy).raw_transaction)
            w3.provider.make_request("evm_mine", [])  # type: ignore[arg-type]
            result = pending.result(timeout=30)
    finally:
        w3.provider.make_request("evm_setAutomine", [True])  # type: ignore[arg-type]

    assert isinstance(result, SwapRejected), result
    assert result.reason == "Too little received"
    assert result.tx_hash is not None
    receipt = w3.eth.get_transaction_receipt(result.tx_hash)  # type: ignore[arg-type]
    assert receipt["status"] == 0
    block = w3.eth.get_block(receipt["blockNumber"])
    assert len(block["transactions"]) == 2  # the front-run and ours, mined together
