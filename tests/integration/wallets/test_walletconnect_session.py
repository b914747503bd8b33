"""A whole WalletConnect v2 session between Grekko's dApp side (WalletConnectSession) and the
official SDK as the wallet (@walletconnect/sign-client in node, interop/wc_wallet.mjs), through
the local relay: pairing, proposal, settlement, personal_sign, a refusal, and the disconnect from
either side. The SDK approves with the relay method wc_approveSession, as it does against the
hosted relay.
"""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import AsyncIterator

import pytest
import pytest_asyncio
from eth_account import Account
from eth_account.messages import encode_defunct
from walletconnect_relay_support import LocalRelay
from walletconnect_wallet_support import NodeWallet, node_wallet

from grekko.adapters.wallets.walletconnect import (
    Metadata,
    Participant,
    Relay,
    RelayClient,
    Request,
    SessionNamespace,
    SessionSettleParams,
    decode,
    decrypt,
    derive_sym_key,
    encode,
    encrypt,
    generate_key_pair,
    hash_key,
    parse_pairing_uri,
)
from grekko.adapters.wallets.walletconnect import messages as wc
from grekko.adapters.wallets.walletconnect.session import SessionState, WalletConnectSession
from grekko.ports.wallet import ChainInfo, WalletError, WalletLocked

pytestmark = [pytest.mark.asyncio, pytest.mark.slow]
DEVNET = ChainInfo(31337, "devnet", "http://127.0.0.1:8545")
WALLET_META = Metadata("Python wallet", "a wallet peer", "https://wallet.local", ())


@pytest_asyncio.fixture
async def relay() -> AsyncIterator[LocalRelay]:
    local = LocalRelay()
    await local.start()
    yield local
    await local.stop()


def _session(relay: LocalRelay) -> WalletConnectSession:
    return WalletConnectSession(
        7, chains=[DEVNET], relay_url=relay.url, project_id="grekko-test", request_timeout=30
    )


def _waiter(session: WalletConnectSession, event: str) -> threading.Event:
    happened = threading.Event()
    session.on(event, lambda _payload: happened.set())  # type: ignore[arg-type]
    return happened


async def _established(session: WalletConnectSession, wallet: NodeWallet) -> str:
    """Pair the SDK wallet with a new session; returns the wallet's address."""
    connected = _waiter(session, "connect")
    uri = await asyncio.to_thread(session.create)
    assert session.state is SessionState.PROPOSED
    ready = await wallet.expect("ready")
    await wallet.send("pair", uri=uri)
    await wallet.expect("session")
    assert await asyncio.to_thread(connected.wait, 30)
    address: str = ready["address"]
    return address


async def test_a_session_with_the_sdk_wallet_signs_and_the_wallet_disconnects(
    relay: LocalRelay,
) -> None:
    account = Account.create()
    session = _session(relay)
    accounts: list[object] = []
    session.on("accountsChanged", accounts.append)
    disconnected = _waiter(session, "disconnect")
    try:
        async with node_wallet(relay.url, account.key.to_0x_hex()) as wallet:
            address = await _established(session, wallet)
            assert address.lower() == account.address.lower()
            status = session.status()
            assert status["state"] == "established"
            assert status["accounts"] == [account.address]
            assert status["peer"]["name"] == "Grekko test wallet"
            assert status["chain_id"] == 31337
            assert len(status["topic"]) == 64
            assert "symKey" not in json.dumps(status)
            assert accounts == [[account.address]]

            signature = await asyncio.to_thread(session.sign_message, "Sign in to Grekko")
            signer = Account.recover_message(
                encode_defunct(text="Sign in to Grekko"), signature=signature
            )
            assert signer == account.address
            assert (await wallet.expect("responded"))["method"] == "personal_sign"

            with pytest.raises(WalletError, match=r"refused personal_sign: User rejected"):
                await asyncio.to_thread(session.sign_message, "please reject this")

            await wallet.send("disconnect")
            await wallet.expect("disconnected")
            assert await asyncio.to_thread(disconnected.wait, 30)
        assert session.state is SessionState.DISCONNECTED
        assert "the wallet disconnected" in session.status()["reason"]
        assert accounts[-1] == []
        with pytest.raises(WalletLocked, match="disconnected"):
            await asyncio.to_thread(session.sign_message, "after the end")
    finally:
        await asyncio.to_thread(session.close)
    published = [p for method, p in relay.calls if method == "irn_publish"]
    assert not any("personal_sign" in p["message"] for p in published)  # sealed end to end


async def test_grekko_disconnects_and_the_sdk_wallet_hears_it(relay: LocalRelay) -> None:
    account = Account.create()
    session = _session(relay)
    try:
        async with node_wallet(relay.url, account.key.to_0x_hex()) as wallet:
            await _established(session, wallet)
            assert session.is_connected()
            await asyncio.to_thread(session.disconnect)
            deleted = await wallet.expect("deleted")
            assert deleted["topic"] == session.status()["topic"]
        assert session.state is SessionState.DISCONNECTED
        assert session.get_accounts() == []
        with pytest.raises(WalletLocked):
            await asyncio.to_thread(session.connect)
    finally:
        await asyncio.to_thread(session.close)


