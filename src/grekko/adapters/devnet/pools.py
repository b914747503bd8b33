"""Seed Uniswap V2 pools on the devnet: token/WETH pairs with liquidity from the deployer account."""

from __future__ import annotations

from collections.abc import Sequence

from web3 import Web3

from grekko.adapters.devnet.deploy import Deployer, Deployment, contract_at, dev_account

ETHER = 10**18
PoolSeed = tuple[str, int, int]  # (token symbol, whole tokens, whole ether)


def add_v2_eth_pools(w3: Web3, deployment: Deployment, pools: Sequence[PoolSeed]) -> None:
    """addLiquidityETH for each (token, tokens, ether): the pool's price is tokens per ether."""
    deployer = Deployer(w3, dev_account())
    router = contract_at(w3, "UniswapV2Router02", deployment.contracts["UniswapV2Router02"])
    deadline = int(w3.eth.get_block("latest")["timestamp"]) + 86_400
    for symbol, tokens, ether in pools:
        token = contract_at(w3, symbol, deployment.contracts[symbol])
        units = tokens * 10 ** int(token.functions.decimals().call())
        deployer.call(token, "approve", router.address, units)
        args = (token.address, units, 0, 0, deployer.account.address, deadline)
        deployer.call(router, "addLiquidityETH", *args, value=ether * ETHER)
