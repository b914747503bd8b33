"""WalletProvider port: the spec's wallet interface (EIP-1193 in spirit), in plain Python types.

Addresses are checksummed hex strings, amounts are int wei (or token base units), calldata and
signatures are bytes. The values here carry no web3 types, so engines and agents can build
transactions and react to wallet events without importing an I/O library. A provider signs with
keys it never hands out: no method returns a private key.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal, Protocol, cast, get_args

from grekko.core.errors import GrekkoError

WalletEvent = Literal["accountsChanged", "chainChanged", "connect", "disconnect", "error"]
WALLET_EVENTS: frozenset[str] = frozenset(get_args(WalletEvent))

# accountsChanged -> list[str]; chainChanged and connect -> int chain id; disconnect -> None;
# error -> the WalletError about to be raised.
WalletHandler = Callable[[object], None]


_log = logging.getLogger("grekko.wallets")


class WalletError(GrekkoError):
    """A wallet that cannot serve a request; its message never holds a key or a password."""


class WalletLocked(WalletError):
    """Signing was asked of a wallet that is not connected (its key is not unlocked)."""


class UnknownChain(WalletError):
    """A chain id the wallet was not configured with (add_chain it first)."""


def _check_non_negative(owner: str, **values: int | None) -> None:
    for name, value in values.items():
        if value is None:
            continue
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise WalletError(f"{owner}.{name} must be a non-negative int, got {value!r}")


@dataclass(frozen=True)
class ChainInfo:
    """A chain the wallet may switch to: what wallet_addEthereumChain carries."""

    chain_id: int
    name: str
    rpc_url: str
    native_symbol: str = "ETH"

    def __post_init__(self) -> None:
        _check_non_negative("ChainInfo", chain_id=self.chain_id)
        if self.chain_id == 0:
            raise WalletError("ChainInfo.chain_id must be positive")
        if not self.rpc_url:
            raise WalletError(f"chain {self.chain_id} needs an rpc_url")


@dataclass(frozen=True)
class TxRequest:
    """An EIP-1559 transaction to sign; None fields are filled from the node by send_transaction.

    `to` None deploys `data` as a contract. sign_transaction signs offline, so it needs nonce,
    gas and both fee fields set.
    """

    to: str | None
    value: int = 0
    data: bytes = b""
    gas: int | None = None
    nonce: int | None = None
    max_fee_per_gas: int | None = None
    max_priority_fee_per_gas: int | None = None

    def __post_init__(self) -> None:
        _check_non_negative(
            "TxRequest",
            value=self.value,
            gas=self.gas,
            nonce=self.nonce,
            max_fee_per_gas=self.max_fee_per_gas,
            max_priority_fee_per_gas=self.max_priority_fee_per_gas,
        )
        if not isinstance(self.data, bytes):
            raise WalletError(f"TxRequest.data must be bytes, got {type(self.data).__name__}")
        if self.to is None and not self.data:
            raise WalletError("a TxRequest without `to` deploys `data`, which is empty")
        fee, tip = self.max_fee_per_gas, self.max_priority_fee_per_gas
        if fee is not None and tip is not None and tip > fee:
            raise WalletError("max_priority_fee_per_gas must not exceed max_fee_per_gas")

    @property
    def complete(self) -> bool:
        """True when nothing is left for the node to fill in."""
        return None not in (
            self.gas,
            self.nonce,
            self.max_fee_per_gas,
            self.max_priority_fee_per_gas,
        )


@dataclass(frozen=True)
class SignedTx:
    """A signed transaction ready for eth_sendRawTransaction."""

    raw: bytes
    tx_hash: str
    sender: str
    chain_id: int
    nonce: int


class WalletProvider(Protocol):
    provider_id: str
    name: str

    @property
    def supported_chains(self) -> tuple[ChainInfo, ...]: ...

    @property
    def chain_id(self) -> int:
        """The chain signatures and sends go to now."""
        ...

    def connect(self) -> list[str]:
        """Unlock or ask the user, then return the accounts; fires connect and accountsChanged."""
        ...

    def disconnect(self) -> None:
        """Forget unlocked keys and sessions; fires accountsChanged([]) and disconnect. Until the
        next connect nothing is signed or sent, and what was asked of a user's wallet is
        refused if it answers late."""
        ...

    def is_connected(self) -> bool: ...

    def get_accounts(self) -> list[str]:
        """The connected accounts, checksummed; empty when not connected."""
        ...

    def get_balance(self, address: str, token: str | None = None) -> int:
        """Native balance in wei, or an ERC-20 `token`'s balanceOf in its base units."""
        ...

    def switch_chain(self, chain_id: int) -> None:
        """Make `chain_id` current; UnknownChain when it was never added. Fires chainChanged."""
        ...

    def add_chain(self, chain: ChainInfo) -> None: ...

    def sign_message(self, message: str | bytes) -> bytes:
        """EIP-191 personal_sign signature (65 bytes r|s|v)."""
        ...

    def sign_transaction(self, tx: TxRequest) -> SignedTx: ...

    def send_transaction(self, tx: TxRequest) -> str:
        """Sign and broadcast on the current chain; the transaction hash as 0x-hex. A wallet that
        signs on the user's side returns it only once the mined transaction is the one asked."""
        ...

    def on(self, event: WalletEvent, handler: WalletHandler) -> None: ...

    def off(self, event: WalletEvent, handler: WalletHandler) -> None: ...


def check_event(event: str) -> WalletEvent:
    """Reject event names outside EIP-1193's five, so a typo is not a silent no-op."""
    if event not in WALLET_EVENTS:
        raise WalletError(f"unknown wallet event {event!r}; one of {sorted(WALLET_EVENTS)}")
    return cast("WalletEvent", event)


class WalletEventHandlers:
    """The on/off bookkeeping every provider shares. `emit` calls each handler in turn; a failing
    handler is logged and never raised into the wallet that fired the event."""

    def __init__(self, owner: str) -> None:
        self._owner = owner
        self._handlers: dict[str, list[WalletHandler]] = {}

    def on(self, event: WalletEvent, handler: WalletHandler) -> None:
        self._handlers.setdefault(check_event(event), []).append(handler)

    def off(self, event: WalletEvent, handler: WalletHandler) -> None:
        handlers = self._handlers.get(check_event(event), [])
        if handler in handlers:
            handlers.remove(handler)

    def handlers(self, event: WalletEvent) -> list[WalletHandler]:
        """A copy: a handler may call off() while the event is being delivered."""
        return list(self._handlers.get(event, []))

    def emit(self, event: WalletEvent, payload: object) -> None:
        for handler in self.handlers(event):
            try:
                handler(payload)
            except Exception:
                _log.exception("a %s handler of %s failed", event, self._owner)
