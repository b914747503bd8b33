"""/api/v1/walletconnect on the served platform with the chain on: a trader creates a session, the
official SDK as the wallet (interop/wc_wallet.mjs, a devnet account) pairs and approves it through
the local relay, then signs, sends a transaction to anvil and is disconnected; the bus carries the
walletconnect.* events and the WalletManager holds the wallet while the session lives."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest
from eth_account import Account
from eth_account.messages import encode_defunct

from grekko.api.principal import Role
from integration.api.platform_support import Harness, running_platform
from integration.wallets.walletconnect_relay_support import LocalRelay
from integration.wallets.walletconnect_wallet_support import NodeWallet, node_wallet

pytestmark = [pytest.mark.asyncio, pytest.mark.slow]
API = "/api/v1/walletconnect"
# anvil's dev account 2: anvil signs eth_sendTransaction for it, as the wallet hands it over
WALLET_KEY = "0x5de4111afa1a4b94908f83103eb1f1706367c2e68ca870fc3fb9a804cdab365a"
WALLET = Account.from_key(WALLET_KEY).address


async def _until(h: Harness, path: str, done: Any, what: str) -> dict[str, Any]:
    """Poll a GET until `done(body)`; the wallet answers over the relay in its own time."""
    body: dict[str, Any] = {}
    for _ in range(600):
        answer = await h.client.get(path, headers=h.auth(Role.TRADER))
        assert answer.status_code == 200, answer.text
        body = answer.json()
        if done(body):
            return body
        await asyncio.sleep(0.05)
    pytest.fail(f"{what} never happened: {body}")


async def _settled_request(h: Harness, method: str, params: list[Any]) -> dict[str, Any]:
    sent = await h.client.post(
        f"{API}/request/send",
        json={"method": method, "params": params},
        headers=h.auth(Role.TRADER),
    )
    assert sent.status_code == 202, sent.text
    assert sent.json()["status"] == "pending"
    path = f"{API}/request/{sent.json()['request_id']}"
    return await _until(h, path, lambda b: b["status"] != "pending", f"the answer to {method}")


async def _pair(h: Harness, wallet: NodeWallet) -> None:
    created = await h.client.post(f"{API}/session/create", headers=h.auth(Role.TRADER))
    assert created.status_code == 200, created.text
    body = created.json()
    assert body["uri"].startswith(f"wc:{body['topic']}@2?")
    assert body["qr_svg"].startswith("<svg")
    status = await h.client.get(f"{API}/session/status", headers=h.auth(Role.TRADER))
    assert status.json()["state"] == "proposed"
    await wallet.expect("ready")
    await wallet.send("pair", uri=body["uri"])
    await wallet.expect("session")


async def test_a_trader_pairs_the_sdk_wallet_signs_sends_and_disconnects(tmp_path: Path) -> None:
    relay = LocalRelay()
    await relay.start()
    env = {
        "GREKKO_CHAIN__ENABLED": "true",
        "GREKKO_CHAIN__MIRROR": "false",
        "GREKKO_AGENTS__ENABLED": "[]",
        "GREKKO_API__WALLETCONNECT_RELAY_URL": relay.url,
        "GREKKO_API__WALLETCONNECT_PROJECT_ID": "grekko-api-test",
    }
    try:
        async with running_platform(tmp_path, env=env, bars=2000) as h:
            chain = h.platform.session.chain
            heard: list[tuple[str, Any]] = []
            h.platform.session.kernel.bus.subscribe(
                "walletconnect.*", lambda notice: heard.append((notice.event, notice.payload))
            )
            async with node_wallet(relay.url, WALLET_KEY, chain.rpc_url) as wallet:
                await _pair(h, wallet)
                status = await _until(
                    h, f"{API}/session/status", lambda b: b["state"] == "established", "approval"
                )
                assert status["accounts"] == [WALLET]
                assert status["peer"]["name"] == "Grekko test wallet"
                me = (await h.client.get("/api/v1/auth/me", headers=h.auth(Role.TRADER))).json()
                provider = f"walletconnect:{me['id']}"
                listed = await h.client.get("/api/v1/wallets", headers=h.auth(Role.TRADER))
                mine = [w for w in listed.json() if w["provider_id"] == provider]
                assert [(w["connected"], w["accounts"]) for w in mine] == [(True, [WALLET])]
                others = await h.client.get("/api/v1/wallets", headers=h.auth(Role.VIEWER))
                assert provider not in [w["provider_id"] for w in others.json()]  # not theirs

                message = "Grekko wants your signature"
                signed = await _settled_request(
                    h, "personal_sign", ["0x" + message.encode().hex(), WALLET]
                )
                assert signed["status"] == "approved", signed
                recovered = Account.recover_message(
                    encode_defunct(text=message), signature=signed["result"]
                )
                assert recovered == WALLET

                refused = await _settled_request(h, "personal_sign", ["please reject", WALLET])
                assert refused["status"] == "failed"
                assert "User rejected" in refused["error"]

                tx = {"from": WALLET, "to": chain.wallet.address, "value": hex(10**15)}
                sent = await _settled_request(h, "eth_sendTransaction", [tx])
                assert sent["status"] == "approved", sent
                receipt = chain.w3.eth.wait_for_transaction_receipt(sent["result"], timeout=30)
                assert receipt["status"] == 1
                assert receipt["from"] == WALLET

                gone = await h.client.delete(
                    f"{API}/session/disconnect", headers=h.auth(Role.TRADER)
                )
                assert gone.status_code == 200, gone.text
                assert gone.json()["state"] == "disconnected"
                await wallet.expect("deleted")
            await _until(h, f"{API}/session/status", lambda b: b["state"] == "disconnected", "end")
            for _ in range(100):  # the events come back through the event loop
                if any(event == "session.disconnected" for event, _ in heard):
                    break
                await asyncio.sleep(0.05)
            assert [event for event, _ in heard] == [
                "session.established",
                "request.approved",
                "request.approved",
                "session.disconnected",
            ]
            assert heard[0][1]["accounts"] == [WALLET]
            listed = await h.client.get("/api/v1/wallets", headers=h.auth(Role.TRADER))
            assert provider not in [w["provider_id"] for w in listed.json()]
            viewer = await h.client.get(f"{API}/session/status", headers=h.auth(Role.VIEWER))
            assert viewer.status_code == 403
    finally:
        await relay.stop()
