"""The served platform (`grekko up`) with the chain on: a trader's API order on the uniswap venue is
a real swap on the devnet, run off the event loop and answered through it."""

from __future__ import annotations

import asyncio
from decimal import Decimal
from pathlib import Path

import pytest

from grekko.api.principal import Role
from grekko.domain.data import TradeTick
from grekko.domain.enums import OrderSide
from integration.api.platform_support import running_platform

pytestmark = pytest.mark.asyncio


async def test_an_api_order_on_the_dex_fills_by_a_swap(tmp_path: Path) -> None:
    # the mirror off: at 5,000 bars/s it would move the pool between quote and swap by more
    # than the slippage allowance (a real rejection, tested in test_dex_venue, not wanted here)
    env = {
        "GREKKO_CHAIN__ENABLED": "true",
        "GREKKO_CHAIN__MIRROR": "false",
        "GREKKO_AGENTS__ENABLED": "[]",
    }
    async with running_platform(tmp_path, env=env, bars=2000) as h:
        trader = h.auth(Role.TRADER)
        kernel = h.platform.session.kernel
        kernel.data.process_trade(  # no mirror swaps: the risk engine's price comes from here
            TradeTick(
                "WETH/USDC@uniswap", 2250.0, 1.0, OrderSide.BUY, "t-0", kernel.clock.timestamp_ns()
            )
        )
        order = {
            "instrument_id": "WETH/USDC@uniswap",
            "side": "buy",
            "type": "market",
            "quantity": "0.25",
        }
        placed = await h.client.post("/api/v1/orders", json=order, headers=trader)
        assert placed.status_code == 201, placed.text
        cid = placed.json()["client_order_id"]
        assert placed.json()["status"] == "submitted"  # the swap runs off the event loop
        for _ in range(200):
            answer = (await h.client.get(f"/api/v1/orders/{cid}", headers=trader)).json()
            if answer["status"] != "submitted":
                break
            await asyncio.sleep(0.05)
        assert answer["status"] == "filled", answer["reason"]
        assert Decimal(answer["filled_qty"]) == Decimal("0.25")
        chain = h.platform.session.chain
        weth = chain.w3.eth.contract(address=chain.tokens["WETH"], abi=_BALANCE_OF)
        assert weth.functions.balanceOf(chain.wallet.address).call() == 25 * 10**16
        balances = (await h.client.get("/api/v1/balances", headers=trader)).json()
        held = {b["currency"]: Decimal(b["total"]) for b in balances}
        assert held["WETH"] == Decimal("0.25")
        assert held["ETH"] > 0  # the wallet's ether, booked from the chain at start
        wallets = (await h.client.get("/api/v1/wallets", headers=h.auth(Role.VIEWER))).json()
        assert [(w["provider_id"], w["connected"], w["chain_id"]) for w in wallets] == [
            ("keystore", True, 31337)
        ]
        assert wallets[0]["accounts"] == [chain.wallet.address]
        on_chain = wallets[0]["balances"][chain.wallet.address]
        assert Decimal(on_chain["WETH"]) == Decimal("0.25")
        assert set(on_chain) == {"ETH", "USDC", "WETH", "WBTC", "UNI"}


_BALANCE_OF = [
    {
        "name": "balanceOf",
        "type": "function",
        "stateMutability": "view",
        "inputs": [{"name": "a", "type": "address"}],
        "outputs": [{"name": "b", "type": "uint256"}],
    }
]
