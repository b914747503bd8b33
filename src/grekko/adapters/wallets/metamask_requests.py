"""What passes between the MetaMask bridge and the browser: requests as EIP-1193 calls, the
notices the bus carries, and the checks an answer must pass before the bridge takes it.

A browser is not trusted: an answer is the right shape for its request, a signature recovers to
the connected account, and a mined transaction is compared with what was asked before it is
reported as confirmed.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import msgspec
from eth_account import Account
from eth_account.messages import encode_defunct
from web3 import Web3

from grekko.adapters.wallets.answers import transaction_mismatch
from grekko.ports.wallet import TxRequest, WalletError

Publish = Callable[[str, object], None]
TX_HASH_RE = re.compile(r"0x[0-9a-fA-F]{64}")
SIGNATURE_RE = re.compile(r"0x[0-9a-fA-F]{130}")
MALFORMED = "malformed"
ERC20_BALANCE_OF = [
    {
        "name": "balanceOf",
        "type": "function",
        "stateMutability": "view",
        "inputs": [{"name": "owner", "type": "address"}],
        "outputs": [{"name": "", "type": "uint256"}],
    }
]


class RequestRefused(WalletError):
    """An answer the bridge will not take; `reason` is one of unknown, expired, settled,
    foreign (another user's request), disconnected (the wallet, or the account the request was
    made for, is gone), reused (a hash that answered another request) or malformed."""

    def __init__(self, message: str, reason: str) -> None:
        super().__init__(message)
        self.reason = reason


class MetaMaskRequest(msgspec.Struct, frozen=True, kw_only=True):
    """What the browser needs: window.ethereum.request({method, params}), answered by id."""

    ts_event: int
    provider_id: str
    request_id: str
    kind: str  # "transaction" | "sign"
    method: str
    params: list[Any]
    expires_at: int  # ns since the epoch


class MetaMaskNotice(msgspec.Struct, frozen=True, kw_only=True):
    """A metamask.* event or a request's settlement; `data` is JSON-ready."""

    ts_event: int
    provider_id: str
    data: dict[str, Any]


def checksum(address: str, what: str) -> str:
    try:
        return str(Web3.to_checksum_address(address))
    except (TypeError, ValueError) as exc:
        raise WalletError(f"{what} {address!r} is not an Ethereum address") from exc


def positive_chain_id(value: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise WalletError(f"chain id must be a positive int, got {value!r}")
    return value


def tx_params(tx: TxRequest, sender: str, chain_id: int) -> dict[str, str]:
    """eth_sendTransaction's object, hex quantities; unset fields are MetaMask's to fill in."""
    params = {
        "from": sender,
        "value": hex(tx.value),
        "data": "0x" + tx.data.hex(),
        "chainId": hex(chain_id),
    }
    if tx.to is not None:
        params["to"] = checksum(tx.to, "recipient")
    optional = {
        "gas": tx.gas,
        "nonce": tx.nonce,
        "maxFeePerGas": tx.max_fee_per_gas,
        "maxPriorityFeePerGas": tx.max_priority_fee_per_gas,
    }
    params.update({name: hex(value) for name, value in optional.items() if value is not None})
    return params


def check_answer(request: MetaMaskRequest, result: object) -> None:
    """RequestRefused unless `result` is a tx hash (transaction) or the account's signature."""
    if request.kind == "transaction":
        if not isinstance(result, str) or not TX_HASH_RE.fullmatch(result):
            raise RequestRefused("a transaction answer is a 0x-prefixed 32-byte hash", MALFORMED)
        return
    if not isinstance(result, str) or not SIGNATURE_RE.fullmatch(result):
        raise RequestRefused("a personal_sign answer is a 0x-prefixed 65-byte signature", MALFORMED)
    message = bytes.fromhex(request.params[0][2:])
    try:
        signer = Account.recover_message(encode_defunct(message), signature=result)
    except Exception:  # eth_keys' BadSignature, coincurve's ValueError: all a no
        raise RequestRefused("the signature recovers to no account", MALFORMED) from None
    if signer != request.params[1]:
        raise RequestRefused("the signature is not by the connected account", MALFORMED)


def mismatch(asked: dict[str, str], mined: Any) -> str:
    """Why the mined transaction is not the one asked for ('' when it is)."""
    return transaction_mismatch(asked, mined)
