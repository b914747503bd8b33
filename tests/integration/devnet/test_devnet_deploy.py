"""The devnet contracts on a real anvil: recorded, idempotent, and the real Uniswap V2 bytecode
trading through its router."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

from eth_account.signers.local import LocalAccount
from eth_utils.crypto import keccak
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from web3 import Web3
from web3.contract import Contract

from grekko.adapters.devnet.artifacts import check_router_matches_factory, pair_init_code_hash
from grekko.adapters.devnet.deploy import (
    TOKENS,
    Deployer,
    Deployment,
    contract_at,
    deploy_all,
    dev_account,
)

NAMES = {"WETH9", "USDC", "WBTC", "UNI", "UniswapV2Factory", "UniswapV2Router02"}


def _c(w3: Web3, deployment: Deployment, name: str) -> Contract:
    return contract_at(w3, name, deployment.contracts[name])


def _deadline(w3: Web3) -> int:
    return int(w3.eth.get_block("latest")["timestamp"]) + 600


def test_addresses_are_recorded_under_chain_and_genesis(
    w3: Web3, session_deployment: Deployment, session_data_dir: Path
) -> None:
    # the tokens and V2 at least; V3 and Aave have their own tests (test_deploy_v3/aave)
    assert set(session_deployment.contracts) >= NAMES
    assert set(session_deployment.deployed) == set(session_deployment.contracts)  # all, first run
    assert session_deployment.deployer == dev_account(0).address
    records = json.loads((session_data_dir / "devnet" / "deployments.json").read_text())
    genesis = "0x" + bytes(w3.eth.get_block(0)["hash"]).hex()
    entry = records[f"{w3.eth.chain_id}:{genesis}"]
    assert entry["contracts"] == dict(session_deployment.contracts)
    for address in session_deployment.contracts.values():
        assert len(w3.eth.get_code(address)) > 0


def test_second_run_deploys_nothing(
    w3: Web3, session_deployment: Deployment, session_data_dir: Path
) -> None:
    block = w3.eth.block_number
    again = deploy_all(w3, session_data_dir)
    assert again.deployed == ()
    assert again.contracts == session_deployment.contracts
    assert w3.eth.block_number == block  # not one transaction sent


def test_only_the_missing_contract_is_redeployed(
    w3: Web3, session_deployment: Deployment, session_data_dir: Path, tmp_path: Path
) -> None:
    shutil.copytree(session_data_dir / "devnet", tmp_path / "devnet", ignore=_only_records)
    path = tmp_path / "devnet" / "deployments.json"
    records = json.loads(path.read_text())
    (entry,) = records.values()
    entry["contracts"]["UNI"] = "0x" + "00" * 19 + "01"  # an address with no code
    path.write_text(json.dumps(records))
    again = deploy_all(w3, tmp_path)
    assert again.deployed == ("UNI",)
    assert _c(w3, again, "UNI").functions.symbol().call() == "UNI"
    assert {k: v for k, v in again.contracts.items() if k != "UNI"} == {
        k: v for k, v in session_deployment.contracts.items() if k != "UNI"
    }


def _only_records(_dir: str, names: list[str]) -> list[str]:
    return [n for n in names if n != "deployments.json"]


def test_tokens_have_the_real_decimals(w3: Web3, session_deployment: Deployment) -> None:
    me = session_deployment.deployer
    for spec in TOKENS:
        token = _c(w3, session_deployment, spec.symbol)
        assert token.functions.decimals().call() == spec.decimals
        assert token.functions.symbol().call() == spec.symbol
        assert token.functions.balanceOf(me).call() == spec.initial_supply * 10**spec.decimals
    decimals = {s.symbol: s.decimals for s in TOKENS}
    assert decimals == {"USDC": 6, "WBTC": 8, "UNI": 18}
    assert _c(w3, session_deployment, "WETH9").functions.decimals().call() == 18


def test_router_is_wired_to_factory_and_weth(w3: Web3, session_deployment: Deployment) -> None:
    router = _c(w3, session_deployment, "UniswapV2Router02")
    assert router.functions.factory().call() == session_deployment.contracts["UniswapV2Factory"]
    assert router.functions.WETH().call() == session_deployment.contracts["WETH9"]
    assert check_router_matches_factory() == pair_init_code_hash()


def test_pair_lands_where_the_init_code_hash_says(w3: Web3, session_deployment: Deployment) -> None:
    owner = Deployer(w3, dev_account(0))
    factory = _c(w3, session_deployment, "UniswapV2Factory")
    usdc, wbtc = (session_deployment.contracts[s] for s in ("USDC", "WBTC"))
    owner.call(factory, "createPair", usdc, wbtc)
    pair = factory.functions.getPair(usdc, wbtc).call()
    t0, t1 = sorted([usdc, wbtc], key=lambda a: int(a, 16))
    salt = keccak(bytes.fromhex(t0[2:] + t1[2:]))
    preimage = (
        b"\xff"
        + bytes.fromhex(factory.address[2:])
        + salt
        + bytes.fromhex(pair_init_code_hash()[2:])
    )
    assert pair == Web3.to_checksum_address(keccak(preimage)[12:])


def _fund_and_approve(
    w3: Web3, deployment: Deployment, trader: LocalAccount, amounts: dict[str, int]
) -> Deployer:
    owner, me = Deployer(w3, dev_account(0)), Deployer(w3, trader)
    router = deployment.contracts["UniswapV2Router02"]
    for symbol, amount in amounts.items():
        token = _c(w3, deployment, symbol)
        owner.call(token, "mint", trader.address, amount)
        me.call(token, "approve", router, 2**256 - 1)
    return me


def _amount_out(amount_in: int, reserve_in: int, reserve_out: int) -> int:
    """Uniswap V2's constant product with its 0.3 % fee, from the whitepaper."""
    with_fee = amount_in * 997
    return with_fee * reserve_out // (reserve_in * 1000 + with_fee)


