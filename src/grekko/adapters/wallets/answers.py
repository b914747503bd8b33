"""What a browser or phone wallet's word must pass before the platform takes it.

MetaMask and WalletConnect wallets sign and send on the user's side, so the transaction hash is
all the server learns. A wallet (or whoever drives it) could answer with the hash of some other
transaction, or with the hash of an earlier one for an identical request. So a reported hash is
read back from the platform's own node and compared with what was asked, and one hash answers
one request only. Gas and fees are left out of the comparison: the user may change them in the
wallet, and they change nothing about what the transaction does.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Mapping
from typing import Any

from web3 import Web3

from grekko.ports.wallet import WalletError

MinedReader = Callable[[str], Mapping[str, Any]]
HASHES_KEPT = 4096


def _number(value: object) -> int:
    if value is None:
        return 0
    if isinstance(value, str):
        return int(value, 16) if value.startswith("0x") else int(value)
    if isinstance(value, int):
        return value
    raise WalletError(f"a quantity is an int or a hex string, not {type(value).__name__}")


def _hex_data(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, str):
        return value.removeprefix("0x").lower()
    if isinstance(value, bytes | bytearray):
        return bytes(value).hex()
    raise WalletError(f"calldata is bytes or a hex string, not {type(value).__name__}")


def transaction_mismatch(asked: Mapping[str, Any], mined: Mapping[str, Any]) -> str:
    """Why the mined transaction is not the one asked for ('' when it is).

    `asked` is eth_sendTransaction's object (hex quantities, `data`); `mined` what the node
    returns for the hash (eth_getTransactionByHash: `input`, ints or hex)."""
    if str(mined.get("from") or "").lower() != str(asked.get("from") or "").lower():
        return "sent from another account"
    if str(mined.get("to") or "").lower() != str(asked.get("to") or "").lower():
        return "sent to another address"
    if _number(mined.get("value")) != _number(asked.get("value")):
        return "sent another value"
    if _hex_data(mined.get("input")) != _hex_data(asked.get("data")):
        return "sent other calldata"
    asked_chain, mined_chain = asked.get("chainId"), mined.get("chainId")
    known = asked_chain is not None and mined_chain is not None
    if known and _number(mined_chain) != _number(asked_chain):
        return "sent on another chain"
    return ""


class AnsweredHashes:
    """The transaction hashes already taken as answers, each with the request it answered;
    bounded, oldest forgotten first. Thread-safe under the caller's lock only."""

    def __init__(self, kept: int = HASHES_KEPT) -> None:
        self._kept = kept
        self._hashes: OrderedDict[str, str] = OrderedDict()

    def claim(self, tx_hash: str, request_id: str) -> str | None:
        """Record that `tx_hash` answers `request_id`; the earlier request it answered, if any
        (then nothing is recorded)."""
        key = tx_hash.lower()
        earlier = self._hashes.get(key)
        if earlier is not None and earlier != request_id:
            return earlier
        self._hashes[key] = request_id
        while len(self._hashes) > self._kept:
            self._hashes.popitem(last=False)
        return None


def mined_transactions(w3: Web3, timeout_s: float, poll_s: float = 0.2) -> MinedReader:
    """A reader of the transaction a hash names, once mined on `w3`'s node; WalletError when
    it is not mined within timeout_s (a wallet's hash for nothing ends here too)."""

    def read(tx_hash: str) -> Mapping[str, Any]:
        try:
            w3.eth.wait_for_transaction_receipt(
                tx_hash,  # type: ignore[arg-type]
                timeout=timeout_s,
                poll_latency=poll_s,
            )
            mined: Mapping[str, Any] = w3.eth.get_transaction(tx_hash)  # type: ignore[arg-type]
        except Exception as exc:
            raise WalletError(
                f"the transaction {tx_hash} the wallet reported was not mined within "
                f"{timeout_s:g} s ({type(exc).__name__})"
            ) from None
        return mined

    return read


def verify_sent(tx_hash: str, asked: Mapping[str, Any], read: MinedReader | None, who: str) -> None:
    """WalletError unless the mined `tx_hash` is the transaction `asked` for."""
    if read is None:
        raise WalletError(f"{who} reported {tx_hash}, but there is no chain to check it on")
    wrong = transaction_mismatch(asked, read(tx_hash))
    if wrong:
        raise WalletError(
            f"{who} reported {tx_hash}, a transaction other than the one asked ({wrong})"
        )
