"""Deploying contracts and sending set-up transactions from a devnet dev account, one at a time.

Each protocol's deployment (Uniswap V2 and tokens in `deploy`, V3 in `deploy_v3`, Aave in
`deploy_aave`) is a list of Steps that `deploy_all` runs in order, skipping those already present.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, cast

from eth_account import Account
from eth_account.signers.local import LocalAccount
from eth_typing import ChecksumAddress
from web3 import Web3
from web3.contract import Contract
from web3.types import TxParams

from grekko.adapters.devnet.artifacts import Artifact
from grekko.adapters.devnet.paths import ChainError

# anvil's default accounts come from this public test mnemonic: devnet-only, never holds real funds
ANVIL_MNEMONIC = "test test test test test test test test test test test junk"

# (contract name, deploy it and return its address, is it already there)
Step = tuple[str, Callable[[], ChecksumAddress], Callable[[], bool]]


def dev_account(index: int = 0) -> LocalAccount:
    Account.enable_unaudited_hdwallet_features()
    account: LocalAccount = Account.from_mnemonic(
        ANVIL_MNEMONIC, account_path=f"m/44'/60'/0'/0/{index}"
    )
    return account


def _with_headroom(estimate: int) -> int:
    """An estimate holds for the block it was made in: a Uniswap V2 pair's first trade in a new
    second also writes its price accumulators (about 45k gas per pair touched), which an estimate
    made in the old second misses. Unused gas is refunded, and devnet ether is free."""
    return estimate * 2 + 60_000


class Deployer:
    """Signs and sends transactions from one account, waiting for each receipt."""

    def __init__(self, w3: Web3, account: LocalAccount) -> None:
        self.w3 = w3
        self.account = account

    def transact(self, tx: dict[str, Any]) -> dict[str, Any]:
        tx = {
            "from": self.account.address,
            "chainId": self.w3.eth.chain_id,
            "nonce": self.w3.eth.get_transaction_count(self.account.address, "pending"),
            **tx,
        }
        if "gas" not in tx:
            tx["gas"] = _with_headroom(self.w3.eth.estimate_gas(tx))  # type: ignore[arg-type]
        tx.setdefault("gasPrice", self.w3.eth.gas_price)
        signed = self.account.sign_transaction(tx)
        tx_hash = self.w3.eth.send_raw_transaction(signed.raw_transaction)
        receipt = dict(self.w3.eth.wait_for_transaction_receipt(tx_hash, timeout=30))
        if receipt["status"] != 1:
            raise ChainError(f"transaction {tx_hash.hex()} reverted")
        return receipt

    def deploy(self, artifact: Artifact, *args: Any) -> ChecksumAddress:
        factory = self.w3.eth.contract(abi=artifact.abi, bytecode=artifact.bytecode)
        params = cast("TxParams", {"from": self.account.address, "gas": 0, "gasPrice": 0})
        tx = factory.constructor(*args).build_transaction(params)  # encodes only: gas is given
        receipt = self.transact({"data": tx["data"]})
        address = receipt.get("contractAddress")
        if not address:
            raise ChainError(f"deploying {artifact.name} created no contract")
        return Web3.to_checksum_address(address)

    def call(self, contract: Contract, fn: str, *args: Any, value: int = 0) -> dict[str, Any]:
        data = contract.encode_abi(fn, args=list(args))
        return self.transact({"to": contract.address, "data": data, "value": value})


def has_code(w3: Web3, address: str | None) -> bool:
    return bool(address) and len(w3.eth.get_code(Web3.to_checksum_address(str(address)))) > 0
