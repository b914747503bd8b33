"""RelayClient against a local IRN relay (walletconnect_relay_support): pairing, proposal, settlement,
a signed request and the disconnect, sealed end to end, between Grekko's dApp side and a wallet
peer built from the same protocol modules (the official SDK as the wallet comes with the session
layer). The relay sees only topics and envelopes, as the hosted one does.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
import pytest_asyncio
from eth_account import Account
from eth_account.messages import encode_defunct
from walletconnect_relay_support import LocalRelay

from grekko.adapters.wallets.walletconnect import (
    PUBLISH_OPTIONS,
    Metadata,
    Participant,
    ProposalNamespace,
    Relay,
    RelayClient,
    RelayError,
    Request,
    SessionNamespace,
    SessionProposeParams,
    SessionProposeResult,
    SessionRequestParams,
    SessionSettleParams,
    decode,
    decrypt,
    derive_sym_key,
    encode,
    encrypt,
    generate_key_pair,
    hash_key,
    new_pairing,
    parse_pairing_uri,
    personal_sign,
    relay_url,
    session_delete,
    session_propose,
)
from grekko.adapters.wallets.walletconnect import messages as wc

META = Metadata("Grekko", "Self-hosted trading", "https://grekko.local", ())
WALLET_META = Metadata("Test wallet", "a wallet peer", "https://wallet.local", ())
EVM = ProposalNamespace(("personal_sign",), ("accountsChanged",), ("eip155:31337",))
TOPIC = "ab" * 32


@pytest_asyncio.fixture
async def relay() -> AsyncIterator[LocalRelay]:
    local = LocalRelay()
    await local.start()
    yield local
    await local.stop()


async def _send(client: RelayClient, topic: str, key: str, payload: Any, method: str) -> None:
    """Seal and publish with the method's ttl and tag (its response's, for a Result)."""
    options = PUBLISH_OPTIONS[method][0 if isinstance(payload, Request) else 1]
    await client.publish(topic, encrypt(encode(payload), key), ttl=options.ttl, tag=options.tag)


async def _receive(client: RelayClient, key: str) -> Any:
    delivered = await client.next_message(timeout=10)
    return decode(decrypt(delivered.message, key))


async def _pair(dapp: RelayClient, wallet: RelayClient) -> tuple[str, str]:
    """Pairing and proposal, as the two peers run them: returns the session topic and key."""
    pairing, dapp_keys = new_pairing(), generate_key_pair()
    await dapp.subscribe(pairing.topic)
    proposal = session_propose(Participant(dapp_keys.public_key, META), {"eip155": EVM})
    await _send(dapp, pairing.topic, pairing.sym_key, proposal, wc.SESSION_PROPOSE)

    scanned = parse_pairing_uri(pairing.to_uri())  # the wallet reads the QR code
    await wallet.subscribe(scanned.topic)  # after the publish: the relay kept the proposal
    received = await _receive(wallet, scanned.sym_key)
    assert isinstance(received, Request)
    assert isinstance(received.params, SessionProposeParams)
    wallet_keys = generate_key_pair()
    wallet_session_key = derive_sym_key(
        wallet_keys.private_key, received.params.proposer.public_key
    )
    answer = wc.result(
        received.id, {"relay": {"protocol": "irn"}, "responderPublicKey": wallet_keys.public_key}
    )
    await wallet.subscribe(hash_key(wallet_session_key))
    await _send(wallet, scanned.topic, scanned.sym_key, answer, wc.SESSION_PROPOSE)

    response = await _receive(dapp, pairing.sym_key)
    assert response.id == proposal.id
    accepted = wc.result_as(response, SessionProposeResult)
    session_key = derive_sym_key(dapp_keys.private_key, accepted.responder_public_key)
    assert session_key == wallet_session_key
    await dapp.subscribe(hash_key(session_key))
    return hash_key(session_key), session_key


@pytest.mark.asyncio
async def test_a_whole_session_through_the_relay(relay: LocalRelay) -> None:
    account = Account.create()
    async with (
        RelayClient(relay.url, "grekko-project") as dapp,
        RelayClient(relay.url, "wallet-project") as wallet,
    ):
        topic, key = await _pair(dapp, wallet)
        wallet_account = SessionNamespace(
            (f"eip155:31337:{account.address}",), ("personal_sign",), ("accountsChanged",)
        )
        settle = wc.request(
            wc.SESSION_SETTLE,
            SessionSettleParams(
                relay=Relay("irn"),
                namespaces={"eip155": wallet_account},
                controller=Participant(generate_key_pair().public_key, WALLET_META),
                expiry=1_900_000_000,
            ),
        )
        await _send(wallet, topic, key, settle, wc.SESSION_SETTLE)
        settled = await _receive(dapp, key)
        assert isinstance(settled.params, SessionSettleParams)
        address = settled.params.namespaces["eip155"].accounts[0].rsplit(":", 1)[1]
        await _send(dapp, topic, key, wc.result(settled.id), wc.SESSION_SETTLE)
        assert (await _receive(wallet, key)).result is True

        ask = personal_sign("eip155:31337", "Sign in to Grekko", address)
        await _send(dapp, topic, key, ask, wc.SESSION_REQUEST)
        asked = await _receive(wallet, key)
        assert isinstance(asked.params, SessionRequestParams)
        text = bytes.fromhex(asked.params.request.params[0][2:])
        signed = account.sign_message(encode_defunct(primitive=text)).signature.to_0x_hex()
        await _send(wallet, topic, key, wc.result(asked.id, signed), wc.SESSION_REQUEST)
        signature = wc.signature(await _receive(dapp, key))
        recovered = Account.recover_message(
            encode_defunct(text="Sign in to Grekko"), signature=signature
        )
        assert recovered == account.address

        await _send(dapp, topic, key, session_delete(), wc.SESSION_DELETE)
        deleted = await _receive(wallet, key)
        assert deleted.method == "wc_sessionDelete"
        assert deleted.params == wc.ReasonParams(6000, "User disconnected.")

    assert [q.get("projectId") for q in relay.queries] == ["grekko-project", "wallet-project"]
    published = [params for method, params in relay.calls if method == "irn_publish"]
    assert [p["tag"] for p in published] == [1100, 1101, 1102, 1103, 1108, 1109, 1112]
    assert not any("wc_session" in p["message"] or "Grekko" in p["message"] for p in published)
    assert len(relay.acks) == len(published)
    assert all(ack["result"] is True for ack in relay.acks)


@pytest.mark.asyncio
async def test_unsubscribed_topics_are_not_delivered(relay: LocalRelay) -> None:
    other = "cd" * 32
    async with RelayClient(relay.url) as reader, RelayClient(relay.url) as writer:
        await reader.subscribe(TOPIC)
        await reader.subscribe(other)
        await reader.unsubscribe(TOPIC)
        assert reader.subscriptions.keys() == {other}
        await writer.publish(TOPIC, "first", ttl=30, tag=1)
        await writer.publish(other, "second", ttl=30, tag=1)
        delivered = await reader.next_message(timeout=10)  # the relay handles the writer in order
        assert (delivered.topic, delivered.message, delivered.tag) == (other, "second", 1)
        assert delivered.subscription_id == reader.subscriptions[other]


@pytest.mark.asyncio
async def test_relay_errors_are_raised_with_the_relays_reason(relay: LocalRelay) -> None:
    async with RelayClient(relay.url) as client:
        with pytest.raises(RelayError, match="relay error -32602: invalid topic"):
            await client.publish("not-a-topic", "x", ttl=30, tag=1)
        with pytest.raises(RelayError, match="relay error -32602: invalid ttl"):
            await client.publish(TOPIC, "x", ttl=0, tag=1)
        with pytest.raises(RelayError, match="not subscribed"):
            await client.unsubscribe(TOPIC)
    assert relay.methods() == ["irn_publish", "irn_publish"]


@pytest.mark.asyncio
async def test_an_unanswered_call_times_out(relay: LocalRelay) -> None:
    relay.silent.add("irn_subscribe")
    async with RelayClient(relay.url, timeout=0.2) as client:
        with pytest.raises(RelayError, match="did not answer irn_subscribe"):
            await client.subscribe(TOPIC)
        assert client.subscriptions == {}


@pytest.mark.asyncio
async def test_a_dropped_connection_fails_calls_and_reads_then_reconnects(
    relay: LocalRelay,
) -> None:
    client = RelayClient(relay.url, "p", auth="secret-jwt")
    await client.connect()
    assert "secret-jwt" not in repr(client)
    await relay.drop_connections()
    with pytest.raises(RelayError, match="closed"):
        await client.next_message(timeout=10)
    with pytest.raises(RelayError, match="closed"):
        await client.subscribe(TOPIC)
    await client.close()
    await client.connect()
    assert await client.subscribe(TOPIC)
    await client.close()
    assert relay.queries == [{"projectId": "p", "auth": "secret-jwt"}] * 2


def test_relay_url_carries_project_and_auth() -> None:
    assert relay_url("wss://relay.walletconnect.org") == "wss://relay.walletconnect.org"
    assert relay_url("wss://r.example", "abc") == "wss://r.example?projectId=abc"
    assert (
        relay_url("wss://r.example?x=1", "abc", "t") == "wss://r.example?x=1&auth=t&projectId=abc"
    )
