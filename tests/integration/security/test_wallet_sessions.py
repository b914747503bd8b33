"""Sessions expire and a disconnected wallet cannot be used, on the served platform with the chain
on (real anvil, real SQLite): a trader's MetaMask (a Python stand-in with a real key) and a
WalletConnect wallet speaking the real protocol through the local relay.

MetaMask: a SIWE nonce is single-use and expires, so does the SIWE message; a request the browser
does not answer in time expires and a late answer is refused; changing the account rejects what
was asked of the old one; POST /metamask/disconnect rejects what is pending, is heard on the bus
and in the audit log, and then nothing is asked of the wallet or taken from it.
WalletConnect: past the expiry the wallet settled, the session reads `expired`, is dropped from
the WalletManager and refuses requests; after DELETE /session/disconnect a pending request fails
and new ones are refused.
"""

from __future__ import annotations

import asyncio
import secrets
import time
from pathlib import Path
from typing import Any

import pytest
from eth_account import Account

from grekko.api.principal import Role
from grekko.ports.wallet import TxRequest, WalletError
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
)
from integration.wallets.walletconnect_relay_support import LocalRelay

pytestmark = [pytest.mark.asyncio, pytest.mark.slow]
NS = 1_000_000_000
REQUESTS = "wallet.metamask:*.request"
SETTLED = "wallet.metamask:*.request_settled"
DEPOSIT = {"data": "0xd0e30db0", "value": 10**17}  # WETH9.deposit()


async def siwe_connect(h: Harness, browser: Browser, nonce: dict[str, Any], **siwe: Any) -> Any:
    return await h.client.post(
        f"{MM}/connect", json=browser.siwe(nonce, **siwe), headers=h.auth(Role.TRADER)
    )


async def nonces_are_single_use_and_expire(h: Harness, browser: Browser) -> str:
    fresh = (await h.client.get("/api/v1/auth/siwe/nonce")).json()
    stale = {**fresh, "nonce": secrets.token_hex(16)}
    now = time.time_ns()  # issued 400 s ago, so past its 300 s: stored as the nonce route does
    h.app.state.auth.store.insert_nonce(stale["nonce"], now - 400 * NS, now - 100 * NS)
    old = await siwe_connect(h, browser, stale)
    assert (old.status_code, old.json()["code"]) == (401, "siwe_nonce_invalid")
    late = await siwe_connect(h, browser, fresh, expires_in_s=-60)
    assert (late.status_code, late.json()["code"]) == (401, "siwe_expired")
    connected = await siwe_connect(h, browser, fresh)  # the expired message did not burn it
    assert connected.status_code == 200, connected.text
    replayed = await siwe_connect(h, browser, fresh)
    assert (replayed.status_code, replayed.json()["code"]) == (401, "siwe_nonce_invalid")
    provider_id: str = connected.json()["provider_id"]
    return provider_id


async def interact(h: Harness, weth: str) -> str:
    call = {"to": weth, **DEPOSIT}
    asked = await h.client.post(f"{MM}/contract/interact", json=call, headers=h.auth(Role.TRADER))
    assert asked.status_code == 202, asked.text
    request_id: str = asked.json()["request_id"]
    return request_id


async def answer(h: Harness, request_id: str) -> Any:
    body = {"request_id": request_id, "tx_hash": "0x" + "ab" * 32}
    return await h.client.post(f"{MM}/transaction/sign", json=body, headers=h.auth(Role.TRADER))


async def listed(h: Harness) -> Any:
    return await h.client.get(f"{MM}/requests", headers=h.auth(Role.TRADER))


