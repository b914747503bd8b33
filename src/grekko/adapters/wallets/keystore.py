"""KeystoreWallet: one account in an encrypted V3 keystore file, the devnet's default signer.

The file (<data_dir>/keystore/<address>.json, mode 0600) is Ethereum's Web3 Secret Storage V3:
scrypt stretches the password, AES-128-CTR encrypts the key, a MAC detects a wrong password. The
password is never configuration: it is a secret in the SecretStore, read at unlock time.

Unlocking copies the key into a bytearray that lock (disconnect) overwrites with zeros. That is
as far as Python goes: eth_account makes short-lived immutable copies while signing, which the
garbage collector frees but does not clear. No method returns the key, and repr, logs and error
messages name only the address.
"""

from __future__ import annotations

import json
import logging
import os
import secrets as pysecrets
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from eth_account import Account
from eth_account.messages import encode_defunct
from web3 import Web3

from grekko.ports.secrets import SecretNotFound, SecretStore
from grekko.ports.wallet import (
    ChainInfo,
    SignedTx,
    TxRequest,
    UnknownChain,
    WalletError,
    WalletEvent,
    WalletEventHandlers,
    WalletHandler,
    WalletLocked,
)

log = logging.getLogger("grekko.wallets.keystore")

KEYSTORE_DIR = "keystore"
DEFAULT_SCRYPT_N = 2**18  # geth's "standard" scrypt cost: about 0.7 s and 256 MiB per unlock
_ERC20_BALANCE_OF = [
    {
        "name": "balanceOf",
        "type": "function",
        "stateMutability": "view",
        "inputs": [{"name": "owner", "type": "address"}],
        "outputs": [{"name": "", "type": "uint256"}],
    }
]


def _gas_with_headroom(estimate: int) -> int:
    """Twice the estimate plus 60k: a Uniswap V2 pair's first trade in a new block also updates
    its price accumulators, which an estimate made against the previous block misses."""
    return estimate * 2 + 60_000


def _checksum(address: str, what: str) -> str:
    try:
        return str(Web3.to_checksum_address(address))
    except (TypeError, ValueError) as exc:
        raise WalletError(f"{what} {address!r} is not an Ethereum address") from exc


def keystore_path(data_dir: Path, address: str) -> Path:
    return Path(data_dir) / KEYSTORE_DIR / f"{_checksum(address, 'address')}.json"


def _write_private(path: Path, text: str) -> None:
    """Create the file 0600 from the start (no window with wider rights); never overwrite."""
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        raise WalletError(f"a keystore for this account already exists at {path}") from None
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(text)


