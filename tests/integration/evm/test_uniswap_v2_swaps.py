"""UniswapV2 adapter against real Router02/Factory/pair bytecode on anvil."""

from __future__ import annotations

import statistics
import time
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal
from typing import Any

from evm_chain_support import EvmChain
from web3 import Web3

from grekko.adapters.devnet.deploy import contract_at, dev_account
from grekko.adapters.evm import SwapFill, SwapRejected, UniswapV2

USDC_IN = 5_000 * 10**6


def _reserves(evm: EvmChain, uniswap: UniswapV2, token_in: str, token_out: str) -> tuple[int, int]:
    pair_address = uniswap.pair(token_in, token_out)
    assert pair_address is not None
    pair = evm.w3.eth.contract(
        address=Web3.to_checksum_address(pair_address), abi=evm.config.pair_abi
    )
    r0, r1, _ = pair.functions.getReserves().call()
    token0 = pair.functions.token0().call()
    return (r0, r1) if token0 == Web3.to_checksum_address(token_in) else (r1, r0)


def _constant_product_out(amount_in: int, reserve_in: int, reserve_out: int) -> int:
    with_fee = amount_in * 997
    return with_fee * reserve_out // (reserve_in * 1000 + with_fee)


def _balance(evm: EvmChain, symbol: str) -> int:
    token = contract_at(evm.w3, symbol, evm.token(symbol))
    return int(token.functions.balanceOf(evm.wallet.address).call())


def test_usdc_to_uni_routes_through_weth_because_no_direct_pair_exists(
    evm: EvmChain, uniswap: UniswapV2
) -> None:
    usdc, uni, weth = evm.token("USDC"), evm.token("UNI"), evm.config.weth
    assert uniswap.pair(usdc, uni) is None
    assert uniswap.routes(usdc, uni) == [(usdc, weth, uni)]
    assert uniswap.routes(usdc, weth) == [(usdc, weth)]
    best = uniswap.best_quote(USDC_IN, usdc, uni)
    assert best.path == (usdc, weth, uni)


def test_quote_equals_the_constant_product_formula_hop_by_hop(
    evm: EvmChain, uniswap: UniswapV2
) -> None:
    usdc, uni, weth = evm.token("USDC"), evm.token("UNI"), evm.config.weth
    usdc_in, weth_out = _reserves(evm, uniswap, usdc, weth)
    weth_in, uni_out = _reserves(evm, uniswap, weth, uni)
    mid = _constant_product_out(USDC_IN, usdc_in, weth_out)
    expected = _constant_product_out(mid, weth_in, uni_out)

    quote = uniswap.best_quote(USDC_IN, usdc, uni)
    assert quote.amounts == (USDC_IN, mid, expected)
    assert quote.amount_out == expected

    latencies = []
    for _ in range(200):
        start = time.perf_counter()
        uniswap.quote(USDC_IN, quote.path)
        latencies.append(time.perf_counter() - start)
    print(
        f"\nUniswap V2 getAmountsOut quote latency p50 over 200: "
        f"{statistics.median(latencies) * 1e3:.2f} ms"
    )


def test_swap_fills_with_amounts_matching_the_balance_changes(
    evm: EvmChain, uniswap: UniswapV2
) -> None:
    usdc, uni = evm.token("USDC"), evm.token("UNI")
    me = Web3.to_checksum_address(evm.wallet.address)
    eth_before = evm.w3.eth.get_balance(me)
    approval = uniswap.ensure_allowance(usdc, USDC_IN)
    assert approval is not None
    approved = evm.w3.eth.get_transaction_receipt(approval)  # type: ignore[arg-type]
    usdc_before, uni_before = _balance(evm, "USDC"), _balance(evm, "UNI")
    quote = uniswap.best_quote(USDC_IN, usdc, uni)

    fill = uniswap.swap(USDC_IN, usdc, uni, slippage_bps=50, deadline_s=120)

    assert isinstance(fill, SwapFill), fill
    assert fill.path == quote.path
    assert fill.amount_in == USDC_IN == usdc_before - _balance(evm, "USDC")
    assert fill.amount_out == _balance(evm, "UNI") - uni_before
    assert fill.amount_out == quote.amount_out  # nothing else traded in between
    assert fill.price == Decimal(fill.amount_out).scaleb(-18) / Decimal(USDC_IN).scaleb(-6)
    receipt = evm.w3.eth.get_transaction_receipt(fill.tx_hash)  # type: ignore[arg-type]
    assert fill.gas_used == receipt["gasUsed"]
    assert fill.fee_wei == receipt["gasUsed"] * receipt["effectiveGasPrice"] > 0
    approval_fee = approved["gasUsed"] * approved["effectiveGasPrice"]
    assert eth_before - evm.w3.eth.get_balance(me) == approval_fee + fill.fee_wei


