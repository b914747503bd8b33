"""A Uniswap swap the trader's own MetaMask signs, on the served platform and a real devnet: the
platform quotes and builds it, the stand-in MetaMask (a real key) signs and sends each step to
anvil, and the platform follows the receipts and reports what the wallet received."""

from __future__ import annotations

import asyncio
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from grekko.api.principal import Role
from integration.api.platform_support import Harness, running_platform
from integration.chain.test_metamask_api import API, ENV, BusTap, StandInMetaMask, connect

pytestmark = pytest.mark.asyncio

_ERC20 = [
    {
        "name": "balanceOf",
        "type": "function",
        "stateMutability": "view",
        "inputs": [{"name": "a", "type": "address"}],
        "outputs": [{"name": "b", "type": "uint256"}],
    }
]


async def answer(h: Harness, browser: StandInMetaMask, request: Any) -> str:
    """What MetaMask does with a pushed request: sign, send, tell the server the hash."""
    tx_hash = await asyncio.to_thread(browser.send, request.params[0])
    body = {"request_id": request.request_id, "tx_hash": tx_hash}
    sent = await h.client.post(f"{API}/transaction/sign", json=body, headers=h.auth(Role.TRADER))
    assert sent.status_code == 200, sent.text
    return tx_hash


def balance(chain: Any, symbol: str, owner: str) -> int:
    token = chain.w3.eth.contract(address=chain.tokens[symbol], abi=_ERC20)
    return int(token.functions.balanceOf(owner).call())


async def test_swaps_signed_in_metamask_settle_on_chain(tmp_path: Path) -> None:
    async with running_platform(tmp_path, env=ENV, bars=2000) as h:
        chain, trader = h.platform.session.chain, h.auth(Role.TRADER)
        bus = h.platform.session.kernel.bus
        tap = BusTap(bus, "wallet.metamask:*.request", "metamask.swap.*")
        browser = StandInMetaMask(chain.w3)
        me = browser.account.address
        assert (await connect(h, browser)).status_code == 200

        # ether in: one step, no approval; the quote's minimum is the slippage below it
        body = {"sell": "ETH", "buy": "USDC", "amount": "0.5", "slippage_bps": 100}
        made = await h.client.post(f"{API}/swap", json=body, headers=trader)
        assert made.status_code == 202, made.text
        plan = made.json()
        assert plan["steps"] == ["swap"]
        assert plan["route"] == ["WETH", "USDC"]
        assert plan["amount_in"] == "0.500000000000000000"
        expected = Decimal(plan["expected_out"])
        units = int(expected.scaleb(6))
        assert Decimal(plan["min_out"]) == Decimal(units * 9900 // 10_000).scaleb(-6)
        request = await tap.next("wallet.metamask:*.request")
        assert request.params[0]["value"] == hex(5 * 10**17)
        await answer(h, browser, request)
        done = await tap.next("metamask.swap.*")
        assert done.data["swap_id"] == plan["swap_id"]
        assert done.data["received"] == str(Decimal(balance(chain, "USDC", me)).scaleb(-6))
        assert Decimal(done.data["received"]) == expected  # nothing moved the pool meanwhile
        receipt = chain.w3.eth.get_transaction_receipt(done.data["tx_hash"])
        assert (receipt["status"], receipt["from"]) == (1, me)

        # a token in: the router's allowance first, then the swap, each signed in turn
        usdc_before = balance(chain, "USDC", me)
        body = {"sell": "USDC", "buy": "WETH", "amount": "100"}
        made = await h.client.post(f"{API}/swap", json=body, headers=trader)
        assert made.status_code == 202, made.text
        assert made.json()["steps"] == ["approve", "swap"]
        await answer(h, browser, await tap.next("wallet.metamask:*.request", 2))
        await answer(h, browser, await tap.next("wallet.metamask:*.request", 3))
        done = await tap.next("metamask.swap.*", 2)
        assert done.data["swap_id"] == made.json()["swap_id"]
        assert balance(chain, "USDC", me) == usdc_before - 100 * 10**6
        weth = balance(chain, "WETH", me)
        assert done.data["received"] == str(Decimal(weth).scaleb(-18))
        assert [m.data["swap_id"] for m in tap.got["metamask.swap.*"]] == [
            plan["swap_id"],
            made.json()["swap_id"],
        ]
        assert all(m.data.get("reason") is None for m in tap.got["metamask.swap.*"]), (
            "no swap failed"
        )


async def test_a_swap_refused_in_metamask_or_badly_asked_is_reported(tmp_path: Path) -> None:
    async with running_platform(tmp_path, env=ENV, bars=2000) as h:
        chain, trader = h.platform.session.chain, h.auth(Role.TRADER)
        tap = BusTap(h.platform.session.kernel.bus, "wallet.metamask:*.request", "metamask.swap.*")
        browser = StandInMetaMask(chain.w3)
        body = {"sell": "ETH", "buy": "USDC", "amount": "0.1"}
        before = await h.client.post(f"{API}/swap", json=body, headers=trader)
        assert (before.status_code, before.json()["code"]) == (409, "metamask_not_connected")
        assert (await connect(h, browser)).status_code == 200

        bad = {"sell": "ETH", "buy": "DOGE", "amount": "0.1"}
        unknown = await h.client.post(f"{API}/swap", json=bad, headers=trader)
        assert (unknown.status_code, unknown.json()["code"]) == (422, "unknown_token")
        fine = {"sell": "USDC", "buy": "ETH", "amount": "1.0000001"}
        too_fine = await h.client.post(f"{API}/swap", json=fine, headers=trader)
        assert (too_fine.status_code, too_fine.json()["code"]) == (422, "swap_refused")
        assert "6 decimals" in too_fine.json()["detail"]
        viewer = await h.client.post(f"{API}/swap", json=body, headers=h.auth(Role.VIEWER))
        assert viewer.status_code == 403

        made = await h.client.post(f"{API}/swap", json=body, headers=trader)
        assert made.status_code == 202, made.text
        request = await tap.next("wallet.metamask:*.request")
        refusal = {"request_id": request.request_id, "error": "User rejected the request."}
        refused = await h.client.post(f"{API}/transaction/sign", json=refusal, headers=trader)
        assert refused.status_code == 200
        failed = await tap.next("metamask.swap.*")
        assert failed.data["swap_id"] == made.json()["swap_id"]
        assert "User rejected the request." in failed.data["reason"]
        assert balance(chain, "USDC", browser.account.address) == 0

        moved = await h.client.post(f"{API}/network", json={"chain_id": 1}, headers=trader)
        assert moved.status_code == 200
        elsewhere = await h.client.post(f"{API}/swap", json=body, headers=trader)
        assert (elsewhere.status_code, elsewhere.json()["code"]) == (409, "wrong_network")