def _add_liquidity(w3: Web3, deployment: Deployment, me: Deployer, usdc: int, wbtc: int) -> None:
    router = _c(w3, deployment, "UniswapV2Router02")
    a, b = deployment.contracts["USDC"], deployment.contracts["WBTC"]
    args: tuple[Any, ...] = (a, b, usdc, wbtc, 0, 0, me.account.address, _deadline(w3))
    me.call(router, "addLiquidity", *args)


def test_liquidity_and_swap_through_the_real_router(
    w3: Web3, session_deployment: Deployment
) -> None:
    trader = dev_account(1)
    pool_usdc, pool_wbtc, sell = 6_000_000 * 10**6, 100 * 10**8, 60_000 * 10**6
    me = _fund_and_approve(
        w3, session_deployment, trader, {"USDC": pool_usdc + sell, "WBTC": pool_wbtc}
    )
    _add_liquidity(w3, session_deployment, me, pool_usdc, pool_wbtc)
    router = _c(w3, session_deployment, "UniswapV2Router02")
    usdc, wbtc = (_c(w3, session_deployment, s) for s in ("USDC", "WBTC"))
    path = [usdc.address, wbtc.address]
    expected = _amount_out(sell, pool_usdc, pool_wbtc)
    assert router.functions.getAmountsOut(sell, path).call() == [sell, expected]
    before = wbtc.functions.balanceOf(trader.address).call()
    me.call(router, "swapExactTokensForTokens", sell, expected, path, trader.address, _deadline(w3))
    assert wbtc.functions.balanceOf(trader.address).call() - before == expected
    assert usdc.functions.balanceOf(trader.address).call() == 0
    pair = contract_at(
        w3,
        "UniswapV2Pair",
        _c(w3, session_deployment, "UniswapV2Factory").functions.getPair(*path).call(),
    )
    reserves = pair.functions.getReserves().call()
    by_token = dict(zip(sorted(path, key=lambda a: int(a, 16)), reserves[:2], strict=True))
    assert by_token == {usdc.address: pool_usdc + sell, wbtc.address: pool_wbtc - expected}


def test_a_trade_in_a_later_second_has_the_gas_it_needs(
    w3: Web3, session_deployment: Deployment
) -> None:
    """The pair writes its price accumulators on the first trade of a new second; gas estimated
    before that second must still cover them (this used to run out of gas now and then)."""
    me = _fund_and_approve(
        w3, session_deployment, dev_account(3), {"USDC": 2 * 10**12, "WBTC": 10**10}
    )
    _add_liquidity(w3, session_deployment, me, 10**12, 10**10)
    later = int(w3.eth.get_block("latest")["timestamp"]) + 1
    w3.provider.make_request("evm_setNextBlockTimestamp", [later])  # type: ignore[arg-type]
    router = _c(w3, session_deployment, "UniswapV2Router02")
    path = [session_deployment.contracts["USDC"], session_deployment.contracts["WBTC"]]
    receipt = me.call(
        router, "swapExactTokensForTokens", 10**9, 1, path, me.account.address, later + 600
    )
    assert receipt["status"] == 1
    assert w3.eth.get_block(receipt["blockNumber"])["timestamp"] == later
    pair = contract_at(
        w3,
        "UniswapV2Pair",
        _c(w3, session_deployment, "UniswapV2Factory").functions.getPair(*path).call(),
    )
    assert pair.functions.price0CumulativeLast().call() > 0  # the accumulators were written


@settings(
    max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    sell=st.integers(min_value=1, max_value=10**15),
    pool_usdc=st.integers(min_value=10**6, max_value=10**15),
    pool_wbtc=st.integers(min_value=10**4, max_value=10**13),
)
def test_router_quotes_the_constant_product(
    w3: Web3, session_deployment: Deployment, sell: int, pool_usdc: int, pool_wbtc: int
) -> None:
    snapshot = w3.provider.make_request("evm_snapshot", [])["result"]  # type: ignore[arg-type]
    try:
        trader = dev_account(2)
        me = _fund_and_approve(
            w3, session_deployment, trader, {"USDC": pool_usdc + sell, "WBTC": pool_wbtc}
        )
        _add_liquidity(w3, session_deployment, me, pool_usdc, pool_wbtc)
        router = _c(w3, session_deployment, "UniswapV2Router02")
        path = [session_deployment.contracts["USDC"], session_deployment.contracts["WBTC"]]
        quoted = router.functions.getAmountsOut(sell, path).call()[1]
        assert quoted == _amount_out(sell, pool_usdc, pool_wbtc)
        assert quoted < pool_wbtc
    finally:
        assert w3.provider.make_request("evm_revert", [snapshot])["result"] is True  # type: ignore[arg-type]
