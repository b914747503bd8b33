"""Quote, route and swap on Uniswap V2 through its Router02, signing with a WalletProvider.

Addresses and ABIs come in through UniswapV2Config, so this adapter works on any chain the
router is deployed to (and never imports the devnet that deploys it locally). A route is either
the direct pair or one hop through WETH; a path whose pair the factory does not know is no route,
because the router would revert on it. A swap whose pre-send estimate reverts never goes out and
comes back as SwapRejected with the router's reason; so does a sent swap that reverts on chain,
its reason read by replaying the call at its block.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from eth_typing import ChecksumAddress
from web3 import Web3
from web3.exceptions import ContractLogicError

from grekko.adapters.evm.nonces import NonceManager
from grekko.adapters.evm.sending import AddressMemo, ChainSender
from grekko.adapters.evm.swaps import BPS, Quote, SwapError, SwapFill, SwapRejected
from grekko.ports.wallet import WalletProvider


@dataclass(frozen=True)
class UniswapV2Config:
    router: str
    factory: str
    weth: str
    router_abi: Sequence[Mapping[str, Any]]
    pair_abi: Sequence[Mapping[str, Any]]
    erc20_abi: Sequence[Mapping[str, Any]]


class UniswapV2:
    """One wallet account trading through one Router02."""

    def __init__(
        self,
        w3: Web3,
        config: UniswapV2Config,
        wallet: WalletProvider,
        nonces: NonceManager | None = None,
    ) -> None:
        self.w3 = w3
        self.config = config
        self.sender = ChainSender(w3, wallet, config.erc20_abi, nonces)
        self.router = self.sender.contract(config.router, config.router_abi)
        self.factory = self.sender.contract(config.factory, [_GET_PAIR_ABI])
        self.weth = Web3.to_checksum_address(config.weth)
        self._known: AddressMemo[tuple[str, str]] = AddressMemo()

    @property
    def nonces(self) -> NonceManager:
        return self.sender.nonces

    @property
    def account(self) -> ChecksumAddress:
        return self.sender.account

    # -- quotes and routes ----------------------------------------------------------------------

    def pair(self, token_a: str, token_b: str) -> str | None:
        a, b = Web3.to_checksum_address(token_a), Web3.to_checksum_address(token_b)
        address = self._known.get((a, b), lambda: self._get_pair(a, b))
        return None if address is None else Web3.to_checksum_address(address)

    def _get_pair(self, a: str, b: str) -> str | None:
        address = str(self.factory.functions.getPair(a, b).call())
        return None if int(address, 16) == 0 else address

    def routes(self, token_in: str, token_out: str) -> list[tuple[str, ...]]:
        """Direct pair and one hop via WETH, keeping only paths whose every pair exists."""
        a, b = Web3.to_checksum_address(token_in), Web3.to_checksum_address(token_out)
        candidates: list[tuple[str, ...]] = [(a, b)]
        if self.weth not in (a, b):
            candidates.append((a, self.weth, b))
        return [
            path
            for path in candidates
            if all(self.pair(x, y) is not None for x, y in itertools.pairwise(path))
        ]

    def quote(self, amount_in: int, path: Sequence[str]) -> Quote:
        checked = tuple(Web3.to_checksum_address(p) for p in path)
        amounts = self.router.functions.getAmountsOut(amount_in, list(checked)).call()
        return Quote(checked, amount_in, int(amounts[-1]), tuple(int(x) for x in amounts))

    def best_quote(self, amount_in: int, token_in: str, token_out: str) -> Quote:
        routes = self.routes(token_in, token_out)
        if not routes:
            raise SwapError(f"no Uniswap V2 route from {token_in} to {token_out}")
        return max((self.quote(amount_in, p) for p in routes), key=lambda q: q.amount_out)

    def quote_out(self, amount_out: int, path: Sequence[str]) -> Quote:
        """What exactly `amount_out` of path[-1] costs in path[0] (getAmountsIn)."""
        checked = tuple(Web3.to_checksum_address(p) for p in path)
        amounts = self.router.functions.getAmountsIn(amount_out, list(checked)).call()
        ints = tuple(int(x) for x in amounts)
        return Quote(checked, ints[0], amount_out, ints, exact_output=True)

    def best_quote_out(self, amount_out: int, token_in: str, token_out: str) -> Quote:
        routes = self.routes(token_in, token_out)
        if not routes:
            raise SwapError(f"no Uniswap V2 route from {token_in} to {token_out}")
        quotes = []
        for path in routes:
            try:
                quotes.append(self.quote_out(amount_out, path))
            except ContractLogicError:  # the pool holds less than amount_out
                continue
        if not quotes:
            raise SwapError(f"no Uniswap V2 pool from {token_in} holds {amount_out} {token_out}")
        return min(quotes, key=lambda q: q.amount_in)

    def decimals(self, token: str) -> int:
        return self.sender.decimals(token)

    def ensure_allowance(self, token: str, amount: int) -> str | None:
        return self.sender.ensure_allowance(token, self.router.address, amount)

    def swap(
        self,
        amount_in: int,
        token_in: str,
        token_out: str,
        slippage_bps: int = 50,
        deadline_s: int = 300,
        *,
        min_amount_out: int | None = None,
    ) -> SwapFill | SwapRejected:
        """Swap exactly `amount_in` along the best route."""
        if amount_in <= 0:
            raise SwapError("amount_in must be positive")
        best = self.best_quote(amount_in, token_in, token_out)
        return self.execute(best, slippage_bps, deadline_s, min_amount_out=min_amount_out)

    def execute(
        self,
        quote: Quote,
        slippage_bps: int = 50,
        deadline_s: int = 300,
        *,
        min_amount_out: int | None = None,
    ) -> SwapFill | SwapRejected:
        """Swap along a quote's path; amountOutMin is the quote less `slippage_bps` unless
        `min_amount_out` is given."""
        if quote.amount_in <= 0 or not 0 <= slippage_bps < BPS:
            raise SwapError("amount_in must be positive and slippage_bps within [0, 10000)")
        amount_in, path = quote.amount_in, quote.path
        deadline = int(self.w3.eth.get_block("latest")["timestamp"]) + deadline_s
        if quote.exact_output:  # the limit is on what may be paid
            limit = amount_in * (BPS + slippage_bps) // BPS
            self.ensure_allowance(path[0], limit)
            fn, args = "swapTokensForExactTokens", [quote.amount_out, limit, list(path)]
            min_amount_out = quote.amount_out
        else:
            if min_amount_out is None:
                min_amount_out = quote.amount_out * (BPS - slippage_bps) // BPS
            self.ensure_allowance(path[0], amount_in)
            fn, args = "swapExactTokensForTokens", [amount_in, min_amount_out, list(path)]
        encoded = self.router.encode_abi(fn, args=[*args, self.account, deadline])
        data = bytes.fromhex(encoded.removeprefix("0x"))
        return self.sender.swap(self.router.address, data, quote, min_amount_out)


_GET_PAIR_ABI: dict[str, Any] = {
    "name": "getPair",
    "type": "function",
    "stateMutability": "view",
    "inputs": [{"name": "a", "type": "address"}, {"name": "b", "type": "address"}],
    "outputs": [{"name": "pair", "type": "address"}],
}
