"""WalletManager: every connected wallet behind the one WalletProvider port, its events on the bus.

Providers (keystore, MetaMask, WalletConnect, Coinbase ...) come from the plugin group
`grekko.wallets` or are registered directly by the composition root. The manager relays each
provider's EIP-1193 events (accountsChanged, chainChanged, connect, disconnect, error) onto the
bus as `wallet.<provider_id>.<event>` with a WalletNotice, so the API's WebSocket, the agents and
the UI hear them without knowing any provider. A disconnected wallet is refused for signing.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from decimal import Decimal

import msgspec

from grekko.core.time import Clock
from grekko.engines.bus import MessageBus
from grekko.ports.wallet import (
    WALLET_EVENTS,
    TxRequest,
    WalletError,
    WalletEvent,
    WalletProvider,
)

log = logging.getLogger(__name__)

WALLET_TOPIC = "wallet"


class WalletNotice(msgspec.Struct, frozen=True, kw_only=True):
    """One provider event as the bus carries it; payload is JSON-ready (accounts, chain id...)."""

    ts_event: int
    provider_id: str
    event: str
    payload: object = None


def wallet_topic(provider_id: str, event: str) -> str:
    return f"{WALLET_TOPIC}.{provider_id}.{event}"


@dataclass(frozen=True)
class TokenSpec:
    """A token whose balance the manager reports, per chain: symbol, address, decimals."""

    chain_id: int
    symbol: str
    address: str
    decimals: int


class WalletManager:
    def __init__(self, bus: MessageBus, clock: Clock) -> None:
        self._bus = bus
        self._clock = clock
        self._wallets: dict[str, WalletProvider] = {}
        self._relays: dict[str, dict[WalletEvent, Callable[[object], None]]] = {}

    # ---- registry ------------------------------------------------------------------------------
    def register(self, wallet: WalletProvider) -> None:
        """Take a provider in and relay its events; one provider per id."""
        pid = wallet.provider_id
        if pid in self._wallets:
            raise WalletError(f"a wallet with provider id {pid!r} is already registered")
        relays: dict[WalletEvent, Callable[[object], None]] = {}
        for event in sorted(WALLET_EVENTS):
            relay = self._relay(pid, event)
            wallet.on(event, relay)  # type: ignore[arg-type]
            relays[event] = relay  # type: ignore[index]
        self._wallets[pid] = wallet
        self._relays[pid] = relays

    def unregister(self, provider_id: str) -> WalletProvider:
        """Disconnect the provider (its keys are forgotten) and stop relaying its events."""
        wallet = self.get(provider_id)
        if wallet.is_connected():
            wallet.disconnect()
        for event, relay in self._relays.pop(provider_id).items():
            wallet.off(event, relay)
        del self._wallets[provider_id]
        return wallet

    def get(self, provider_id: str) -> WalletProvider:
        try:
            return self._wallets[provider_id]
        except KeyError:
            known = ", ".join(sorted(self._wallets)) or "none"
            raise WalletError(f"no wallet {provider_id!r}; registered: {known}") from None

    def provider_ids(self) -> list[str]:
        return sorted(self._wallets)

    def connected(self, provider_id: str) -> WalletProvider:
        """The provider, refused unless connected: a disconnected wallet signs nothing."""
        wallet = self.get(provider_id)
        if not wallet.is_connected():
            raise WalletError(f"wallet {provider_id!r} is not connected")
        return wallet

    # ---- use -----------------------------------------------------------------------------------
    def send_transaction(self, provider_id: str, tx: TxRequest) -> str:
        return self.connected(provider_id).send_transaction(tx)

    def sign_message(self, provider_id: str, message: str | bytes) -> bytes:
        return self.connected(provider_id).sign_message(message)

    def balances(
        self, tokens: Mapping[int, list[TokenSpec]] | None = None
    ) -> dict[str, dict[str, dict[str, Decimal]]]:
        """provider id -> account -> currency -> amount, on each wallet's current chain: the
        native coin as ETH plus the given tokens of that chain. Disconnected wallets hold none."""
        out: dict[str, dict[str, dict[str, Decimal]]] = {}
        for pid, wallet in sorted(self._wallets.items()):
            if not wallet.is_connected():
                out[pid] = {}
                continue
            chain_tokens = (tokens or {}).get(wallet.chain_id, [])
            out[pid] = {
                account: self._account_balances(wallet, account, chain_tokens)
                for account in wallet.get_accounts()
            }
        return out

    @staticmethod
    def _account_balances(
        wallet: WalletProvider, account: str, tokens: list[TokenSpec]
    ) -> dict[str, Decimal]:
        held = {"ETH": Decimal(wallet.get_balance(account)).scaleb(-18)}
        for token in tokens:
            units = wallet.get_balance(account, token.address)
            held[token.symbol] = Decimal(units).scaleb(-token.decimals)
        return held

    def _relay(self, provider_id: str, event: str) -> Callable[[object], None]:
        topic = wallet_topic(provider_id, event)

        def relay(payload: object) -> None:
            notice = WalletNotice(
                ts_event=self._clock.timestamp_ns(),
                provider_id=provider_id,
                event=event,
                payload=_json_ready(payload),
            )
            self._bus.publish(topic, notice)

        return relay


def _json_ready(payload: object) -> object:
    """Accounts lists, chain ids and error texts pass; anything else is shown by its text."""
    if payload is None or isinstance(payload, str | int | float | bool):
        return payload
    if isinstance(payload, list | tuple):
        return [_json_ready(item) for item in payload]
    if isinstance(payload, dict):
        return {str(k): _json_ready(v) for k, v in payload.items()}
    return str(payload)