async def _python_wallet_settles(
    relay: LocalRelay, uri: str, methods: tuple[str, ...], expiry: int, address: str
) -> tuple[RelayClient, str, str]:
    """A wallet peer from Grekko's own protocol modules, for settlements the SDK would never
    send: it answers the proposal and settles with the given methods and expiry."""
    wallet = RelayClient(relay.url)
    await wallet.connect()
    pairing = parse_pairing_uri(uri)
    await wallet.subscribe(pairing.topic)
    delivered = await wallet.next_message(timeout=10)
    proposal = decode(decrypt(delivered.message, pairing.sym_key))
    assert isinstance(proposal, Request)
    keys = generate_key_pair()
    key = derive_sym_key(keys.private_key, proposal.params.proposer.public_key)
    topic = hash_key(key)
    await wallet.subscribe(topic)
    answer = wc.result(
        proposal.id, {"relay": {"protocol": "irn"}, "responderPublicKey": keys.public_key}
    )
    await wallet.publish(pairing.topic, encrypt(encode(answer), pairing.sym_key), ttl=300, tag=1101)
    granted = SessionNamespace(
        (f"eip155:31337:{address}",), methods, ("accountsChanged", "chainChanged")
    )
    settle = wc.request(
        wc.SESSION_SETTLE,
        SessionSettleParams(
            relay=Relay("irn"),
            namespaces={"eip155": granted},
            controller=Participant(keys.public_key, WALLET_META),
            expiry=expiry,
        ),
    )
    await wallet.publish(topic, encrypt(encode(settle), key), ttl=300, tag=1102)
    return wallet, topic, key


class _Clock:
    def __init__(self) -> None:
        self.now = 1_800_000_000.0

    def __call__(self) -> float:
        return self.now


async def test_an_expired_session_refuses_to_sign(relay: LocalRelay) -> None:
    clock = _Clock()
    account = Account.create()
    session = WalletConnectSession(
        8, chains=[DEVNET], relay_url=relay.url, request_timeout=10, clock=clock
    )
    connected, disconnected = _waiter(session, "connect"), _waiter(session, "disconnect")
    try:
        uri = await asyncio.to_thread(session.create)
        wallet, _topic, key = await _python_wallet_settles(
            relay,
            uri,
            ("eth_sendTransaction", "personal_sign"),
            int(clock.now) + 3600,
            account.address,
        )
        assert await asyncio.to_thread(connected.wait, 10)
        answered = decode(decrypt((await wallet.next_message(timeout=10)).message, key))
        assert answered.result is True  # the settlement was acknowledged
        assert session.status()["expiry"] == int(clock.now) + 3600
        channel = session._live
        assert channel is not None
        assert channel.session_key == key
        clock.now += 3599
        assert session.is_connected()
        clock.now += 1  # the expiry itself: no longer
        assert session.status()["state"] == "expired"
        assert not session.is_connected()
        assert await asyncio.to_thread(disconnected.wait, 10)  # the session ended itself
        assert "expired" in session.status()["reason"]
        assert (channel.keys, channel.session_key) == (None, None)
        assert session.get_accounts() == []
        with pytest.raises(WalletError, match="expired"):
            await asyncio.to_thread(session.sign_message, "too late")
        with pytest.raises(WalletError, match="expired"):
            await asyncio.to_thread(
                session.request,
                "eth_sendTransaction",
                [{"from": account.address, "to": account.address, "value": "0x1"}],
            )
        await wallet.close()
        assert session.status()["state"] == "expired"
        assert len(await asyncio.to_thread(session.create)) > 0  # a new pairing may start
    finally:
        await asyncio.to_thread(session.close)
    assert not [p for m, p in relay.calls if m == "irn_publish" and p["tag"] == 1108]


async def test_a_settlement_short_of_the_proposal_is_refused(relay: LocalRelay) -> None:
    account = Account.create()
    session = WalletConnectSession(9, chains=[DEVNET], relay_url=relay.url, request_timeout=10)
    try:
        uri = await asyncio.to_thread(session.create)
        wallet, _topic, key = await _python_wallet_settles(
            relay, uri, ("personal_sign",), 1_900_000_000, account.address
        )
        refusal = decode(decrypt((await wallet.next_message(timeout=10)).message, key))
        assert isinstance(refusal, wc.Error)
        assert "eth_sendTransaction" in refusal.error.message
        assert session.state is SessionState.REJECTED
        assert session.get_accounts() == []
        await wallet.close()
    finally:
        await asyncio.to_thread(session.close)
