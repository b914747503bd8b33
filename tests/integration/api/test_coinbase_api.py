"""Linking Coinbase through the API and trading on it, against a local Coinbase that replays real
payload formats and verifies every request's ES256 JWT with the test key's public half."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from platform_support import PASSWORD, running_platform

from grekko.api.principal import Role
from integration.adapters.ccxt.coinbase_trading_server import CoinbaseTradingServer

pytestmark = pytest.mark.asyncio
KEY_NAME = "organizations/11111111-2222-3333-4444-555555555555/apiKeys/66666666-7777-8888"
ORDERS = "/api/v3/brokerage/orders"


def _pem(key: ec.EllipticCurvePrivateKey) -> str:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.TraditionalOpenSSL,
        serialization.NoEncryption(),
    ).decode("ascii")


@pytest.fixture
def key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


@pytest.fixture
def coinbase(key: ec.EllipticCurvePrivateKey) -> Iterator[CoinbaseTradingServer]:
    with CoinbaseTradingServer(KEY_NAME, key.public_key()) as server:
        yield server


async def test_link_trade_and_onramp(
    tmp_path: Path, key: ec.EllipticCurvePrivateKey, coinbase: CoinbaseTradingServer
) -> None:
    env = {
        "GREKKO_COINBASE__REST_URL": coinbase.rest_url,
        "GREKKO_COINBASE__POLL_FILLS_S": "0.2",
        "GREKKO_COINBASE__ONRAMP_APP_ID": "grekko-test-app",
    }
    async with running_platform(tmp_path, env=env, bars=3000) as h:
        kernel = h.platform.session.kernel
        heard: list[dict[str, Any]] = []
        kernel.bus.subscribe("coinbase.*", heard.append)
        admin, trader = h.auth(Role.ADMIN), h.auth(Role.TRADER)

        early = await h.client.get("/api/v1/coinbase/accounts", headers=trader)
        assert (early.status_code, early.json()["code"]) == (409, "coinbase_not_linked")

        link = {"api_key_name": KEY_NAME, "api_private_key": _pem(key)}
        refused = await h.client.post("/api/v1/coinbase/connect", json=link, headers=trader)
        assert refused.status_code == 403  # linking exchange keys is an admin's job
        linked = await h.client.post("/api/v1/coinbase/connect", json=link, headers=admin)
        assert linked.status_code == 200, linked.text
        assert {(a["currency"], a["available"]) for a in linked.json()} == {
            ("BTC", "1.23456789"),
            ("USD", "10000.50"),
        }
        assert "PRIVATE KEY" not in linked.text
        names = (await h.client.get("/api/v1/secrets", headers=admin)).json()
        assert {"exchange/coinbase/api_key", "exchange/coinbase/api_secret"} <= set(names)
        assert heard[:1] == [{"accounts": 2}]
        assert kernel.portfolio.account.total("USD") == Decimal("10450.50")  # available + hold

        coinbase.number_next_orders("0000-000000-000000")  # the recorded fill's order id
        order = {"symbol": "BTC/USD", "side": "buy", "type": "market", "quantity": "0.005"}
        placed = await h.client.post("/api/v1/coinbase/trade/execute", json=order, headers=trader)
        assert placed.status_code == 201, placed.text
        cid = placed.json()["client_order_id"]
        assert placed.json()["instrument_id"] == "BTC/USD@coinbase"
        for _ in range(100):
            status = (await h.client.get(f"/api/v1/orders/{cid}", headers=trader)).json()
            if status["status"] == "filled":
                break
            await asyncio.sleep(0.05)
        assert status["status"] == "filled", status
        assert (status["filled_qty"], status["avg_px"]) == ("0.005", "45123.45")
        [sent] = coinbase.seen("POST", ORDERS)
        assert sent.body["client_order_id"] == cid
        for _ in range(50):  # the fill's event crosses from the poller to the loop
            if any(p.get("client_order_id") == cid for p in heard):
                break
            await asyncio.sleep(0.05)
        [completed] = [p for p in heard if p.get("client_order_id") == cid]
        assert completed["quantity"] == "0.005"

        ramp = {
            "address": "0x" + "ab" * 20,
            "network": "base",
            "asset": "USDC",
            "fiat_amount": "50",
        }
        made = await h.client.post("/api/v1/coinbase/onramp/initiate", json=ramp, headers=trader)
        assert made.status_code == 201, made.text
        assert made.json()["url"].startswith("https://pay.coinbase.com/")
        assert made.json()["status"] == "initiated"
        bad = {**ramp, "address": "0x1234"}
        assert (
            await h.client.post("/api/v1/coinbase/onramp/initiate", json=bad, headers=trader)
        ).status_code == 422
        assert PASSWORD not in made.text


async def test_a_key_coinbase_does_not_know_is_refused(
    tmp_path: Path, coinbase: CoinbaseTradingServer
) -> None:
    stranger = ec.generate_private_key(ec.SECP256R1())
    env = {"GREKKO_COINBASE__REST_URL": coinbase.rest_url}
    async with running_platform(tmp_path, env=env, bars=200) as h:
        link = {"api_key_name": KEY_NAME, "api_private_key": _pem(stranger)}
        answer = await h.client.post(
            "/api/v1/coinbase/connect", json=link, headers=h.auth(Role.ADMIN)
        )
        assert (answer.status_code, answer.json()["code"]) == (401, "coinbase_auth")
        assert "PRIVATE KEY" not in answer.text
        garbage = {"api_key_name": KEY_NAME, "api_private_key": "not a pem"}
        answer = await h.client.post(
            "/api/v1/coinbase/connect", json=garbage, headers=h.auth(Role.ADMIN)
        )
        assert (answer.status_code, answer.json()["code"]) == (422, "coinbase_key_invalid")
