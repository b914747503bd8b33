"""One pairing and the session it leads to, on the wire: the relay, the keys and the requests
waiting for the wallet's answer.

The channel seals and opens envelopes, so the keys stay inside it (and are dropped when it
closes); it knows nothing of accounts or expiry (the session layer decides those). Everything
here runs on the session's event loop.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field
from typing import Any

from grekko.adapters.wallets.walletconnect import messages as wc
from grekko.adapters.wallets.walletconnect.crypto import (
    EnvelopeError,
    InvalidKey,
    KeyPair,
    decrypt,
    derive_sym_key,
    encrypt,
    generate_key_pair,
    hash_key,
)
from grekko.adapters.wallets.walletconnect.messages import (
    Error,
    InvalidPayload,
    Metadata,
    Participant,
    ProposalNamespace,
    Request,
    Result,
    SessionProposeResult,
)
from grekko.adapters.wallets.walletconnect.relay import RelayClient, RelayError
from grekko.adapters.wallets.walletconnect.uri import PairingUri, new_pairing
from grekko.ports.wallet import WalletError

log = logging.getLogger("grekko.wallets.walletconnect")

Message = Request[Any] | Result | Error


@dataclass
class SessionChannel:
    pairing: PairingUri
    keys: KeyPair | None = field(repr=False)
    proposal: Request[Any]
    relay: RelayClient
    session_key: str | None = field(default=None, repr=False)
    session_topic: str | None = None
    pending: dict[int, asyncio.Future[Result | Error]] = field(default_factory=dict)

    @classmethod
    async def propose(
        cls,
        relay: RelayClient,
        metadata: Metadata,
        namespaces: dict[str, ProposalNamespace],
        expiry: int,
    ) -> SessionChannel:
        """A fresh pairing with the proposal published on it, for the wallet to find."""
        pairing, keys = new_pairing(expiry_timestamp=expiry), generate_key_pair()
        proposal = wc.session_propose(
            Participant(keys.public_key, metadata), namespaces, expiry_timestamp=expiry
        )
        channel = cls(pairing, keys, proposal, relay)
        try:
            await relay.connect()
            await relay.subscribe(pairing.topic)
            await channel.publish(pairing.topic, proposal)
        except RelayError as exc:
            await relay.close()
            raise WalletError(f"the WalletConnect relay: {exc}") from None
        return channel

    @property
    def settled(self) -> bool:
        return self.session_topic is not None

    def key_for(self, topic: str) -> str | None:
        if topic == self.pairing.topic:
            return self.pairing.sym_key
        return self.session_key if topic == self.session_topic else None

    async def publish(self, topic: str, payload: Request[Any]) -> None:
        options = wc.PUBLISH_OPTIONS[payload.method][0]
        await self.relay.publish(
            topic,
            self._seal(topic, wc.encode(payload)),
            ttl=options.ttl,
            tag=options.tag,
            prompt=options.prompt,
        )

    async def answer(self, topic: str, request: Request[Any], refusal: str | None = None) -> None:
        """`true`, or an error the SDK knows (5100) with the refusal's reason."""
        reply = wc.result(request.id) if refusal is None else wc.error(request.id, 5100, refusal)
        options = wc.PUBLISH_OPTIONS[request.method][1]
        await self.relay.publish(
            topic, self._seal(topic, wc.encode(reply)), ttl=options.ttl, tag=options.tag
        )

    async def next(self) -> tuple[str, Message]:
        """The next message from the wallet on one of our topics; RelayError once the relay is
        gone. What cannot be opened or read is logged and skipped."""
        while True:
            delivered = await self.relay.next_message()
            key = self.key_for(delivered.topic)
            if key is None:
                continue
            try:
                return delivered.topic, wc.decode(decrypt(delivered.message, key))
            except (EnvelopeError, InvalidPayload, InvalidKey) as exc:
                log.warning("WalletConnect: dropped a message from the wallet: %s", exc)

    async def accept(self, answer: Result) -> None:
        """The wallet's public key gives the session key; its hash is the session topic."""
        accepted = wc.result_as(answer, SessionProposeResult)
        if self.keys is None:
            raise WalletError("the pairing is closed")
        self.session_key = derive_sym_key(self.keys.private_key, accepted.responder_public_key)
        self.session_topic = hash_key(self.session_key)
        await self.relay.subscribe(self.session_topic)

    async def ask(self, call: Request[Any], timeout: float) -> Result | Error:
        """Publish a session request and wait for the wallet's answer to it."""
        if self.session_topic is None:
            raise WalletError("the WalletConnect session is not settled")
        answer: asyncio.Future[Result | Error] = asyncio.get_running_loop().create_future()
        self.pending[call.id] = answer
        method = call.params.request.method
        try:
            await self.publish(self.session_topic, call)
            return await asyncio.wait_for(answer, timeout)
        except TimeoutError:
            raise WalletError(f"the wallet did not answer {method} in {timeout:g} s") from None
        except RelayError as exc:
            raise WalletError(f"the WalletConnect relay: {exc}") from None
        finally:
            self.pending.pop(call.id, None)

    def deliver(self, answer: Result | Error) -> bool:
        """Hand an answer to the request waiting for it; False when none waits."""
        waiting = self.pending.pop(answer.id, None)
        if waiting is None or waiting.done():
            return False
        waiting.set_result(answer)
        return True

    async def close(self, reason: str) -> None:
        for waiting in self.pending.values():
            if not waiting.done():
                waiting.set_exception(WalletError(f"the WalletConnect session ended: {reason}"))
        self.keys, self.session_key = None, None
        await self.relay.close()

    def _seal(self, topic: str, text: str) -> str:
        key = self.key_for(topic)
        if key is None:
            raise WalletError("no key for a topic this channel does not hold")
        return encrypt(text, key)
