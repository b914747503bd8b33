"""One wallet account sending contract calls: managed nonces, gas with headroom, receipts, approvals,
and receipts read back into fills. Every DEX adapter (Uniswap V2, V3) sends through one of these.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Hashable, Mapping, Sequence
from decimal import Decimal
from typing import Any, Generic, TypeVar

from eth_typing import ChecksumAddress
from web3 import Web3
from web3.contract import Contract
from web3.exceptions import ContractLogicError

from grekko.adapters.evm.nonces import NonceManager
from grekko.adapters.evm.swaps import (
    MAX_UINT256,
    Quote,
    SwapError,
    SwapFill,
    SwapRejected,
    gas_with_headroom,
    revert_reason,
)
from grekko.ports.wallet import TxRequest, WalletProvider

K = TypeVar("K", bound=Hashable)


class AddressMemo(Generic[K]):
    """Factory lookups remembered: a pool, once created, stays at its address forever; "no pool
    yet" is remembered only for `miss_ttl_s`, so a pool created meanwhile is found."""

    def __init__(self, miss_ttl_s: float = 30.0) -> None:
        self._hits: dict[K, str] = {}
        self._misses: dict[K, float] = {}
        self._miss_ttl_s = miss_ttl_s

    def get(self, key: K, look_up: Callable[[], str | None]) -> str | None:
        if key in self._hits:
            return self._hits[key]
        missed = self._misses.get(key)
        if missed is not None and time.monotonic() - missed < self._miss_ttl_s:
            return None
        found = look_up()
        if found is None:
            self._misses[key] = time.monotonic()
        else:
            self._hits[key] = found
            self._misses.pop(key, None)
        return found


TRANSFER_TOPIC = bytes(Web3.keccak(text="Transfer(address,address,uint256)"))
_RECEIPT_TIMEOUT_S = 30


class ChainSender:
    """Sends for the wallet's first account; erc20_abi reads decimals and allowances."""

    def __init__(
        self,
        w3: Web3,
        wallet: WalletProvider,
        erc20_abi: Sequence[Mapping[str, Any]],
        nonces: NonceManager | None = None,
    ) -> None:
        self.w3 = w3
        self.wallet = wallet
        self.erc20_abi = list(erc20_abi)
        self.nonces = nonces or NonceManager(self._pending_count)
        self._decimals: dict[str, int] = {}

    def _pending_count(self, chain_id: int, address: str) -> int:
        del chain_id  # this manager serves one node
        return int(self.w3.eth.get_transaction_count(Web3.to_checksum_address(address), "pending"))

    @property
    def account(self) -> ChecksumAddress:
        accounts = self.wallet.get_accounts()
        if not accounts:
            raise SwapError("the wallet is not connected")
        return Web3.to_checksum_address(accounts[0])

    def contract(self, address: str, abi: Sequence[Mapping[str, Any]]) -> Contract:
        return self.w3.eth.contract(address=Web3.to_checksum_address(address), abi=list(abi))

    def decimals(self, token: str) -> int:
        key = Web3.to_checksum_address(token)
        if key not in self._decimals:
            erc20 = self.contract(key, self.erc20_abi)
            self._decimals[key] = int(erc20.functions.decimals().call())
        return self._decimals[key]

    def send(self, to: str, data: bytes, gas: int) -> str:
        """Send with a managed nonce; a send the node never accepted gives its nonce back."""
        chain_id, sender = self.wallet.chain_id, self.account
        nonce = self.nonces.next(chain_id, sender)
        try:
            return self.wallet.send_transaction(TxRequest(to=to, data=data, gas=gas, nonce=nonce))
        except Exception:
            self.nonces.release(chain_id, sender, nonce)
            raise

    def estimate(self, to: str, data: bytes) -> int:
        """Gas with headroom; raises ContractLogicError when the call would revert."""
        tx: Any = {"from": self.account, "to": Web3.to_checksum_address(to), "data": data}
        return gas_with_headroom(int(self.w3.eth.estimate_gas(tx)))

    def receipt(self, tx_hash: str) -> dict[str, Any]:
        receipt = self.w3.eth.wait_for_transaction_receipt(
            tx_hash,  # type: ignore[arg-type]
            timeout=_RECEIPT_TIMEOUT_S,
        )
        return dict(receipt)

    def ensure_allowance(self, token: str, spender: str, amount: int) -> str | None:
        """Approve `spender` for max uint once, when its allowance is short; the approval hash."""
        erc20 = self.contract(token, self.erc20_abi)
        spender = Web3.to_checksum_address(spender)
        if int(erc20.functions.allowance(self.account, spender).call()) >= amount:
            return None
        encoded = erc20.encode_abi("approve", args=[spender, MAX_UINT256])
        data = bytes.fromhex(encoded.removeprefix("0x"))
        tx_hash = self.send(erc20.address, data, self.estimate(erc20.address, data))
        if self.receipt(tx_hash)["status"] != 1:
            raise SwapError(f"approving {spender} for {token} reverted ({tx_hash})")
        return tx_hash

    def replay_reason(self, to: str, data: bytes, block: int) -> str:
        """The reason a mined call reverted: the same call run again on that block's state."""
        call: Any = {"from": self.account, "to": Web3.to_checksum_address(to), "data": data}
        try:
            self.w3.eth.call(call, block)
        except ContractLogicError as exc:
            return revert_reason(exc)
        return "reverted on chain; the replayed call succeeds on the block's final state"

    def swap(
        self, to: str, data: bytes, quote: Quote, min_amount_out: int
    ) -> SwapFill | SwapRejected:
        """Send one swap call for `quote`: a revert caught by the estimate never goes out; a
        mined revert has its reason replayed; a success is read back into a fill."""
        path, amount_in = quote.path, quote.amount_in
        try:
            gas = self.estimate(to, data)
        except ContractLogicError as exc:
            return SwapRejected(revert_reason(exc), path, amount_in, min_amount_out)
        tx_hash = self.send(to, data, gas)
        receipt = self.receipt(tx_hash)
        if receipt["status"] != 1:
            reason = self.replay_reason(to, data, receipt["blockNumber"])
            return SwapRejected(reason, path, amount_in, min_amount_out, tx_hash)
        return self.fill(tx_hash, path, receipt, protocol=quote.protocol, fees=quote.fees)

    def transfers(self, receipt: Mapping[str, Any], token: str) -> list[tuple[str, str, int]]:
        """(from, to, amount) of every ERC-20 Transfer of `token` in the receipt."""
        token = Web3.to_checksum_address(token)
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

    def fill(
        self,
        tx_hash: str,
        path: tuple[str, ...],
        receipt: Mapping[str, Any],
        *,
        protocol: str = "uniswap_v2",
        fees: tuple[int, ...] = (),
    ) -> SwapFill:
        """What really moved: the wallet's outgoing path[0] and incoming path[-1] transfers."""
        me = self.account
        paid = sum(v for s, _, v in self.transfers(receipt, path[0]) if s == me)
        got = sum(v for _, t, v in self.transfers(receipt, path[-1]) if t == me)
        if paid == 0:
            raise SwapError(f"swap {tx_hash} moved none of {path[0]} out of {me}")
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
            protocol=protocol,
            fees=fees,
        )
