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
from decimal import Decimal
from typing import Any

from eth_typing import ChecksumAddress
from web3 import Web3
from web3.contract import Contract
from web3.exceptions import ContractLogicError

from grekko.adapters.evm.nonces import NonceManager
from grekko.core.errors import GrekkoError
from grekko.ports.wallet import TxRequest, WalletProvider

MAX_UINT256 = 2**256 - 1
ZERO_ADDRESS = "0x" + "00" * 20
BPS = 10_000
TRANSFER_TOPIC = bytes(Web3.keccak(text="Transfer(address,address,uint256)"))
_RECEIPT_TIMEOUT_S = 30


def gas_with_headroom(estimate: int) -> int:
    """A V2 pair's first trade in a new block also writes its price accumulators (about 45k gas
    per pair), which an estimate made against the previous block misses; unused gas is refunded."""
    return estimate * 2 + 60_000


@dataclass(frozen=True)
class UniswapV2Config:
    router: str
    factory: str
    weth: str
    router_abi: Sequence[Mapping[str, Any]]
    pair_abi: Sequence[Mapping[str, Any]]
    erc20_abi: Sequence[Mapping[str, Any]]


@dataclass(frozen=True)
class Quote:
    path: tuple[str, ...]
    amount_in: int
    amount_out: int
    amounts: tuple[int, ...]  # what getAmountsOut gives for each hop, amount_in first


@dataclass(frozen=True)
class SwapFill:
    tx_hash: str
    path: tuple[str, ...]
    amount_in: int  # base units of path[0] that left the wallet
    amount_out: int  # base units of path[-1] that reached it
    price: Decimal  # whole out-tokens per whole in-token
    gas_used: int
    fee_wei: int  # gas used * effective gas price
    block_number: int


@dataclass(frozen=True)
class SwapRejected:
    reason: str  # the router's revert reason, e.g. "UniswapV2Router: INSUFFICIENT_OUTPUT_AMOUNT"
    path: tuple[str, ...]
    amount_in: int
    min_amount_out: int
    tx_hash: str | None = None  # None when the revert was caught before sending


class SwapError(GrekkoError):
    """A swap that failed for a reason other than the router's own revert."""


