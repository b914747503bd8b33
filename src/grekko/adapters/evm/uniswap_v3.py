"""Quote, route and swap on Uniswap V3 through its SwapRouter and QuoterV2, signing with a
WalletProvider.

Addresses and ABIs come in through UniswapV3Config (this adapter never imports the devnet that
deploys them locally). V3 has one pool per fee tier for a pair, so a route is a path plus the fee of
each hop: every direct tier, and one hop through WETH over every pair of tiers whose pools exist and
hold liquidity. QuoterV2 is declared nonpayable because it simulates the swap and reverts to report
it, but it is only ever eth_call'ed. Rejections and fills are those of every DEX adapter: a revert
caught by the pre-send estimate, or mined and replayed, comes back as SwapRejected with the
router's short reason ("Too little received", "STF").
"""

from __future__ import annotations

import functools
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

PROTOCOL = "uniswap_v3"
FEE_TIERS = (100, 500, 3000, 10000)  # hundredths of a bip: 0.01 %, 0.05 %, 0.3 %, 1 %
_NO_PRICE_LIMIT = 0
_FEE_BYTES = 3


@dataclass(frozen=True)
class UniswapV3Config:
    factory: str
    swap_router: str
    quoter: str  # QuoterV2
    weth: str
    factory_abi: Sequence[Mapping[str, Any]]
    swap_router_abi: Sequence[Mapping[str, Any]]
    quoter_abi: Sequence[Mapping[str, Any]]
    pool_abi: Sequence[Mapping[str, Any]]
    erc20_abi: Sequence[Mapping[str, Any]]
    fee_tiers: tuple[int, ...] = FEE_TIERS


def encode_path(tokens: Sequence[str], fees: Sequence[int]) -> bytes:
    """The router's packed path: token (20 bytes), fee (3 bytes), token, ... in swap order."""
    if len(tokens) != len(fees) + 1 or len(tokens) < 2:
        raise SwapError(f"a path of {len(tokens)} tokens needs {len(tokens) - 1} fees, not {fees}")
    packed = bytes.fromhex(Web3.to_checksum_address(tokens[0])[2:])
    for fee, token in zip(fees, tokens[1:], strict=True):
        packed += fee.to_bytes(_FEE_BYTES, "big") + bytes.fromhex(token[2:])
    return packed


