"""WalletConnectSession: the dApp side of one user's WalletConnect v2 session, as a WalletProvider.

create() makes a pairing and a key pair, publishes wc_sessionPropose on the pairing topic and
returns the `wc:` URI the user's wallet scans. A reader then follows the relay: the wallet's answer
to the proposal gives the session key (X25519 + HKDF), its wc_sessionSettle the accounts and the
expiry; requests (personal_sign, eth_sendTransaction) go out as wc_sessionRequest and wait for the
wallet's answer; wc_sessionDelete from either side ends the session, and so does the expiry (the
first look at the state past it drops the keys and fires disconnect). No answer is taken on the
wallet's word: a signature must recover to the session's account, a transaction hash must name
a mined transaction that is the one asked (read with `transaction_reader`), and only once.

The relay I/O runs on the session's own event loop thread, so the platform (worker threads, the
API through asyncio.to_thread) calls it synchronously. Events reach handlers through `dispatch`,
which the caller points at its own thread (e.g. loop.call_soon_threadsafe). status() tells the
state, the peer and the accounts; the pairing key and the session key never leave this object.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import threading
import time
from collections.abc import Callable, Coroutine, Sequence
from typing import Any, TypeVar

from grekko.adapters.wallets.answers import AnsweredHashes, MinedReader, verify_sent
from grekko.adapters.wallets.walletconnect import messages as wc
from grekko.adapters.wallets.walletconnect.channel import Message, SessionChannel
from grekko.adapters.wallets.walletconnect.messages import (
    Error,
    InvalidPayload,
    Metadata,
    Request,
    Result,
)
from grekko.adapters.wallets.walletconnect.relay import DEFAULT_RELAY_URL, RelayClient, RelayError
from grekko.adapters.wallets.walletconnect.settlement import (
    asked_transaction,
    capped_expiry,
    check_signature,
    message_bytes,
    proposal_namespaces,
    raw_transaction_call,
    settled_accounts,
    sign_call,
    transaction_call,
)
from grekko.adapters.wallets.walletconnect.state import (
    ACTIVE,
    SessionState,
    safely,
    wallet_answer,
)
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

log = logging.getLogger("grekko.wallets.walletconnect")

GREKKO = Metadata("Grekko", "Self-hosted crypto trading", "https://grekko.local", ())
_T = TypeVar("_T")


class WalletConnectSession:
    name = "WalletConnect"

    def __init__(
        self,
        user_id: int | str,
        *,
        chains: Sequence[ChainInfo],
        relay_url: str = DEFAULT_RELAY_URL,
        project_id: str | None = None,
        metadata: Metadata = GREKKO,
        balance_reader: Callable[[str, str | None], int] | None = None,
        transaction_reader: MinedReader | None = None,
        request_timeout: float = 120.0,
        proposal_ttl: int = 300,
        clock: Callable[[], float] = time.time,
        dispatch: Callable[[Callable[[], None]], object] | None = None,
    ) -> None:
        self.provider_id = f"walletconnect:{user_id}"
        self._chains = tuple(chains)
        self._relay_url, self._project_id, self._metadata = relay_url, project_id, metadata
        self._balance_reader, self._mined = balance_reader, transaction_reader
        self._hashes, self._hash_lock, self._expiring = AnsweredHashes(), threading.Lock(), False
        self._timeout, self._proposal_ttl, self._clock = request_timeout, proposal_ttl, clock
        self._dispatch = dispatch or (lambda call: call())
        self._events = WalletEventHandlers(self.provider_id)
        self._state = SessionState.IDLE
        self._reason: str | None = None
        self._live: SessionChannel | None = None
        self._peer: Metadata | None = None
        self._accounts: list[str] = []
        self._session_chains: list[int] = []
        self._expiry: int | None = None
        self._chain_id = self._chains[0].chain_id if self._chains else 1
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(
            target=self._loop.run_forever, name=f"walletconnect-{user_id}", daemon=True
        )
        self._thread.start()

    def __repr__(self) -> str:
        return f"WalletConnectSession({self.provider_id!r}, state={self.state.value!r})"

    # ---- the session, from any thread ------------------------------------------------------------
    @property
    def state(self) -> SessionState:
        if self._state is SessionState.ESTABLISHED and self._expired():
            if not self._expiring and self._thread.is_alive():
                self._expiring = True
                asyncio.run_coroutine_threadsafe(self._expire(), self._loop)
            return SessionState.EXPIRED
        return self._state

    def _expired(self) -> bool:
        expiry = self._expiry
        return expiry is not None and expiry <= self._clock()

    def create(self) -> str:
        """A new pairing and proposal; the `wc:` URI for the wallet to scan."""
        return self._call(self._create(), self._timeout)

    def status(self) -> dict[str, Any]:
        live, peer = self._live, self._peer
        return {
            "state": self.state.value,
            "reason": self._reason,
            "pairing_topic": live.pairing.topic if live else None,
            "topic": live.session_topic if live and self._peer else None,
            "peer": {"name": peer.name, "url": peer.url, "description": peer.description}
            if peer
            else None,
            "accounts": list(self._accounts) if self.is_connected() else [],
            "chain_id": self._chain_id,
            "expiry": self._expiry,
        }

    def request(self, method: str, params: list[Any]) -> str:
        """A wallet request as the API receives it: the signature or the transaction hash."""
        if not isinstance(params, list) or not params:
            raise WalletError(f"{method} takes a non-empty list of parameters")
        if method == "personal_sign":
            message = params[0]
            address = params[1] if len(params) > 1 else self._account()
            if not isinstance(message, str) or not isinstance(address, str):
                raise WalletError("personal_sign takes [message, address] as strings")
            return "0x" + self._sign(message_bytes(message), address).hex()
        if method == "eth_sendTransaction":
            if not isinstance(params[0], dict):
                raise WalletError("eth_sendTransaction takes [transaction object]")
            self._own(str(params[0].get("from", "")))
            return self._sent(raw_transaction_call(self._chain_id, params[0]))
        raise WalletError(f"{method} is not a WalletConnect request Grekko sends")

    def close(self) -> None:
        """Disconnect (telling the wallet) and stop the session's thread."""
        if self._thread.is_alive():
            self._call(self._end_local(), self._timeout)
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(timeout=10)

    # ---- WalletProvider ------------------------------------------------------------------------
    @property
    def supported_chains(self) -> tuple[ChainInfo, ...]:
        return self._chains

    @property
    def chain_id(self) -> int:
        return self._chain_id

    def connect(self) -> list[str]:
        if not self.is_connected():
            raise WalletLocked(f"{self.provider_id} has no session: create one, scan its URI")
        return self.get_accounts()

    def disconnect(self) -> None:
        self._call(self._end_local(), self._timeout)

    def is_connected(self) -> bool:
        return self.state is SessionState.ESTABLISHED

    def get_accounts(self) -> list[str]:
        return list(self._accounts) if self.is_connected() else []

    def get_balance(self, address: str, token: str | None = None) -> int:
        if self._balance_reader is None:
            raise WalletError(f"{self.provider_id} has no chain to read balances from")
        return self._balance_reader(address, token)

    def switch_chain(self, chain_id: int) -> None:
        allowed = self._session_chains or [chain.chain_id for chain in self._chains]
        if chain_id not in allowed:
            raise UnknownChain(f"chain {chain_id} is not in the WalletConnect session {allowed}")
        self._chain_id = chain_id
        self._fire("chainChanged", chain_id)

    def add_chain(self, chain: ChainInfo) -> None:
        """Proposed from the next session on: a settled session's chains are the wallet's."""
        self._chains = (*[c for c in self._chains if c.chain_id != chain.chain_id], chain)

    def sign_message(self, message: str | bytes) -> bytes:
        return self._sign(message_bytes(message), self._account())

    def sign_transaction(self, tx: TxRequest) -> SignedTx:
        raise WalletError("a WalletConnect wallet signs and sends in one step: send_transaction")

    def send_transaction(self, tx: TxRequest) -> str:
        """The hash, once the mined transaction is the one asked (so this waits for the block)."""
        return self._sent(transaction_call(self._chain_id, self._account(), tx))

    def on(self, event: WalletEvent, handler: WalletHandler) -> None:
        self._events.on(event, handler)

    def off(self, event: WalletEvent, handler: WalletHandler) -> None:
        self._events.off(event, handler)

    # ---- helpers, any thread -------------------------------------------------------------------
    def _account(self) -> str:
        if not self.is_connected():
            raise self._refusal()
        return self._accounts[0]

    def _own(self, address: str) -> str:
        for account in self._accounts:
            if account.lower() == address.lower():
                return account
        raise WalletError(f"{address[:42]!r} is not an account of the WalletConnect session")

    def _refusal(self) -> WalletError:
        if self.state is SessionState.EXPIRED:
            return WalletError(f"the WalletConnect session expired at {self._expiry}")
        return WalletLocked(f"{self.provider_id} is {self.state.value}: no session to sign with")

    def _sign(self, message: bytes, address: str) -> bytes:
        if not self.is_connected():
            raise self._refusal()
        signer = self._own(address)
        call = sign_call(self._chain_id, message, signer)
        answer = self._call(self._request(call), self._timeout)
        return check_signature(message, wallet_answer(wc.signature, answer), signer)

    def _sent(self, call: Request[Any]) -> str:
        tx_hash = wallet_answer(wc.transaction_hash, self._call(self._request(call), self._timeout))
        with self._hash_lock:
            earlier = self._hashes.claim(tx_hash, str(call.id))
        if earlier is not None:
            raise WalletError(f"the wallet answered {tx_hash} to an earlier request already")
        verify_sent(tx_hash, asked_transaction(call), self._mined, "the wallet")
        return tx_hash

    def _call(self, coroutine: Coroutine[Any, Any, _T], timeout: float | None) -> _T:
        if threading.current_thread() is self._thread:
            coroutine.close()
            raise WalletError("a WalletConnect session cannot wait on its own thread")
        future = asyncio.run_coroutine_threadsafe(coroutine, self._loop)
        try:
            return future.result(None if timeout is None else timeout + 5)
        except InvalidPayload as exc:
            raise WalletError(f"the wallet's answer is not valid: {exc}") from None
        except TimeoutError:
            future.cancel()
            raise WalletError(f"{self.provider_id} did not finish within {timeout} s") from None

    def _fire(self, event: WalletEvent, payload: object) -> None:
        for handler in self._events.handlers(event):
            self._dispatch(functools.partial(safely, handler, event, payload))

    # ---- on the session's loop -----------------------------------------------------------------
    async def _create(self) -> str:
        if self.state is SessionState.ESTABLISHED:
            raise WalletError("a WalletConnect session is established: disconnect it first")
        await self._expire()
        await self._drop()
        namespaces = proposal_namespaces([chain.chain_id for chain in self._chains])
        channel = await SessionChannel.propose(
            RelayClient(self._relay_url, self._project_id),
            self._metadata,
            namespaces,
            int(self._clock()) + self._proposal_ttl,
        )
        self._live, self._state, self._reason = channel, SessionState.PROPOSED, None
        self._peer, self._accounts, self._expiry, self._session_chains = None, [], None, []
        self._loop.create_task(self._read(channel), name=f"{self.provider_id}-reader")
        return channel.pairing.to_uri()

    async def _read(self, channel: SessionChannel) -> None:
        while True:
            try:
                topic, message = await channel.next()
            except RelayError as exc:
                if self._live is channel and self._state in ACTIVE:
                    log.warning("%s lost the relay: %s", self.provider_id, exc)
                    await self._end(channel, f"the relay connection was lost: {exc}")
                return
            try:
                await self._handle(channel, topic, message)
            except (InvalidPayload, RelayError, WalletError) as exc:
                log.warning("%s could not handle a wallet message: %s", self.provider_id, exc)

    async def _handle(self, channel: SessionChannel, topic: str, message: Message) -> None:
        if not isinstance(message, Request):
            if message.id == channel.proposal.id and not channel.settled:
                await self._on_proposal_answer(channel, message)
            else:
                channel.deliver(message)
            return
        on_session = topic == channel.session_topic
        if message.method == wc.SESSION_SETTLE and on_session:
            await self._on_settle(channel, topic, message)
            return
        await channel.answer(topic, message)
        if message.method == wc.SESSION_DELETE and on_session:
            await self._end(channel, f"the wallet disconnected: {message.params.message}")
        elif message.method == wc.SESSION_EXTEND and on_session and message.params.expiry:
            self._expiry = capped_expiry(message.params.expiry, self._clock())

    async def _on_proposal_answer(self, channel: SessionChannel, answer: Result | Error) -> None:
        if isinstance(answer, Error):
            self._state, self._reason = SessionState.REJECTED, answer.error.message
            await channel.close(answer.error.message)
            return
        await channel.accept(answer)

    async def _on_settle(self, channel: SessionChannel, topic: str, settle: Request[Any]) -> None:
        proposed = channel.proposal.params.required_namespaces
        try:
            accounts, chains = settled_accounts(settle.params, proposed, self._clock())
        except WalletError as exc:
            self._state, self._reason = SessionState.REJECTED, str(exc)
            await channel.answer(topic, settle, refusal=str(exc))
            return
        await channel.answer(topic, settle)
        self._peer, self._accounts = settle.params.controller.metadata, accounts
        self._session_chains = chains
        self._expiry = capped_expiry(settle.params.expiry, self._clock())
        self._state, self._expiring = SessionState.ESTABLISHED, False
        if self._chain_id not in chains:
            self._chain_id = chains[0] if chains else self._chain_id
        self._fire("connect", self._chain_id)
        self._fire("accountsChanged", list(accounts))

    async def _request(self, call: Request[Any]) -> Result | Error:
        channel = self._live
        if channel is None or not self.is_connected():
            raise self._refusal()
        answer = await channel.ask(call, self._timeout)
        if isinstance(answer, Error):
            raise WalletError(
                f"the wallet refused {call.params.request.method}: "
                f"{answer.error.message} (code {answer.error.code})"
            )
        return answer

    async def _end_local(self) -> None:
        """Grekko ends the session: the wallet is told (wc_sessionDelete), then it is over."""
        channel = self._live
        if channel is None:
            return
        if channel.session_topic and self._state is SessionState.ESTABLISHED:
            try:
                await channel.publish(channel.session_topic, wc.session_delete())
            except RelayError as exc:
                log.warning("%s could not tell the wallet: %s", self.provider_id, exc)
        await self._end(channel, "disconnected by Grekko")

    async def _expire(self) -> None:
        """An established session past its expiry ends as if disconnected, state `expired`."""
        channel = self._live
        if channel is not None and self._state is SessionState.ESTABLISHED and self._expired():
            reason = f"the WalletConnect session expired at {self._expiry}"
            await self._end(channel, reason, SessionState.EXPIRED)

    async def _end(
        self, channel: SessionChannel, reason: str, state: SessionState = SessionState.DISCONNECTED
    ) -> None:
        was_connected = self._state is SessionState.ESTABLISHED
        self._state, self._reason = state, reason
        await channel.close(reason)
        if was_connected:
            self._fire("accountsChanged", [])
            self._fire("disconnect", None)

    async def _drop(self) -> None:
        """Forget an earlier pairing the wallet never settled."""
        channel, self._live = self._live, None
        if channel is not None:
            await channel.close("replaced by a new pairing")