def _revert_reason(exc: ContractLogicError) -> str:
    text = str(exc.message if exc.message else exc)
    return text.removeprefix("execution reverted: ").removeprefix("execution reverted")


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
        self.wallet = wallet
        self.router = self._contract(config.router, config.router_abi)
        self.factory_address = Web3.to_checksum_address(config.factory)
        self.weth = Web3.to_checksum_address(config.weth)
        self._factory_abi = [_GET_PAIR_ABI]
        self.nonces = nonces or NonceManager(self._pending_count)
        self._decimals: dict[str, int] = {}

    def _contract(self, address: str, abi: Sequence[Mapping[str, Any]]) -> Contract:
        return self.w3.eth.contract(address=Web3.to_checksum_address(address), abi=list(abi))

    def _pending_count(self, chain_id: int, address: str) -> int:
        del chain_id  # this manager serves one node
        return int(self.w3.eth.get_transaction_count(Web3.to_checksum_address(address), "pending"))

    @property
    def account(self) -> ChecksumAddress:
        accounts = self.wallet.get_accounts()
        if not accounts:
            raise SwapError("the wallet is not connected")
        return Web3.to_checksum_address(accounts[0])

    # -- quotes and routes ----------------------------------------------------------------------

    def pair(self, token_a: str, token_b: str) -> str | None:
        factory = self.w3.eth.contract(address=self.factory_address, abi=self._factory_abi)
        a, b = Web3.to_checksum_address(token_a), Web3.to_checksum_address(token_b)
        address = str(factory.functions.getPair(a, b).call())
        return None if int(address, 16) == 0 else Web3.to_checksum_address(address)

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

    def decimals(self, token: str) -> int:
        key = Web3.to_checksum_address(token)
        if key not in self._decimals:
            erc20 = self._contract(key, self.config.erc20_abi)
            self._decimals[key] = int(erc20.functions.decimals().call())
        return self._decimals[key]

    # -- sending --------------------------------------------------------------------------------

    def _send(self, to: str, data: bytes, gas: int) -> str:
        """Send with a managed nonce; a send the node never accepted gives its nonce back."""
        chain_id, sender = self.wallet.chain_id, self.account
        nonce = self.nonces.next(chain_id, sender)
        try:
            return self.wallet.send_transaction(TxRequest(to=to, data=data, gas=gas, nonce=nonce))
        except Exception:
            self.nonces.release(chain_id, sender, nonce)
            raise

    def _estimate(self, to: str, data: bytes) -> int:
        tx: Any = {"from": self.account, "to": Web3.to_checksum_address(to), "data": data}
        return gas_with_headroom(int(self.w3.eth.estimate_gas(tx)))

    def _receipt(self, tx_hash: str) -> dict[str, Any]:
        receipt = self.w3.eth.wait_for_transaction_receipt(
            tx_hash,  # type: ignore[arg-type]
            timeout=_RECEIPT_TIMEOUT_S,
        )
        return dict(receipt)

    def ensure_allowance(self, token: str, amount: int) -> str | None:
        """Approve the router for max uint once, when its allowance is short; the approval hash."""
        erc20 = self._contract(token, self.config.erc20_abi)
        if int(erc20.functions.allowance(self.account, self.router.address).call()) >= amount:
            return None
        data = bytes.fromhex(
            erc20.encode_abi("approve", args=[self.router.address, MAX_UINT256]).removeprefix("0x")
        )
        tx_hash = self._send(erc20.address, data, self._estimate(erc20.address, data))
        if self._receipt(tx_hash)["status"] != 1:
            raise SwapError(f"approving the router for {token} reverted ({tx_hash})")
        return tx_hash

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
        """Swap exactly `amount_in` along the best route; amountOutMin is the quote less
        `slippage_bps` unless `min_amount_out` is given."""
        if amount_in <= 0 or not 0 <= slippage_bps < BPS:
            raise SwapError("amount_in must be positive and slippage_bps within [0, 10000)")
        best = self.best_quote(amount_in, token_in, token_out)
        if min_amount_out is None:
            min_amount_out = best.amount_out * (BPS - slippage_bps) // BPS
        self.ensure_allowance(best.path[0], amount_in)
        deadline = int(self.w3.eth.get_block("latest")["timestamp"]) + deadline_s
        args = [amount_in, min_amount_out, list(best.path), self.account, deadline]
        data = bytes.fromhex(
            self.router.encode_abi("swapExactTokensForTokens", args=args).removeprefix("0x")
        )
        try:
            gas = self._estimate(self.router.address, data)
        except ContractLogicError as exc:
            return SwapRejected(_revert_reason(exc), best.path, amount_in, min_amount_out)
        tx_hash = self._send(self.router.address, data, gas)
        receipt = self._receipt(tx_hash)
        if receipt["status"] != 1:
            reason = self._replay_reason(data, int(receipt["blockNumber"]))
            return SwapRejected(reason, best.path, amount_in, min_amount_out, tx_hash)
        return self._fill(tx_hash, best.path, receipt)

    def _replay_reason(self, data: bytes, block: int) -> str:
        """The reason a mined swap reverted: the same call run again on that block's state."""
        call: Any = {"from": self.account, "to": self.router.address, "data": data}
        try:
            self.w3.eth.call(call, block)
        except ContractLogicError as exc:
            return _revert_reason(exc)
        return "reverted on chain; the replayed call succeeds on the block's final state"

    def _transfers(self, receipt: Mapping[str, Any], token: str) -> list[tuple[str, str, int]]:
        out: list[tuple[str, str, int]] = []
        for entry in receipt["logs"]:
            topics = [bytes(t) for t in entry["topics"]]
            if Web3.to_checksum_address(entry["address"]) != token or len(topics) != 3:
                continue
            if topics[0] != TRANSFER_TOPIC:
                continue
            source = Web3.to_checksum_address(topics[1][-20:])
            target = Web3.to_checksum_address(topics[2][-20:])
            out.append((source, target, int.from_bytes(bytes(entry["data"]), "big")))
        return out

    def _fill(self, tx_hash: str, path: tuple[str, ...], receipt: Mapping[str, Any]) -> SwapFill:
        me = self.account
        paid = sum(v for s, _, v in self._transfers(receipt, path[0]) if s == me)
        got = sum(v for _, t, v in self._transfers(receipt, path[-1]) if t == me)
        scaled_in = Decimal(paid).scaleb(-self.decimals(path[0]))
        scaled_out = Decimal(got).scaleb(-self.decimals(path[-1]))
        gas_used = int(receipt["gasUsed"])
        return SwapFill(
            tx_hash=tx_hash,
            path=path,
            amount_in=paid,
            amount_out=got,
            price=scaled_out / scaled_in,
            gas_used=gas_used,
            fee_wei=gas_used * int(receipt["effectiveGasPrice"]),
            block_number=int(receipt["blockNumber"]),
        )


_GET_PAIR_ABI: dict[str, Any] = {
    "name": "getPair",
    "type": "function",
    "stateMutability": "view",
    "inputs": [{"name": "a", "type": "address"}, {"name": "b", "type": "address"}],
    "outputs": [{"name": "pair", "type": "address"}],
}