async def test_metamask_requests_expire_and_a_disconnected_metamask_is_refused(
    tmp_path: Path,
) -> None:
    async with running_platform(tmp_path, env=CHAIN, bars=2000) as h:
        chain, trader = h.platform.session.chain, h.auth(Role.TRADER)
        weth = chain.tokens["WETH"]
        bus = BusLog(
            h.platform.session.kernel.bus,
            REQUESTS,
            SETTLED,
            "wallet.metamask:*.disconnect",
            "metamask.account.changed",
        )
        first = Browser(chain.w3)
        pid = await nonces_are_single_use_and_expire(h, first)
        bridge = chain.wallets.get(pid)

        bridge.timeout_s = 2.0  # the browser has 2 s to answer what is asked next
        expiring = await interact(h, weth)
        assert [r["request_id"] for r in (await listed(h)).json()] == [expiring]
        expired = await bus.next(SETTLED)
        assert expired.data == {"request_id": expiring, "outcome": "expired"}
        assert (await listed(h)).json() == []
        late = await answer(h, expiring)
        assert (late.status_code, late.json()["code"]) == (409, "request_expired")
        bridge.timeout_s = 120.0

        for_first = await interact(h, weth)
        second = Browser(chain.w3)
        nonce = (await h.client.get("/api/v1/auth/siwe/nonce")).json()
        switched = await siwe_connect(h, second, nonce)
        assert switched.json()["accounts"] == [second.account.address]
        rejected = await bus.next(SETTLED, 2)
        assert rejected.data == {"request_id": for_first, "outcome": "rejected"}
        stale = await answer(h, for_first)
        assert (stale.status_code, stale.json()["code"]) == (409, "request_settled")

        pending = await interact(h, weth)
        await disconnect(h, pid, second.account.address)
        assert (await bus.next(SETTLED, 3)).data == {"request_id": pending, "outcome": "rejected"}
        assert (await bus.next("wallet.metamask:*.disconnect")).provider_id == pid
        gone = (await bus.next("metamask.account.changed", 3)).data
        assert gone == {"accounts": [], "previous": second.account.address}
        refused_after_disconnect(h, pid)
        after = await answer(h, pending)
        assert (after.status_code, after.json()["code"]) == (409, "request_settled")
        for response in (
            await h.client.post(
                f"{MM}/contract/interact", json={"to": weth, **DEPOSIT}, headers=trader
            ),
            await listed(h),
            await h.client.post(f"{MM}/network", json={"chain_id": 1}, headers=trader),
        ):
            assert (response.status_code, response.json()["code"]) == (
                409,
                "metamask_not_connected",
            )
        assert len(bus.got[REQUESTS]) == 3  # nothing more was asked of the browser
        wallets = (await h.client.get("/api/v1/wallets", headers=h.auth(Role.TRADER))).json()
        mine = next(w for w in wallets if w["provider_id"] == pid)
        assert (mine["connected"], mine["accounts"], mine["balances"]) == (False, [], {})

        nonce = (await h.client.get("/api/v1/auth/siwe/nonce")).json()
        back = await siwe_connect(h, second, nonce)  # a fresh SIWE connects it again
        assert (back.json()["connected"], back.json()["accounts"]) == (
            True,
            [second.account.address],
        )


async def disconnect(h: Harness, pid: str, address: str) -> None:
    """Only a trader, only their own MetaMask; audited; answering the bridge's new state."""
    viewer = await h.client.post(f"{MM}/disconnect", headers=h.auth(Role.VIEWER))
    assert viewer.status_code == 403
    admin = await h.client.post(f"{MM}/disconnect", headers=h.auth(Role.ADMIN))
    assert (admin.status_code, admin.json()["code"]) == (409, "metamask_not_connected")
    assert h.platform.session.chain.wallets.get(pid).is_connected()  # not the admin's to end
    gone = await h.client.post(f"{MM}/disconnect", headers=h.auth(Role.TRADER))
    assert gone.status_code == 200, gone.text
    assert gone.json() == {
        "provider_id": pid,
        "name": "MetaMask",
        "connected": False,
        "chain_id": 31337,
        "accounts": [],
    }
    again = await h.client.post(f"{MM}/disconnect", headers=h.auth(Role.TRADER))
    assert (again.status_code, again.json()["connected"]) == (200, False)
    audit = await h.client.get("/api/v1/audit?limit=100", headers=h.auth(Role.ADMIN))
    entries = [e for e in audit.json() if e["action"] == "metamask.disconnect"]
    assert [(e["actor"], e["target"]) for e in entries] == [("tess", pid), ("tess", pid)]
    assert address in entries[-1]["detail"]