class KeystoreWallet:
    """The WalletProvider port for one keystore account; connect unlocks, disconnect locks."""

    provider_id = "keystore"
    name = "Keystore"

    def __init__(
        self,
        keystore_file: Path,
        secrets: SecretStore,
        password_secret: str,
        chains: Sequence[ChainInfo],
        *,
        chain_id: int | None = None,
        timeout_s: float = 30.0,
    ) -> None:
        self._path = Path(keystore_file)
        self._keystore = self._load_keystore(self._path)
        self._address = _checksum(str(self._keystore.get("address", "")), "keystore address")
        self._secrets = secrets
        self._password_secret = password_secret
        self._chains: dict[int, ChainInfo] = {}
        for chain in chains:
            self._chains[chain.chain_id] = chain
        if not self._chains:
            raise WalletError("a wallet needs at least one chain")
        self._chain_id = chain_id if chain_id is not None else next(iter(self._chains))
        self._chain(self._chain_id)
        self._timeout_s = timeout_s
        self._web3: dict[str, Web3] = {}
        self._key: bytearray | None = None
        self._events = WalletEventHandlers(f"wallet {self._address}")

    @classmethod
    def create(
        cls,
        data_dir: Path,
        secrets: SecretStore,
        password_secret: str,
        chains: Sequence[ChainInfo],
        *,
        private_key: bytes | str | None = None,
        scrypt_n: int = DEFAULT_SCRYPT_N,
        chain_id: int | None = None,
    ) -> KeystoreWallet:
        """Encrypt a new (or the given) key into a keystore file and return it, still locked.

        When the SecretStore has no `password_secret` yet, a random password is drawn and stored
        there, so nobody ever types or configures it.
        """
        try:
            password = secrets.get(password_secret)
        except SecretNotFound:
            password = pysecrets.token_urlsafe(32)
            secrets.put(password_secret, password)
        try:
            account = Account.from_key(private_key) if private_key is not None else Account.create()
        except (TypeError, ValueError):
            raise WalletError("the private key to import is not a valid secp256k1 key") from None
        encrypted = Account.encrypt(account.key, password, kdf="scrypt", iterations=scrypt_n)
        path = keystore_path(data_dir, account.address)
        _write_private(path, json.dumps(encrypted))
        log.info("created keystore for %s at %s", account.address, path)
        del account, password
        return cls(path, secrets, password_secret, chains, chain_id=chain_id)

    @classmethod
    def open(
        cls,
        data_dir: Path,
        address: str,
        secrets: SecretStore,
        password_secret: str,
        chains: Sequence[ChainInfo],
        *,
        chain_id: int | None = None,
    ) -> KeystoreWallet:
        return cls(
            keystore_path(data_dir, address), secrets, password_secret, chains, chain_id=chain_id
        )

    @staticmethod
    def _load_keystore(path: Path) -> dict[str, Any]:
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise WalletError(f"no keystore file at {path}") from None
        except ValueError:
            raise WalletError(f"{path} is not a JSON keystore") from None
        if not isinstance(data, dict) or data.get("version") != 3 or "crypto" not in data:
            raise WalletError(f"{path} is not a V3 keystore")
        return data

    def __repr__(self) -> str:
        state = "unlocked" if self._key is not None else "locked"
        return f"KeystoreWallet({self._address}, {state}, chain {self._chain_id})"

    __str__ = __repr__

    def __getstate__(self) -> object:
        raise TypeError("a KeystoreWallet cannot be pickled: it may hold an unlocked key")

    @property
    def address(self) -> str:
        return self._address

    @property
    def keystore_file(self) -> Path:
        return self._path

    @property
    def supported_chains(self) -> tuple[ChainInfo, ...]:
        return tuple(self._chains.values())

    @property
    def chain_id(self) -> int:
        return self._chain_id

    # -- connection (unlock / lock) -------------------------------------------------------------

    def connect(self) -> list[str]:
        if self._key is None:
            self._key = self._unlock()
            log.info("unlocked keystore wallet %s", self._address)
            self._emit("connect", self._chain_id)
            self._emit("accountsChanged", [self._address])
        return [self._address]

    def _unlock(self) -> bytearray:
        try:
            password = self._secrets.get(self._password_secret)
        except SecretNotFound:
            raise WalletError(
                f"the keystore password secret {self._password_secret!r} is not in the secret store"
            ) from None
        try:
            key = bytearray(Account.decrypt(self._keystore, password))
        except ValueError:
            raise WalletError(
                f"the password in secret {self._password_secret!r} does not open the keystore "
                f"of {self._address}"
            ) from None
        finally:
            del password
        return key

    def disconnect(self) -> None:
        if self._key is None:
            return
        self._wipe()
        log.info("locked keystore wallet %s", self._address)
        self._emit("accountsChanged", [])
        self._emit("disconnect", None)

    def _wipe(self) -> None:
        if self._key is not None:
            for i in range(len(self._key)):
                self._key[i] = 0
            self._key = None

    def __del__(self) -> None:
        if getattr(self, "_key", None) is not None:
            self._wipe()

    lock = disconnect
    unlock = connect

    def is_connected(self) -> bool:
        return self._key is not None

    def get_accounts(self) -> list[str]:
        return [self._address] if self._key is not None else []

    # -- chains ---------------------------------------------------------------------------------

    def _chain(self, chain_id: int) -> ChainInfo:
        chain = self._chains.get(chain_id)
        if chain is None:
            known = sorted(self._chains)
            raise UnknownChain(f"chain {chain_id} is not one of this wallet's chains {known}")
        return chain

    def switch_chain(self, chain_id: int) -> None:
        self._chain(chain_id)
        if chain_id != self._chain_id:
            self._chain_id = chain_id
            self._emit("chainChanged", chain_id)

    def add_chain(self, chain: ChainInfo) -> None:
        self._chains[chain.chain_id] = chain

    def _w3(self) -> Web3:
        url = self._chain(self._chain_id).rpc_url
        if url not in self._web3:
            provider = Web3.HTTPProvider(url, request_kwargs={"timeout": self._timeout_s})
            self._web3[url] = Web3(provider)
        return self._web3[url]

    def get_balance(self, address: str, token: str | None = None) -> int:
        owner = Web3.to_checksum_address(_checksum(address, "address"))
        w3 = self._w3()
        if token is None:
            return int(w3.eth.get_balance(owner))
        contract = w3.eth.contract(
            address=Web3.to_checksum_address(_checksum(token, "token")), abi=_ERC20_BALANCE_OF
        )
        return int(contract.functions.balanceOf(owner).call())

    # -- signing --------------------------------------------------------------------------------

    def _unlocked_key(self) -> bytes:
        if self._key is None:
            raise WalletLocked(f"wallet {self._address} is locked: connect() unlocks it")
        return bytes(self._key)

    def sign_message(self, message: str | bytes) -> bytes:
        """EIP-191 personal_sign: text is UTF-8, bytes are signed as they are."""
        signable = (
            encode_defunct(text=message) if isinstance(message, str) else encode_defunct(message)
        )
        signed = Account.sign_message(signable, self._unlocked_key())
        return bytes(signed.signature)

    def sign_transaction(self, tx: TxRequest) -> SignedTx:
        """Sign offline on the current chain; every TxRequest field must be filled in."""
        if not tx.complete:
            raise WalletError(
                "sign_transaction needs gas, nonce, max_fee_per_gas and max_priority_fee_per_gas "
                "(send_transaction fills them in from the node)"
            )
        fields: dict[str, Any] = {
            "type": 2,
            "chainId": self._chain_id,
            "nonce": tx.nonce,
            "gas": tx.gas,
            "maxFeePerGas": tx.max_fee_per_gas,
            "maxPriorityFeePerGas": tx.max_priority_fee_per_gas,
            "value": tx.value,
            "data": tx.data,
        }
        if tx.to is not None:
            fields["to"] = _checksum(tx.to, "recipient")
        signed = Account.sign_transaction(fields, self._unlocked_key())
        return SignedTx(
            raw=bytes(signed.raw_transaction),
            tx_hash="0x" + bytes(signed.hash).hex(),
            sender=self._address,
            chain_id=self._chain_id,
            nonce=int(fields["nonce"]),
        )

    def send_transaction(self, tx: TxRequest) -> str:
        """Fill in nonce (pending count), fees and gas from the node, sign, broadcast."""
        self._unlocked_key()  # a locked wallet fails before touching the node
        try:
            signed = self.sign_transaction(self._filled(tx))
            tx_hash = self._w3().eth.send_raw_transaction(signed.raw)
        except WalletError:
            raise
        except Exception as exc:
            error = WalletError(f"chain {self._chain_id} refused the transaction: {exc}")
            self._emit("error", error)
            raise error from None
        log.info("sent %s from %s on chain %s", signed.tx_hash, self._address, self._chain_id)
        return "0x" + bytes(tx_hash).hex()

    def _filled(self, tx: TxRequest) -> TxRequest:
        w3 = self._w3()
        sender = Web3.to_checksum_address(self._address)
        nonce = tx.nonce
        if nonce is None:
            nonce = int(w3.eth.get_transaction_count(sender, "pending"))
        tip = tx.max_priority_fee_per_gas
        if tip is None:
            tip = int(w3.eth.max_priority_fee)
        fee = tx.max_fee_per_gas
        if fee is None:
            base = int(w3.eth.get_block("pending").get("baseFeePerGas", 0))
            fee = 2 * base + tip
        tip = min(tip, fee)
        gas = tx.gas
        if gas is None:
            estimate: dict[str, Any] = {"from": sender, "value": tx.value, "data": tx.data}
            if tx.to is not None:
                estimate["to"] = Web3.to_checksum_address(_checksum(tx.to, "recipient"))
            gas = _gas_with_headroom(int(w3.eth.estimate_gas(estimate)))  # type: ignore[arg-type]
        return TxRequest(
            to=tx.to,
            value=tx.value,
            data=tx.data,
            gas=gas,
            nonce=nonce,
            max_fee_per_gas=fee,
            max_priority_fee_per_gas=tip,
        )

    # -- events ---------------------------------------------------------------------------------

    def on(self, event: WalletEvent, handler: WalletHandler) -> None:
        self._events.on(event, handler)

    def off(self, event: WalletEvent, handler: WalletHandler) -> None:
        self._events.off(event, handler)

    def _emit(self, event: WalletEvent, payload: object) -> None:
        self._events.emit(event, payload)
