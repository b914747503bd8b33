"""One anvil for the EVM adapter tests, with the devnet contracts, two V2 pools and a funded
keystore wallet set up once; each test runs inside evm_snapshot / evm_revert.

The pools are USDC/WETH and UNI/WETH only, with no USDC/UNI pair, so USDC -> UNI must route
through WETH.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from evm_chain_support import EvmChain
from web3 import Web3

from grekko.adapters.devnet.deploy import Deployer, Deployment, contract_at, deploy_all, dev_account
from grekko.adapters.devnet.devnet import Devnet
from grekko.adapters.devnet.pools import add_v2_eth_pools
from grekko.adapters.evm import UniswapV2
from grekko.adapters.sql.engine import build_engine
from grekko.adapters.sql.migrate import upgrade_to_head
from grekko.adapters.vault import LocalVault
from grekko.adapters.wallets import KeystoreWallet
from grekko.bootstrap.chain import uniswap_v2_config
from grekko.ports.wallet import ChainInfo

ETHER = 10**18
# (token, whole tokens, whole ether): USDC at 2000 per ETH, UNI at 200 per ETH
POOLS = (("USDC", 2_000_000, 1_000), ("UNI", 200_000, 1_000))
WALLET_USDC = 100_000 * 10**6


def _wallet(data_dir: Path, chain: ChainInfo, w3: Web3, deployment: Deployment) -> KeystoreWallet:
    engine = build_engine(f"sqlite:///{data_dir / 'vault.db'}")
    upgrade_to_head(engine)
    vault = LocalVault(engine, os.urandom(32))
    wallet = KeystoreWallet.create(data_dir, vault, "evm/test", [chain], scrypt_n=2**14)
    wallet.connect()
    w3.provider.make_request("anvil_setBalance", [wallet.address, hex(100 * ETHER)])  # type: ignore[arg-type]
    usdc = contract_at(w3, "USDC", deployment.contracts["USDC"])
    Deployer(w3, dev_account()).call(usdc, "transfer", wallet.address, WALLET_USDC)
    return wallet


@pytest.fixture(scope="session")
def evm_session(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EvmChain]:
    data_dir = tmp_path_factory.mktemp("evm-chain")
    devnet = Devnet(data_dir)
    info = devnet.up()
    try:
        w3 = Web3(Web3.HTTPProvider(info.rpc_url, request_kwargs={"timeout": 30}))
        deployment = deploy_all(w3, data_dir)
        add_v2_eth_pools(w3, deployment, POOLS)
        config = uniswap_v2_config(deployment.contracts)
        wallet = _wallet(data_dir, ChainInfo(info.chain_id, "devnet", info.rpc_url), w3, deployment)
        yield EvmChain(w3, deployment, config, wallet)
        wallet.disconnect()
    finally:
        devnet.down()


@pytest.fixture
def evm(evm_session: EvmChain) -> Iterator[EvmChain]:
    """The session chain, rolled back after the test."""
    w3 = evm_session.w3
    snapshot = w3.provider.make_request("evm_snapshot", [])["result"]  # type: ignore[arg-type]
    try:
        yield evm_session
    finally:
        reverted = w3.provider.make_request("evm_revert", [snapshot])  # type: ignore[arg-type]
        assert reverted["result"] is True, reverted


@pytest.fixture
def uniswap(evm: EvmChain) -> UniswapV2:
    """A fresh adapter (and nonce manager) per test: the rollback resets the account's nonce."""
    return UniswapV2(evm.w3, evm.config, evm.wallet)