def refused_after_disconnect(h: Harness, pid: str) -> None:
    wallets = h.platform.session.chain.wallets
    with pytest.raises(WalletError, match="not connected"):
        wallets.send_transaction(pid, TxRequest(to=Account.create().address, value=1))
    with pytest.raises(WalletError, match="not connected"):
        wallets.sign_message(pid, "after the disconnect")


async def wc_status(h: Harness) -> dict[str, Any]:
    got = await h.client.get(f"{WC}/session/status", headers=h.auth(Role.TRADER))
    body: dict[str, Any] = got.json()
    return body


async def wc_until(h: Harness, state: str) -> dict[str, Any]:
    for _ in range(600):
        status = await wc_status(h)
        if status["state"] == state:
            return status
        await asyncio.sleep(0.05)
    pytest.fail(f"the session never became {state}: {status}")


async def wc_settled(h: Harness, path: str) -> dict[str, Any]:
    for _ in range(600):
        body: dict[str, Any] = (await h.client.get(path, headers=h.auth(Role.TRADER))).json()
        if body["status"] != "pending":
            return body
        await asyncio.sleep(0.05)
    pytest.fail(f"{path} stayed pending")


async def wc_paired(h: Harness, peer: WalletPeer, lasting_s: int) -> None:
    created = await h.client.post(f"{WC}/session/create", headers=h.auth(Role.TRADER))
    assert created.status_code == 200, created.text
    await peer.settle(created.json()["uri"], expiry=int(time.time()) + lasting_s)
    await wc_until(h, "established")


async def wc_send(h: Harness, params: list[Any]) -> Any:
    return await h.client.post(
        f"{WC}/request/send",
        json={"method": "personal_sign", "params": params},
        headers=h.auth(Role.TRADER),
    )


async def test_walletconnect_sessions_expire_and_a_disconnected_session_is_refused(
    tmp_path: Path,
) -> None:
    relay = LocalRelay()
    await relay.start()
    env = {**CHAIN, "GREKKO_API__WALLETCONNECT_RELAY_URL": relay.url}
    try:
        async with running_platform(tmp_path, env=env, bars=2000) as h:
            chain = h.platform.session.chain
            bus = BusLog(h.platform.session.kernel.bus, "walletconnect.session.disconnected")
            short = WalletPeer(relay.url, funded_account(chain.w3))
            await wc_paired(h, short, lasting_s=3)  # the wallet grants 3 s
            me = (await h.client.get("/api/v1/auth/me", headers=h.auth(Role.TRADER))).json()
            pid = f"walletconnect:{me['id']}"
            assert pid in chain.wallets.provider_ids()
            expired = await wc_until(h, "expired")
            assert expired["accounts"] == []
            refused = await wc_send(h, ["0x00", short.account.address])
            assert (refused.status_code, refused.json()["code"]) == (409, "not_connected")
            assert "expired" in refused.json()["detail"]
            ended = await bus.next("walletconnect.session.disconnected")
            assert "expired" in ended.payload["reason"]
            assert pid not in chain.wallets.provider_ids()
            with pytest.raises(WalletError, match="no wallet"):
                chain.wallets.connected(pid)
            assert (await wc_status(h))["state"] == "expired"
            await short.close()

            peer = WalletPeer(relay.url, funded_account(chain.w3))
            await wc_paired(h, peer, lasting_s=3600)
            asked = await wc_send(h, ["0x" + b"hold on".hex(), peer.account.address])
            assert asked.status_code == 202, asked.text
            waiting = await peer.next_request()
            gone = await h.client.delete(f"{WC}/session/disconnect", headers=h.auth(Role.TRADER))
            assert gone.json()["state"] == "disconnected"
            await peer.until_deleted()
            path = f"{WC}/request/{asked.json()['request_id']}"
            failed = await wc_settled(h, path)
            assert failed["status"] == "failed"
            assert "session ended" in failed["error"]
            await peer.answer(waiting.id, personal_signature(peer.account, waiting.params[0]))
            again = await wc_send(h, ["0x00", peer.account.address])
            assert (again.status_code, again.json()["code"]) == (409, "not_connected")
            assert (await h.client.get(path, headers=h.auth(Role.TRADER))).json() == failed
            assert pid not in chain.wallets.provider_ids()
            assert (await wc_status(h))["state"] == "disconnected"
            await peer.close()
    finally:
        await relay.stop()
