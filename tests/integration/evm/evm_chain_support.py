"""The chain the EVM adapter tests share (built by this folder's conftest)."""

from __future__ import annotations

from dataclasses import dataclass

from web3 import Web3

from grekko.adapters.devnet.deploy import Deployment
from grekko.adapters.evm import UniswapV2Config
from grekko.adapters.wallets import KeystoreWallet


@dataclass(frozen=True)
class EvmChain:
    w3: Web3
    deployment: Deployment
    config: UniswapV2Config
    wallet: KeystoreWallet

    def token(self, symbol: str) -> str:
        return str(self.deployment.contracts[symbol])
