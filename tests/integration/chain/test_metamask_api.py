"""The served platform with the chain on, and a trader's MetaMask played by a Python stand-in that
holds a real devnet key: it signs a real SIWE message, reads the platform's requests from the
kernel bus (what the WebSocket's 'wallets' topic forwards), signs them with eth_account and sends
them to anvil itself, as MetaMask would, then tells the server the hash."""

from __future__ import annotations

import asyncio
import warnings
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from eth_account import Account
from eth_account.messages import encode_defunct

from grekko.api.principal import Role
from grekko.ports.wallet import TxRequest, WalletError
from integration.api.platform_support import Harness, running_platform

pytestmark = pytest.mark.asyncio

ENV = {
    "GREKKO_CHAIN__ENABLED": "true",
    "GREKKO_CHAIN__MIRROR": "false",
    "GREKKO_AGENTS__ENABLED": "[]",
}
API = "/api/v1/metamask"
DEPOSIT = "0xd0e30db0"  # WETH9.deposit()
_BALANCE_OF = [
    {
        "name": "balanceOf",
        "type": "function",
        "stateMutability": "view",
        "inputs": [{"name": "a", "type": "address"}],
        "outputs": [{"name": "b", "type": "uint256"}],
    }
]


class StandInMetaMask:
    """What the browser's MetaMask does for the platform: SIWE, and eth_sendTransaction."""

    def __init__(self, w3: Any) -> None:
        self.w3 = w3
        self.account = Account.create()
        w3.provider.make_request("anvil_setBalance", [self.account.address, hex(10 * 10**18)])

    def siwe(self, nonce: dict[str, Any], signer: Any = None) -> dict[str, Any]:
        with warnings.catch_warnings():  # its ABNF grammar warns about RFC 5234 core rules
            warnings.simplefilter("ignore")
            from siwe import SiweMessage  # type: ignore[import-untyped,unused-ignore]

        now = datetime.now(tz=UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
        message = SiweMessage(
            domain=nonce["domain"],
            address=self.account.address,
            statement="Connect MetaMask to Grekko",
            uri=f"http://{nonce['domain']}/",
            version="1",
            chain_id=nonce["chain_id"],
            nonce=nonce["nonce"],
            issued_at=now,
        ).prepare_message()
        signed = (signer or self.account).sign_message(encode_defunct(text=message))
        return {
            "address": self.account.address,
            "chain_id": nonce["chain_id"],
            "message": message,
            "signature": "0x" + bytes(signed.signature).hex(),
        }

    def send(self, params: dict[str, str]) -> str:
        """Fill in nonce, fees and gas from the node as MetaMask does, sign, broadcast."""
        me = self.account.address
        assert params["from"] == me
        tx: dict[str, Any] = {
            "type": 2,
            "chainId": int(params["chainId"], 16),
            "to": params["to"],
            "value": int(params["value"], 16),
            "data": params["data"],
            "nonce": self.w3.eth.get_transaction_count(me, "pending"),
            "maxPriorityFeePerGas": 10**9,
        }
        tx["maxFeePerGas"] = 2 * int(self.w3.eth.get_block("latest")["baseFeePerGas"]) + 10**9
        tx["gas"] = int(params.get("gas", "0x0"), 16) or 2 * self.w3.eth.estimate_gas(
            {"from": me, "to": tx["to"], "value": tx["value"], "data": tx["data"]}
        )
        signed = self.account.sign_transaction(tx)
        return "0x" + bytes(self.w3.eth.send_raw_transaction(signed.raw_transaction)).hex()


class BusTap:
    """Messages the kernel bus carried, by topic pattern (the test runs on the kernel's loop)."""

    def __init__(self, bus: Any, *patterns: str) -> None:
        self.got: dict[str, list[Any]] = {p: [] for p in patterns}
        for pattern in patterns:
            bus.subscribe(pattern, self.got[pattern].append)

    async def next(self, pattern: str, count: int = 1) -> Any:
        for _ in range(400):
            if len(self.got[pattern]) >= count:
                return self.got[pattern][count - 1]
            await asyncio.sleep(0.025)
        raise AssertionError(f"nothing (or too little) on {pattern}: {self.got}")


async def connect(h: Harness, browser: StandInMetaMask, role: Role = Role.TRADER) -> httpx.Response:
    nonce = (await h.client.get("/api/v1/auth/siwe/nonce")).json()
    answer: httpx.Response = await h.client.post(
        f"{API}/connect", json=browser.siwe(nonce), headers=h.auth(role)
    )
    return answer


async def connect_after_a_forgery(h: Harness, browser: StandInMetaMask) -> str:
    """A forged SIWE signature is refused (without burning the nonce), the real one connects,
    and the nonce then is spent. Returns the bridge's provider id."""
    trader = h.auth(Role.TRADER)
    nonce = (await h.client.get("/api/v1/auth/siwe/nonce")).json()
    forged = browser.siwe(nonce, signer=Account.create())
    refused = await h.client.post(f"{API}/connect", json=forged, headers=trader)
    assert refused.status_code == 401
    assert refused.json()["code"] == "siwe_signature_invalid"
    connected = await h.client.post(f"{API}/connect", json=browser.siwe(nonce), headers=trader)
    assert connected.status_code == 200, connected.text
    me = (await h.client.get("/api/v1/auth/me", headers=trader)).json()
    pid = f"metamask:{me['id']}"
    assert connected.json() == {
        "provider_id": pid,
        "name": "MetaMask",
        "connected": True,
        "chain_id": 31337,
        "accounts": [browser.account.address],
    }
    replayed = await h.client.post(f"{API}/connect", json=browser.siwe(nonce), headers=trader)
    assert replayed.json()["code"] == "siwe_nonce_invalid"
    return pid


async def test_a_contract_call_is_signed_and_sent_by_the_users_metamask(tmp_path: Path) -> None:
    async with running_platform(tmp_path, env=ENV, bars=2000) as h:
        chain, trader = h.platform.session.chain, h.auth(Role.TRADER)
        tap = BusTap(
            h.platform.session.kernel.bus,
            "wallet.metamask:*.request",
            "metamask.account.changed",
            "metamask.transaction.confirmed",
        )
        browser = StandInMetaMask(chain.w3)
        pid = await connect_after_a_forgery(h, browser)
        changed = await tap.next("metamask.account.changed")
        assert changed.data["accounts"] == [browser.account.address]

        weth = chain.tokens["WETH"]
        call = {"to": weth, "data": DEPOSIT, "value": 3 * 10**17}
        asked = await h.client.post(f"{API}/contract/interact", json=call, headers=trader)
        assert asked.status_code == 202, asked.text
        request = await tap.next("wallet.metamask:*.request")
        assert request.request_id == asked.json()["request_id"]
        assert request.method == "eth_sendTransaction"
        listed = (await h.client.get(f"{API}/requests", headers=trader)).json()
        assert [r["request_id"] for r in listed] == [request.request_id]
        assert listed[0]["params"][0]["value"] == hex(3 * 10**17)

        tx_hash = await asyncio.to_thread(browser.send, request.params[0])
        answer = {"request_id": request.request_id, "tx_hash": tx_hash}
        answered = await h.client.post(f"{API}/transaction/sign", json=answer, headers=trader)
        assert answered.status_code == 200, answered.text
        again = await h.client.post(f"{API}/transaction/sign", json=answer, headers=trader)
        assert (again.status_code, again.json()["code"]) == (409, "request_settled")

        confirmed = await tap.next("metamask.transaction.confirmed")
        assert confirmed.data["tx_hash"] == tx_hash
        assert confirmed.data["status"] == 1
        assert confirmed.data["block_number"] >= 1
        token = chain.w3.eth.contract(address=weth, abi=_BALANCE_OF)
        assert token.functions.balanceOf(browser.account.address).call() == 3 * 10**17

        wallets = (await h.client.get("/api/v1/wallets", headers=trader)).json()
        mine = next(w for w in wallets if w["provider_id"] == pid)
        assert mine["accounts"] == [browser.account.address]
        admin = (await h.client.get("/api/v1/wallets", headers=h.auth(Role.ADMIN))).json()
        assert pid in [w["provider_id"] for w in admin]
        viewer = (await h.client.get("/api/v1/wallets", headers=h.auth(Role.VIEWER))).json()
        assert [w["provider_id"] for w in viewer] == ["keystore"]  # another user's: not shown
        assert mine["balances"][browser.account.address]["WETH"] == "0.300000000000000000"


async def test_a_refusal_in_metamask_reaches_the_server_side_caller(tmp_path: Path) -> None:
    async with running_platform(tmp_path, env=ENV, bars=2000) as h:
        chain, trader = h.platform.session.chain, h.auth(Role.TRADER)
        tap = BusTap(h.platform.session.kernel.bus, "wallet.metamask:*.request")
        browser = StandInMetaMask(chain.w3)
        assert (await connect(h, browser)).status_code == 200
        switch = (await h.client.get(f"{API}/network/switch", headers=trader)).json()
        assert switch["wallet_switchEthereumChain"] == [{"chainId": "0x7a69"}]
        assert switch["wallet_addEthereumChain"][0]["rpcUrls"] == [chain.rpc_url]
        pid = connected_pid(chain)

        # a platform component (e.g. a confirmed DEX swap) asks on a worker thread
        tx = TxRequest(to=chain.tokens["WETH"], value=10**17, data=bytes.fromhex(DEPOSIT[2:]))
        caller = asyncio.create_task(asyncio.to_thread(chain.wallets.send_transaction, pid, tx))
        request = await tap.next("wallet.metamask:*.request")
        refusal = {"request_id": request.request_id, "error": "User rejected the request."}
        foreign = await h.client.post(
            f"{API}/transaction/sign", json=refusal, headers=h.auth(Role.ADMIN)
        )
        assert (foreign.status_code, foreign.json()["code"]) == (403, "request_foreign")
        assert not caller.done()
        rejected = await h.client.post(f"{API}/transaction/sign", json=refusal, headers=trader)
        assert rejected.status_code == 200, rejected.text
        with pytest.raises(WalletError, match="User rejected the request"):
            await caller

        moved = await h.client.post(f"{API}/network", json={"chain_id": 1}, headers=trader)
        assert moved.json()["chain_id"] == 1
        assert chain.wallets.get(pid).chain_id == 1


def connected_pid(chain: Any) -> str:
    (pid,) = [p for p in chain.wallets.provider_ids() if p.startswith("metamask:")]
    return str(pid)