def test_allowance_is_approved_once_then_reused(evm: EvmChain, uniswap: UniswapV2) -> None:
    usdc, uni = evm.token("USDC"), evm.token("UNI")
    assert uniswap.ensure_allowance(usdc, USDC_IN) is not None
    assert uniswap.ensure_allowance(usdc, USDC_IN) is None
    first = uniswap.swap(USDC_IN, usdc, uni)
    second = uniswap.swap(USDC_IN, usdc, uni)
    assert isinstance(first, SwapFill)
    assert isinstance(second, SwapFill)
    assert second.amount_out < first.amount_out  # the first trade moved the price


def test_too_tight_min_out_is_rejected_with_the_routers_reason(
    evm: EvmChain, uniswap: UniswapV2
) -> None:
    usdc, uni = evm.token("USDC"), evm.token("UNI")
    usdc_before = _balance(evm, "USDC")
    quote = uniswap.best_quote(USDC_IN, usdc, uni)

    rejected = uniswap.swap(USDC_IN, usdc, uni, min_amount_out=quote.amount_out + 1)

    assert isinstance(rejected, SwapRejected), rejected
    assert rejected.reason == "UniswapV2Router: INSUFFICIENT_OUTPUT_AMOUNT"
    assert rejected.min_amount_out == quote.amount_out + 1
    assert rejected.tx_hash is None
    assert _balance(evm, "USDC") == usdc_before


def _pending_count(evm: EvmChain) -> int:
    status = evm.w3.provider.make_request("txpool_status", [])["result"]  # type: ignore[arg-type]
    return int(status["pending"], 16)


def test_a_swap_that_reverts_on_chain_comes_back_with_the_replayed_reason(
    evm: EvmChain, uniswap: UniswapV2
) -> None:
    """With mining paused, a bigger-tipping UNI buy lands in the same block ahead of our
    zero-slippage swap, which then reverts on chain rather than in the pre-send estimate."""
    w3, usdc, uni = evm.w3, evm.token("USDC"), evm.token("UNI")
    uniswap.ensure_allowance(usdc, USDC_IN)
    router = contract_at(w3, "UniswapV2Router02", evm.config.router)
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
                "value": 50 * 10**18,
                "gas": 300_000,
                "nonce": w3.eth.get_transaction_count(buyer.address, "pending"),
                "maxFeePerGas": 500 * 10**9,
                "maxPriorityFeePerGas": 400 * 10**9,
            }
            buy: Any = router.functions.swapExactETHForTokens(
                0, [evm.config.weth, uni], buyer.address, deadline
            ).build_transaction(params)
            w3.eth.send_raw_transaction(buyer.sign_transaction(buy).raw_transaction)
            w3.provider.make_request("evm_mine", [])  # type: ignore[arg-type]
            result = pending.result(timeout=30)
    finally:
        w3.provider.make_request("evm_setAutomine", [True])  # type: ignore[arg-type]

    assert isinstance(result, SwapRejected), result
    assert result.reason == "UniswapV2Router: INSUFFICIENT_OUTPUT_AMOUNT"
    assert result.tx_hash is not None
    assert w3.eth.get_transaction_receipt(result.tx_hash)["status"] == 0  # type: ignore[arg-type]
