"""EVM chains through web3.py: nonce management and Uniswap V2 swaps, signed by a WalletProvider."""

from grekko.adapters.evm.nonces import NonceManager
from grekko.adapters.evm.uniswap_v2 import (
    Quote,
    SwapError,
    SwapFill,
    SwapRejected,
    UniswapV2,
    UniswapV2Config,
    gas_with_headroom,
)

__all__ = [
    "NonceManager",
    "Quote",
    "SwapError",
    "SwapFill",
    "SwapRejected",
    "UniswapV2",
    "UniswapV2Config",
    "gas_with_headroom",
]
