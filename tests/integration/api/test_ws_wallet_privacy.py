"""The 'wallets' WebSocket topic over a real uvicorn: a user's MetaMask and WalletConnect traffic
(requests to sign, transactions, swaps) reaches only that user; the platform's own wallet's
events reach everyone subscribed."""

from __future__ import annotations

import json
from typing import Any

import pytest
from realtime_support import TRADER_KEY, VIEWER_TOKEN, TokenAuthenticator, live_server, make_app
from websockets.asyncio.client import ClientConnection, connect

from grekko.adapters.wallets.metamask_requests import MetaMaskRequest
from grekko.api.routes.metamask_swap import SwapNotice
from grekko.api.ws import WebSocketHub, ws_router
from grekko.engines.bus import MessageBus
from grekko.engines.wallets import WalletNotice

TOM = 2  # TRADER_KEY's user id in realtime_support


async def _subscribed(base: str, token: str) -> ClientConnection:
    ws = await connect(f"{base}/ws")
    await ws.send(json.dumps({"op": "auth", "token": token}))
    assert json.loads(await ws.recv())["ok"] is True
    await ws.send(json.dumps({"op": "subscribe", "topics": ["wallets"]}))
    assert json.loads(await ws.recv()) == {"op": "subscribed", "topics": ["wallets"]}
    return ws


async def _events(ws: ClientConnection, count: int) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    while len(out) < count:
        frame = json.loads(await ws.recv())
        if frame["op"] == "event":
            out.append(frame)
    return out


@pytest.mark.asyncio
async def test_a_users_wallet_traffic_goes_to_that_user_alone() -> None:
    bus = MessageBus()
    hub = WebSocketHub(bus, TokenAuthenticator())
    request = MetaMaskRequest(
        ts_event=1, provider_id=f"metamask:{TOM}", request_id="r1", kind="transaction",
        method="eth_sendTransaction", params=[{"to": "0x" + "11" * 20}], expires_at=2,
    )  # fmt: skip
    swapped = SwapNotice(ts_event=3, provider_id=f"metamask:{TOM}", event="completed", data={})
    paired = WalletNotice(
        ts_event=4, provider_id=f"walletconnect:{TOM}", event="session.established"
    )
    forged = WalletNotice(ts_event=5, provider_id="metamask:2x", event="connect")
    platform = WalletNotice(ts_event=6, provider_id="keystore:platform", event="accountsChanged")
    async with live_server(make_app(ws_router(hub))) as base:
        vera, tom = await _subscribed(base, VIEWER_TOKEN), await _subscribed(base, TRADER_KEY)
        try:
            bus.publish(f"wallet.metamask:{TOM}.request", request)
            bus.publish("metamask.swap.completed", swapped)
            bus.publish("walletconnect.session.established", paired)
            bus.publish("wallet.metamask:2x.connect", forged)
            bus.publish("wallet.keystore:platform.accountsChanged", platform)
            to_tom = await _events(tom, 4)
            to_vera = await _events(vera, 1)
        finally:
            await vera.close()
            await tom.close()
    assert [f["type"] for f in to_tom] == [
        "MetaMaskRequest",
        "SwapNotice",
        "WalletNotice",
        "WalletNotice",
    ]
    assert to_tom[0]["data"]["request_id"] == "r1"
    assert to_tom[3]["data"]["provider_id"] == "keystore:platform"
    assert [f["data"]["provider_id"] for f in to_vera] == ["keystore:platform"]
