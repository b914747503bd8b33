"""A wallet's word is checked on the server: the served platform with the chain on (real anvil),
a trader's MetaMask (a Python stand-in with a real key) and a WalletConnect wallet speaking the
real protocol through the local relay, both answering what an honest wallet never would.

A signature must recover to the connected account; a transaction hash must name a transaction
mined on the platform's node that is the one asked (same sender, recipient, value, calldata and
chain); one hash answers one request. Until then nothing is confirmed or approved: not on the
bus (metamask.transaction.confirmed, walletconnect.request.approved), not to the caller.
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
from eth_account import Account

from grekko.adapters.wallets.answers import mined_transactions
from grekko.adapters.wallets.walletconnect.session import WalletConnectSession
from grekko.api.principal import Role
from grekko.ports.wallet import ChainInfo, TxRequest, WalletError
from integration.api.platform_support import Harness, running_platform
from integration.security.wallet_actors_support import (
    CHAIN,
    MM,
    WC,
    Browser,
    BusLog,
    WalletPeer,
    funded_account,
    personal_signature,
    send_as,
)
from integration.wallets.walletconnect_relay_support import LocalRelay

pytestmark = [pytest.mark.asyncio, pytest.mark.slow]
DEPOSIT = "0xd0e30db0"  # WETH9.deposit()
REQUESTS = "wallet.metamask:*.request"


async def metamask_connected(h: Harness, browser: Browser) -> str:
    nonce = (await h.client.get("/api/v1/auth/siwe/nonce")).json()
    connected = await h.client.post(
        f"{MM}/connect", json=browser.siwe(nonce), headers=h.auth(Role.TRADER)
    )
    assert connected.status_code == 200, connected.text
    provider_id: str = connected.json()["provider_id"]
    return provider_id


async def answer(h: Harness, request_id: str, **answer: str) -> httpx.Response:
    return await h.client.post(
        f"{MM}/transaction/sign",
        json={"request_id": request_id, **answer},
        headers=h.auth(Role.TRADER),
    )


async def interact(h: Harness, weth: str) -> str:
    call = {"to": weth, "data": DEPOSIT, "value": 3 * 10**17}
    asked = await h.client.post(f"{MM}/contract/interact", json=call, headers=h.auth(Role.TRADER))
    assert asked.status_code == 202, asked.text
    request_id: str = asked.json()["request_id"]
    return request_id


async def test_metamask_answers_are_checked_against_the_account_and_the_chain(
    tmp_path: Path,
) -> None:
    async with running_platform(tmp_path, env=CHAIN, bars=2000) as h:
        chain = h.platform.session.chain
        weth = chain.tokens["WETH"]
        bus = BusLog(
            h.platform.session.kernel.bus,
            REQUESTS,
            "metamask.transaction.failed",
            "metamask.transaction.confirmed",
        )
        browser = Browser(chain.w3)
        pid = await metamask_connected(h, browser)

        # a platform component asks for a signature; a signature by another key is refused
        signing = asyncio.create_task(asyncio.to_thread(chain.wallets.sign_message, pid, "hi"))
        sign = await bus.next(REQUESTS)
        forged = personal_signature(Account.create(), sign.params[0])
        refused = await answer(h, sign.request_id, signature=forged)
        assert (refused.status_code, refused.json()["code"]) == (422, "request_malformed")
        assert "not by the connected account" in refused.json()["detail"]
        assert not signing.done()
        good = personal_signature(browser.account, sign.params[0])
        assert (await answer(h, sign.request_id, signature=good)).status_code == 200
        assert await signing == bytes.fromhex(good[2:])

        # the browser sends a smaller deposit than asked: taken as a hash, never as confirmed
        cheat_id = await interact(h, weth)
        cheat = await bus.next(REQUESTS, 2)
        assert cheat.request_id == cheat_id
        other = await asyncio.to_thread(browser.send, cheat.params[0], value=10**17)
        assert (await answer(h, cheat_id, tx_hash=other)).status_code == 200
        failed = await bus.next("metamask.transaction.failed")
        assert failed.data == {
            "request_id": cheat_id,
            "tx_hash": other,
            "reason": "sent another value",
        }

        # the same through the WalletManager: the caller gets an error, never the hash
        tx = TxRequest(to=weth, value=3 * 10**17, data=bytes.fromhex(DEPOSIT[2:]))
        sending = asyncio.create_task(asyncio.to_thread(chain.wallets.send_transaction, pid, tx))
        asked = await bus.next(REQUESTS, 3)
        elsewhere = await asyncio.to_thread(browser.send, asked.params[0], to=chain.wallet.address)
        assert (await answer(h, asked.request_id, tx_hash=elsewhere)).status_code == 200
        with pytest.raises(WalletError, match="not the transaction requested: sent to another"):
            await sending

        # an honest deposit is confirmed; its hash does not answer the next, identical request
        honest_id = await interact(h, weth)
        honest = await bus.next(REQUESTS, 4)
        tx_hash = await asyncio.to_thread(browser.send, honest.params[0])
        assert (await answer(h, honest_id, tx_hash=tx_hash)).status_code == 200
        confirmed = await bus.next("metamask.transaction.confirmed")
        assert (confirmed.data["request_id"], confirmed.data["status"]) == (honest_id, 1)
        again_id = await interact(h, weth)
        reused = await answer(h, again_id, tx_hash=tx_hash)
        assert (reused.status_code, reused.json()["code"]) == (409, "request_reused")
        assert honest_id in reused.json()["detail"]
        listed = (await h.client.get(f"{MM}/requests", headers=h.auth(Role.TRADER))).json()
        assert [r["request_id"] for r in listed] == [again_id]  # still the browser's to answer
        assert (await answer(h, again_id, error="User rejected")).status_code == 200

        assert [n.data["tx_hash"] for n in bus.got["metamask.transaction.confirmed"]] == [tx_hash]
        assert len(bus.got["metamask.transaction.failed"]) == 2


async def wc_job(h: Harness, method: str, params: list[Any]) -> str:
    sent = await h.client.post(
        f"{WC}/request/send",
        json={"method": method, "params": params},
        headers=h.auth(Role.TRADER),
    )
    assert sent.status_code == 202, sent.text
    request_id: str = sent.json()["request_id"]
    return request_id


async def wc_outcome(h: Harness, request_id: str) -> dict[str, Any]:
    for _ in range(600):
        got = await h.client.get(f"{WC}/request/{request_id}", headers=h.auth(Role.TRADER))
        body: dict[str, Any] = got.json()
        if body["status"] != "pending":
            return body
        await asyncio.sleep(0.05)
    pytest.fail(f"request {request_id} stayed pending")


async def wc_established(h: Harness, peer: WalletPeer) -> None:
    created = await h.client.post(f"{WC}/session/create", headers=h.auth(Role.TRADER))
    assert created.status_code == 200, created.text
    await peer.settle(created.json()["uri"], expiry=int(time.time()) + 3600)
    for _ in range(400):
        status = await h.client.get(f"{WC}/session/status", headers=h.auth(Role.TRADER))
        if status.json()["state"] == "established":
            return
        await asyncio.sleep(0.05)
    pytest.fail("the session was never established")


async def test_walletconnect_answers_are_checked_against_the_account_and_the_chain(
    tmp_path: Path,
) -> None:
    relay = LocalRelay()
    await relay.start()
    env = {**CHAIN, "GREKKO_API__WALLETCONNECT_RELAY_URL": relay.url}
    try:
        async with running_platform(tmp_path, env=env, bars=2000) as h:
            chain = h.platform.session.chain
            bus = BusLog(h.platform.session.kernel.bus, "walletconnect.request.approved")
            peer = WalletPeer(relay.url, funded_account(chain.w3))
            me = peer.account.address
            await wc_established(h, peer)

            forged_id = await wc_job(h, "personal_sign", ["0x" + b"hi".hex(), me])
            ask = await peer.next_request()
            await peer.answer(ask.id, personal_signature(Account.create(), ask.params[0]))
            forged = await wc_outcome(h, forged_id)
            assert forged["status"] == "failed"
            assert f"not to {me}" in forged["error"]
            signed_id = await wc_job(h, "personal_sign", ["0x" + b"hi".hex(), me])
            ask = await peer.next_request()
            await peer.answer(ask.id, personal_signature(peer.account, ask.params[0]))
            assert (await wc_outcome(h, signed_id))["status"] == "approved"

            tx = {"from": me, "to": chain.wallet.address, "value": hex(10**15)}
            cheat_id = await wc_job(h, "eth_sendTransaction", [tx])
            ask = await peer.next_request()
            other = await asyncio.to_thread(send_as, chain.w3, peer.account, ask.params[0], value=1)
            await peer.answer(ask.id, other)
            cheat = await wc_outcome(h, cheat_id)
            assert cheat["status"] == "failed"
            assert "a transaction other than the one asked (sent another value)" in cheat["error"]

            sent_id = await wc_job(h, "eth_sendTransaction", [tx])
            ask = await peer.next_request()
            honest = await asyncio.to_thread(send_as, chain.w3, peer.account, ask.params[0])
            await peer.answer(ask.id, honest)
            sent = await wc_outcome(h, sent_id)
            assert (sent["status"], sent["result"]) == ("approved", honest)

            reused_id = await wc_job(h, "eth_sendTransaction", [tx])
            await peer.answer((await peer.next_request()).id, honest)
            reused = await wc_outcome(h, reused_id)
            assert reused["status"] == "failed"
            assert "to an earlier request already" in reused["error"]

            junk_id = await wc_job(h, "eth_sendTransaction", [tx])
            await peer.answer((await peer.next_request()).id, "0x1234")
            junk = await wc_outcome(h, junk_id)
            assert (junk["status"], junk["result"]) == ("failed", None)
            assert "answer is not valid" in junk["error"]

            approved = [n.payload["request_id"] for n in bus.got["walletconnect.request.approved"]]
            assert approved == [signed_id, sent_id]
            await unmined_hash_is_refused(relay, chain)
            await peer.close()
    finally:
        await relay.stop()


async def unmined_hash_is_refused(relay: LocalRelay, chain: Any) -> None:
    """A hash of nothing: the session waits for it on the node as long as it was told, then
    refuses it (through the WalletManager's path, send_transaction)."""
    session = WalletConnectSession(
        "unmined",
        chains=[ChainInfo(chain.chain_id, "devnet", chain.rpc_url)],
        relay_url=relay.url,
        transaction_reader=mined_transactions(chain.w3, 1.0),
        request_timeout=20,
    )
    peer = WalletPeer(relay.url, funded_account(chain.w3))
    try:
        uri = await asyncio.to_thread(session.create)
        await peer.settle(uri, expiry=int(time.time()) + 3600)
        for _ in range(200):
            if session.is_connected():
                break
            await asyncio.sleep(0.05)
        tx = TxRequest(to=chain.wallet.address, value=1)
        sending = asyncio.create_task(asyncio.to_thread(session.send_transaction, tx))
        await peer.answer((await peer.next_request()).id, "0x" + "ee" * 32)
        with pytest.raises(WalletError, match="was not mined within 1 s"):
            await sending
    finally:
        await peer.close()
        await asyncio.to_thread(session.close)
