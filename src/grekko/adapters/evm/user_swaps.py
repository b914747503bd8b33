"""Swaps for an account the platform does not sign for: a trader's browser or phone wallet.

The platform quotes on Uniswap V2 and builds the calls; the wallet signs and sends them. A token
sold needs the router's allowance first, so the plan is an approve (only when the allowance is
short, and only for the amount sold, never unlimited) followed by the swap. Ether is sold or
bought as the native coin through the router's ETH functions (WETH wraps and unwraps inside), so
a wallet holding only ether can trade without an approval.

The minimum received is the quote less the slippage; the router reverts below it, so a price
that moves between quote and signature costs the trader nothing but gas.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from web3 import Web3

from grekko.adapters.evm.swaps import BPS, Quote, SwapError
from grekko.adapters.evm.uniswap_v2 import UniswapV2

NATIVE = "ETH"
_ALLOWANCE_ABI: list[dict[str, Any]] = [
    {
        "name": "allowance",
        "type": "function",
        "stateMutability": "view",
        "inputs": [{"name": "owner", "type": "address"}, {"name": "spender", "type": "address"}],
        "outputs": [{"name": "", "type": "uint256"}],
    },
    {
        "name": "approve",
        "type": "function",
        "stateMutability": "nonpayable",
        "inputs": [{"name": "spender", "type": "address"}, {"name": "amount", "type": "uint256"}],
        "outputs": [{"name": "", "type": "bool"}],
    },
]


@dataclass(frozen=True)
class SwapCall:
    """One transaction for the wallet: approve or swap."""

    purpose: str
    to: str
    data: bytes
    value: int = 0


@dataclass(frozen=True)
class SwapPlan:
    owner: str
    token_in: str | None  # None: ether
    token_out: str | None  # None: ether
    quote: Quote
    min_amount_out: int
    calls: tuple[SwapCall, ...]


class UserSwapPlanner:
    """Quotes and swap calls for `owner` through one Uniswap V2 router."""

    def __init__(self, w3: Web3, v2: UniswapV2) -> None:
        self.w3 = w3
        self.v2 = v2

    def plan(
        self,
        owner: str,
        token_in: str | None,
        token_out: str | None,
        amount_in: int,
        slippage_bps: int,
        deadline_s: int = 600,
    ) -> SwapPlan:
        """token_in / token_out None mean ether; SwapError when no pool routes the pair."""
        if amount_in <= 0:
            raise SwapError("the amount sold must be positive")
        if not 0 <= slippage_bps < BPS:
            raise SwapError("slippage_bps must be within [0, 10000)")
        if token_in is None and token_out is None:
            raise SwapError("ether for ether is no swap")
        weth = self.v2.weth
        path_in, path_out = token_in or weth, token_out or weth
        if Web3.to_checksum_address(path_in) == Web3.to_checksum_address(path_out):
            raise SwapError("the token sold and the token bought are the same")
        quote = self.v2.best_quote(amount_in, path_in, path_out)
        min_out = quote.amount_out * (BPS - slippage_bps) // BPS
        me = Web3.to_checksum_address(owner)
        calls: list[SwapCall] = []
        if token_in is not None and self._allowance(token_in, me) < amount_in:
            calls.append(self._approve(token_in, amount_in))
        calls.append(self._swap(quote, min_out, me, token_in, token_out, deadline_s))
        return SwapPlan(me, token_in, token_out, quote, min_out, tuple(calls))

    def _allowance(self, token: str, owner: str) -> int:
        erc20 = self.w3.eth.contract(address=Web3.to_checksum_address(token), abi=_ALLOWANCE_ABI)
        return int(erc20.functions.allowance(owner, self.v2.router.address).call())

    def _approve(self, token: str, amount: int) -> SwapCall:
        erc20 = self.w3.eth.contract(address=Web3.to_checksum_address(token), abi=_ALLOWANCE_ABI)
        data = erc20.encode_abi("approve", args=[self.v2.router.address, amount])
        return SwapCall("approve", erc20.address, bytes.fromhex(data.removeprefix("0x")))

    def _swap(
        self,
        quote: Quote,
        min_out: int,
        recipient: str,
        token_in: str | None,
        token_out: str | None,
        deadline_s: int,
    ) -> SwapCall:
        deadline = int(self.w3.eth.get_block("latest")["timestamp"]) + deadline_s
        path = list(quote.path)
        value = 0
        if token_in is None:
            fn, args = "swapExactETHForTokens", [min_out, path, recipient, deadline]
            value = quote.amount_in
        elif token_out is None:
            fn = "swapExactTokensForETH"
            args = [quote.amount_in, min_out, path, recipient, deadline]
        else:
            fn = "swapExactTokensForTokens"
            args = [quote.amount_in, min_out, path, recipient, deadline]
        data = self.v2.router.encode_abi(fn, args=args)
        return SwapCall("swap", self.v2.router.address, bytes.fromhex(data[2:]), value)

    def received(self, plan: SwapPlan, receipt: Any) -> int:
        """What the swap's block credited to the owner in the token bought (ether net of the
        gas the swap paid, which the owner's balance change includes)."""
        block = int(receipt["blockNumber"])
        if plan.token_out is None:
            before = int(self.w3.eth.get_balance(plan.owner, block - 1))  # type: ignore[arg-type]
            after = int(self.w3.eth.get_balance(plan.owner, block))  # type: ignore[arg-type]
            gas = int(receipt["gasUsed"]) * int(receipt["effectiveGasPrice"])
            return after - before + gas
        erc20 = self.w3.eth.contract(
            address=Web3.to_checksum_address(plan.token_out), abi=_BALANCE_ABI
        )
        before = int(erc20.functions.balanceOf(plan.owner).call(block_identifier=block - 1))
        after = int(erc20.functions.balanceOf(plan.owner).call(block_identifier=block))
        return after - before


_BALANCE_ABI: list[dict[str, Any]] = [
    {
        "name": "balanceOf",
        "type": "function",
        "stateMutability": "view",
        "inputs": [{"name": "owner", "type": "address"}],
        "outputs": [{"name": "", "type": "uint256"}],
    }
]
