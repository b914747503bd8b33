"""EVM chains through web3.py: nonce management and DEX swaps, signed by a WalletProvider."""

from grekko.adapters.evm.nonces import NonceManager
from grekko.adapters.evm.sending import ChainSender
from grekko.adapters.evm.swaps import (
    Quote,
    SwapError,
    SwapFill,
    SwapRejected,
    gas_with_headroom,
    revert_reason,
)
from grekko.adapters.evm.uniswap_v2 import UniswapV2, UniswapV2Config

__all__ = [
    "ChainSender",
    "NonceManager",
    "Quote",
    "SwapError",
    "SwapFill",
    "SwapRejected",
    "UniswapV2",
    "UniswapV2Config",
    "gas_with_headroom",
    "revert_reason",
]