class UniswapV3:
    """One wallet account trading through one SwapRouter, quoting with one QuoterV2."""

    def __init__(
        self,
        w3: Web3,
        config: UniswapV3Config,
        wallet: WalletProvider,
        nonces: NonceManager | None = None,
    ) -> None:
        self.w3 = w3
        self.config = config
        self.sender = ChainSender(w3, wallet, config.erc20_abi, nonces)
        self.router = self.sender.contract(config.swap_router, config.swap_router_abi)
        self.quoter = self.sender.contract(config.quoter, config.quoter_abi)
        self.factory = self.sender.contract(config.factory, config.factory_abi)
        self.weth = Web3.to_checksum_address(config.weth)
        self._known: AddressMemo[tuple[str, str, int]] = AddressMemo()

    @property
    def nonces(self) -> NonceManager:
        return self.sender.nonces

    @property
    def account(self) -> ChecksumAddress:
        return self.sender.account

    def decimals(self, token: str) -> int:
        return self.sender.decimals(token)

    def ensure_allowance(self, token: str, amount: int) -> str | None:
        return self.sender.ensure_allowance(token, self.router.address, amount)

    # -- pools and routes -----------------------------------------------------------------------

    def pools(self, token_a: str, token_b: str) -> dict[int, ChecksumAddress]:
        """fee tier -> pool, for the tiers whose pool exists and holds in-range liquidity."""
        a, b = Web3.to_checksum_address(token_a), Web3.to_checksum_address(token_b)
        found: dict[int, ChecksumAddress] = {}
        for fee in self.config.fee_tiers:
            address = self._known.get((a, b, fee), functools.partial(self._get_pool, a, b, fee))
            if address is None:
                continue
            pool = self.sender.contract(address, self.config.pool_abi)
            if int(pool.functions.liquidity().call()) > 0:
                found[fee] = pool.address
        return found

    def _get_pool(self, a: str, b: str, fee: int) -> str | None:
        address = str(self.factory.functions.getPool(a, b, fee).call())
        return None if int(address, 16) == 0 else address

    def routes(
        self, token_in: str, token_out: str
    ) -> list[tuple[tuple[str, ...], tuple[int, ...]]]:
        """(path, fees): each direct tier, then each tier pair through WETH with both pools."""
        a, b = Web3.to_checksum_address(token_in), Web3.to_checksum_address(token_out)
        found: list[tuple[tuple[str, ...], tuple[int, ...]]] = [
            ((a, b), (fee,)) for fee in self.pools(a, b)
        ]
        if self.weth not in (a, b):
            first, second = self.pools(a, self.weth), self.pools(self.weth, b)
            for fee_in, fee_out in itertools.product(first, second):
                found.append(((a, self.weth, b), (fee_in, fee_out)))
        return found

    # -- quotes ---------------------------------------------------------------------------------

    def quote(self, amount_in: int, path: Sequence[str], fees: Sequence[int]) -> Quote:
        """What exactly `amount_in` of path[0] buys of path[-1] along path at those fee tiers."""
        tokens = tuple(Web3.to_checksum_address(p) for p in path)
        packed = encode_path(tokens, fees)
        if len(tokens) == 2:
            single = (tokens[0], tokens[1], amount_in, fees[0], _NO_PRICE_LIMIT)
            out, _, _, gas = self.quoter.functions.quoteExactInputSingle(single).call()
        else:
            out, _, _, gas = self.quoter.functions.quoteExactInput(packed, amount_in).call()
        return Quote(
            path=tokens,
            amount_in=amount_in,
            amount_out=int(out),
            amounts=(amount_in, int(out)),
            fees=tuple(fees),
            protocol=PROTOCOL,
            gas_estimate=int(gas),
        )

    def quote_out(self, amount_out: int, path: Sequence[str], fees: Sequence[int]) -> Quote:
        """What exactly `amount_out` of path[-1] costs in path[0]; reverts when the pools along
        the path cannot give that much."""
        tokens = tuple(Web3.to_checksum_address(p) for p in path)
        reverse = encode_path(tokens[::-1], tuple(fees)[::-1])  # exact output runs backwards
        if len(tokens) == 2:
            single = (tokens[0], tokens[1], amount_out, fees[0], _NO_PRICE_LIMIT)
            paid, _, _, gas = self.quoter.functions.quoteExactOutputSingle(single).call()
        else:
            paid, _, _, gas = self.quoter.functions.quoteExactOutput(reverse, amount_out).call()
        return Quote(
            path=tokens,
            amount_in=int(paid),
            amount_out=amount_out,
            amounts=(int(paid), amount_out),
            fees=tuple(fees),
            protocol=PROTOCOL,
            gas_estimate=int(gas),
            exact_output=True,
        )

    def best_quote(self, amount_in: int, token_in: str, token_out: str) -> Quote:
        """Most out for exactly `amount_in` over every route."""
        quotes = self._quotes(amount_in, token_in, token_out, exact_output=False)
        if not quotes:
            raise SwapError(f"no Uniswap V3 route from {token_in} to {token_out}")
        return max(quotes, key=lambda q: q.amount_out)

    def best_quote_out(self, amount_out: int, token_in: str, token_out: str) -> Quote:
        """Least in for exactly `amount_out` over every route deep enough to give it."""
        quotes = self._quotes(amount_out, token_in, token_out, exact_output=True)
        if not quotes:
            raise SwapError(
                f"no Uniswap V3 route from {token_in} to {token_out} gives {amount_out} base units"
            )
        return min(quotes, key=lambda q: q.amount_in)

    def _quotes(
        self, amount: int, token_in: str, token_out: str, *, exact_output: bool
    ) -> list[Quote]:
        found: list[Quote] = []
        for path, fees in self.routes(token_in, token_out):
            try:
                if exact_output:
                    found.append(self.quote_out(amount, path, fees))
                else:
                    found.append(self.quote(amount, path, fees))
            except ContractLogicError:  # too shallow for this amount
                continue
        return found

    # -- swaps ----------------------------------------------------------------------------------

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
        """Swap along a quote's path and fees. Exact input: amountOutMinimum is the quote less
        `slippage_bps` unless `min_amount_out` is given. Exact output: amountInMaximum is the
        quote plus `slippage_bps`."""
        if quote.protocol != PROTOCOL or len(quote.fees) != len(quote.path) - 1:
            raise SwapError(f"not a Uniswap V3 quote: {quote.protocol} with fees {quote.fees}")
        if quote.amount_in <= 0 or not 0 <= slippage_bps < BPS:
            raise SwapError("amount_in must be positive and slippage_bps within [0, 10000)")
        deadline = int(self.w3.eth.get_block("latest")["timestamp"]) + deadline_s
        if quote.exact_output:
            limit = quote.amount_in * (BPS + slippage_bps) // BPS
            self.ensure_allowance(quote.path[0], limit)
            fn, params = self._exact_output_params(quote, limit, deadline)
            min_amount_out = quote.amount_out
        else:
            if min_amount_out is None:
                min_amount_out = quote.amount_out * (BPS - slippage_bps) // BPS
            self.ensure_allowance(quote.path[0], quote.amount_in)
            fn, params = self._exact_input_params(quote, min_amount_out, deadline)
        encoded = self.router.encode_abi(fn, args=[params])
        return self._submit(quote, bytes.fromhex(encoded.removeprefix("0x")), min_amount_out)

    def _exact_input_params(
        self, quote: Quote, min_amount_out: int, deadline: int
    ) -> tuple[str, tuple[Any, ...]]:
        me, path = self.account, quote.path
        if len(path) == 2:
            single = (path[0], path[1], quote.fees[0], me, deadline, quote.amount_in)
            return "exactInputSingle", (*single, min_amount_out, _NO_PRICE_LIMIT)
        packed = encode_path(path, quote.fees)
        return "exactInput", (packed, me, deadline, quote.amount_in, min_amount_out)

    def _exact_output_params(
        self, quote: Quote, max_amount_in: int, deadline: int
    ) -> tuple[str, tuple[Any, ...]]:
        me, path = self.account, quote.path
        if len(path) == 2:
            single = (path[0], path[1], quote.fees[0], me, deadline, quote.amount_out)
            return "exactOutputSingle", (*single, max_amount_in, _NO_PRICE_LIMIT)
        packed = encode_path(path[::-1], quote.fees[::-1])
        return "exactOutput", (packed, me, deadline, quote.amount_out, max_amount_in)

    def _submit(self, quote: Quote, data: bytes, min_amount_out: int) -> SwapFill | SwapRejected:
        return self.sender.swap(self.router.address, data, quote, min_amount_out)
