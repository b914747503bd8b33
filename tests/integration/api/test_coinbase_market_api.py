"""Coinbase as a market data source of the running platform, and unlinking it, against the local
Coinbase that replays recorded payloads and verifies every private request's ES256 JWT.

All the while every logger is at DEBUG, and the key name and the PEM must show up in no log
line, no bus message and no API answer (headers included)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from coinbase_secrecy_support import Witness, pem_parts, witness
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from platform_support import Harness, running_platform

from grekko.api.principal import Role
from grekko.domain.data import Bar, QuoteTick
from grekko.ports.secrets import SecretNotFound
from integration.adapters.ccxt.coinbase_trading_server import CoinbaseTradingServer

pytestmark = pytest.mark.asyncio
KEY_NAME = "organizations/99999999-2222-3333-4444-555555555555/apiKeys/abcdef01-7777-8888"
IID = "BTC/USD@coinbase"
BOOK_TIME_NS = 1775521739662 * 10**6  # the recorded book's "time", as ccxt parses it (ms)
CANDLES = "/api/v3/brokerage/market/products/BTC-USD/candles"
COINBASE_SECRETS = ("exchange/coinbase/api_key", "exchange/coinbase/api_secret")


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
        server.serve_candles_live(int(time.time()), released=1)
        yield server


def env(server: CoinbaseTradingServer) -> dict[str, str]:
    return {
        "GREKKO_COINBASE__REST_URL": server.rest_url,
        "GREKKO_COINBASE__POLL_FILLS_S": "0.1",
        "GREKKO_COINBASE__POLL_MARKET_S": "0.1",
    }


async def until(done: Callable[[], bool], what: str, tries: int = 400) -> None:
    for _ in range(tries):
        if done():
            return
        await asyncio.sleep(0.025)
    raise AssertionError(f"never happened: {what}")


def expected_bar(server: CoinbaseTradingServer, index: int) -> Bar:
    row = server.recorded_candles()[index]
    opens = server.live_start_s(index, 60) * 10**9
    values = (float(row[k]) for k in ("open", "high", "low", "close", "volume"))
    return Bar(IID, *values, opens, opens + 60 * 10**9)


def expected_quote(server: CoinbaseTradingServer) -> QuoteTick:
    book = server.load("http_product_book.json")["pricebook"]
    bid, ask = book["bids"][0], book["asks"][0]
    prices = (float(bid["price"]), float(ask["price"]), float(bid["size"]), float(ask["size"]))
    return QuoteTick(IID, *prices, BOOK_TIME_NS)


async def link_and_list(h: Harness, seen: Witness, pem: str) -> None:
    admin, trader = h.auth(Role.ADMIN), h.auth(Role.TRADER)
    body = {"api_key_name": KEY_NAME, "api_private_key": pem}
    linked = await seen.call(h.client, "POST", "/api/v1/coinbase/connect", json=body, headers=admin)
    assert linked.status_code == 200, linked.text
    market = {"symbol": "BTC/USD"}
    listed = await seen.call(
        h.client, "POST", "/api/v1/coinbase/markets", json=market, headers=trader
    )
    assert listed.status_code == 201, listed.text
    assert listed.json() == {"instrument_id": IID, "symbol": "BTC/USD"}


async def test_candles_and_quotes_flow_in_and_survive_outages(
    tmp_path: Path, key: ec.EllipticCurvePrivateKey, coinbase: CoinbaseTradingServer
) -> None:
    pem = _pem(key)
    with witness() as seen:
        async with running_platform(tmp_path, env=env(coinbase), bars=400) as h:
            seen.debug_everywhere()
            kernel = h.platform.session.kernel
            seen.watch_bus(kernel)
            bars: list[Bar] = []
            quotes: list[QuoteTick] = []
            errors: list[dict[str, Any]] = []
            kernel.bus.subscribe(f"data.bars.{IID}", bars.append)
            kernel.bus.subscribe(f"data.quotes.{IID}", quotes.append)
            kernel.bus.subscribe("coinbase.error.occurred", errors.append)
            await link_and_list(h, seen, pem)

            await until(lambda: bars and quotes, "the first bar and quote")
            assert bars == [expected_bar(coinbase, 0)]
            assert quotes == [expected_quote(coinbase)]
            assert kernel.cache.last_bar[IID] == expected_bar(coinbase, 0)
            assert kernel.cache.last_quote[IID] == expected_quote(coinbase)
            polled = await seen.call(
                h.client, "GET", "/api/v1/coinbase/markets", headers=h.auth(Role.VIEWER)
            )
            assert polled.status_code == 403  # a trader's view
            polled = await seen.call(
                h.client, "GET", "/api/v1/coinbase/markets", headers=h.auth(Role.TRADER)
            )
            assert polled.json() == [{"instrument_id": IID, "symbol": "BTC/USD"}]

            await outages(h, seen, coinbase, errors)
            assert (len(bars), len(quotes)) == (1, 1)  # nothing while Coinbase was away
            coinbase.release_candles(2)
            coinbase.restart()
            await until(lambda: len(bars) == 2, "the next bar once Coinbase is back")
            assert bars == [expected_bar(coinbase, 0), expected_bar(coinbase, 1)]
            assert kernel.cache.last_bar[IID] == expected_bar(coinbase, 1)
            assert quotes == [expected_quote(coinbase)]  # the book has not changed
            assert coinbase.rejections == []
            assert h.app.state.services.extra["coinbase"].quarantine.total == 0
    assert min(len(seen.logs), len(seen.bus), len(seen.answers)) > 0  # it did watch
    assert seen.leaks(KEY_NAME, *pem_parts(pem)) == []
    assert [line for line in seen.logs if "Bearer ey" in line] == []  # nor a request's JWT


async def outages(
    h: Harness, seen: Witness, coinbase: CoinbaseTradingServer, errors: list[dict[str, Any]]
) -> None:
    """Coinbase answers 500, then is not there at all: errors on the bus, the platform serves."""
    coinbase.answer_all(500)
    await until(lambda: len(errors) >= 2, "errors while Coinbase answers 500")
    coinbase.answer_all(None)
    coinbase.stop()
    refused = len(errors)
    await until(lambda: len(errors) > refused, "an error while Coinbase is down")
    assert {(e["during"], e["symbol"]) for e in errors} == {("market data", "BTC/USD")}
    assert any("500" in e["error"] for e in errors[:refused])
    alive = await seen.call(h.client, "GET", "/api/v1/portfolio", headers=h.auth(Role.VIEWER))
    assert alive.status_code == 200  # the platform carries on without Coinbase


async def test_trade_unlink_and_link_again(
    tmp_path: Path, key: ec.EllipticCurvePrivateKey, coinbase: CoinbaseTradingServer
) -> None:
    pem = _pem(key)
    with witness() as seen:
        async with running_platform(tmp_path, env=env(coinbase), bars=400) as h:
            seen.debug_everywhere()
            kernel = h.platform.session.kernel
            seen.watch_bus(kernel)
            admin = h.auth(Role.ADMIN)
            heard: list[dict[str, Any]] = []
            kernel.bus.subscribe("coinbase.*", heard.append)
            stranger = _pem(ec.generate_private_key(ec.SECP256R1()))
            body = {"api_key_name": KEY_NAME, "api_private_key": stranger}
            refused = await seen.call(
                h.client, "POST", "/api/v1/coinbase/connect", json=body, headers=admin
            )
            assert refused.status_code == 401  # an error with the key name in Coinbase's reach
            await link_and_list(h, seen, pem)
            await until(lambda: IID in kernel.cache.last_quote, "market data")

            await trade_until_filled(h, seen, coinbase)
            await unlink_waits_for_working_orders(h, seen, coinbase)
            vault = h.app.state.services.extra["vault"]
            assert vault.get(COINBASE_SECRETS[0]) == KEY_NAME

            await unlink(h, seen, vault)
            polls = len(coinbase.requests)
            await until(lambda: heard[-1:] == [{"was_linked": True, "key_removed": True}], "closed")

            await after_unlink_nothing_reaches_coinbase(h, seen)
            assert len(coinbase.requests) == polls  # the pollers are stopped
            again = await seen.call(h.client, "DELETE", "/api/v1/coinbase/connect", headers=admin)
            assert again.json() == {"was_linked": False, "key_removed": False}

            await link_and_list(h, seen, pem)
            await until(lambda: len(coinbase.seen("GET", CANDLES)) > 2, "polling again")
            since = coinbase.seen("GET", CANDLES)[-1].query["start"][0]
            assert int(since) == coinbase.live_start_s(0, 60)  # where it stopped: no bar twice
            await trade_until_filled(h, seen, coinbase)  # the venue trades with the new client
    assert seen.leaks(KEY_NAME, *pem_parts(pem), *pem_parts(stranger)) == []
    assert [line for line in seen.logs if "Bearer ey" in line] == []


async def trade_until_filled(h: Harness, seen: Witness, coinbase: CoinbaseTradingServer) -> None:
    coinbase.number_next_orders("0000-000000-000000")  # the recorded fill's order id
    order = {"symbol": "BTC/USD", "side": "buy", "type": "market", "quantity": "0.005"}
    trader = h.auth(Role.TRADER)
    placed = await seen.call(
        h.client, "POST", "/api/v1/coinbase/trade/execute", json=order, headers=trader
    )
    assert placed.status_code == 201, placed.text
    cid = placed.json()["client_order_id"]
    status: dict[str, Any] = {}

    async def filled() -> bool:
        nonlocal status
        status = (await seen.call(h.client, "GET", f"/api/v1/orders/{cid}", headers=trader)).json()
        return status["status"] == "filled"

    for _ in range(200):
        if await filled():
            break
        await asyncio.sleep(0.025)
    assert status["status"] == "filled", status


async def after_unlink_nothing_reaches_coinbase(h: Harness, seen: Witness) -> None:
    trader = h.auth(Role.TRADER)
    for method, path, body in (
        ("GET", "/api/v1/coinbase/accounts", None),
        ("POST", "/api/v1/coinbase/trade/execute", {"symbol": "BTC/USD", "side": "buy", "quantity": "0.001"}),
        ("POST", "/api/v1/coinbase/markets", {"symbol": "BTC/USD"}),
    ):  # fmt: skip
        answer = await seen.call(h.client, method, path, json=body, headers=trader)
        assert (answer.status_code, answer.json()["code"]) == (409, "coinbase_not_linked"), path
    order = {"instrument_id": IID, "side": "buy", "type": "market", "quantity": "0.001"}
    placed = await seen.call(h.client, "POST", "/api/v1/orders", json=order, headers=trader)
    assert placed.status_code == 201, placed.text
    cid = placed.json()["client_order_id"]
    status: dict[str, Any] = placed.json()
    for _ in range(200):
        if status["status"] == "rejected":
            break
        await asyncio.sleep(0.025)
        status = (await seen.call(h.client, "GET", f"/api/v1/orders/{cid}", headers=trader)).json()
    assert status["status"] == "rejected", status
    assert status["reason"].startswith("Coinbase is not linked")


async def unlink_waits_for_working_orders(
    h: Harness, seen: Witness, coinbase: CoinbaseTradingServer
) -> None:
    """An order Coinbase still works keeps the link: its fills could not be heard without it."""
    coinbase.number_next_orders("0000-000000-000001")  # recorded OPEN, with no fills
    order = {"symbol": "BTC/USD", "side": "buy", "type": "limit", "quantity": "0.001"}
    order["price"] = "66000"  # within the risk band of the last bar close
    trader, admin = h.auth(Role.TRADER), h.auth(Role.ADMIN)
    placed = await seen.call(
        h.client, "POST", "/api/v1/coinbase/trade/execute", json=order, headers=trader
    )
    assert placed.status_code == 201, placed.text
    assert placed.json()["status"] in ("submitted", "accepted"), placed.text
    cid = placed.json()["client_order_id"]
    kept = await seen.call(h.client, "DELETE", "/api/v1/coinbase/connect", headers=admin)
    assert (kept.status_code, kept.json()["code"]) == (409, "coinbase_orders_working")
    assert cid in kept.json()["detail"]
    cancel = await seen.call(h.client, "DELETE", f"/api/v1/orders/{cid}", headers=trader)
    assert cancel.status_code == 200, cancel.text
    status: dict[str, Any] = cancel.json()
    for _ in range(200):
        if status["status"] == "canceled":
            break
        await asyncio.sleep(0.025)
        status = (await seen.call(h.client, "GET", f"/api/v1/orders/{cid}", headers=trader)).json()
    assert status["status"] == "canceled", status


async def unlink(h: Harness, seen: Witness, vault: Any) -> None:
    """Only an admin unlinks; the key's name and private key leave the secrets store."""
    path = "/api/v1/coinbase/connect"
    refused = await seen.call(h.client, "DELETE", path, headers=h.auth(Role.TRADER))
    assert refused.status_code == 403
    gone = await seen.call(h.client, "DELETE", path, headers=h.auth(Role.ADMIN))
    assert gone.status_code == 200, gone.text
    assert gone.json() == {"was_linked": True, "key_removed": True}
    for name in COINBASE_SECRETS:
        with pytest.raises(SecretNotFound):
            vault.get(name)
    assert not set(COINBASE_SECRETS) & set(vault.names())
