"""The local Ethereum devnet: anvil from npm run as a background process, and the real protocol
contracts (WETH9, Uniswap V2) deployed onto it from their published npm artifacts.

`grekko.adapters.devnet.deploy` imports web3; it is imported from its module so the process manager
stays light.
"""

from grekko.adapters.devnet.devnet import Devnet, DevnetInfo, DevnetStatus
from grekko.adapters.devnet.paths import ChainError, anvil_binary, chain_dir

__all__ = ["ChainError", "Devnet", "DevnetInfo", "DevnetStatus", "anvil_binary", "chain_dir"]
