"""open_exchange: ids, endpoint overrides, strict JSON, and Coinbase's candles channel handler."""

from __future__ import annotations

import asyncio
from typing import Any

import ccxt
import ccxt.pro
import pytest
from ccxt.async_support.base.ws.client import Client

from grekko.adapters.ccxt import exchange_ids, open_exchange
from grekko.adapters.ccxt.exchange import CoinbaseWithCandles
from grekko.core.errors import ConfigError
from recorded_exchange import FIXTURES, load_fixture


def test_unknown_exchange_id_is_a_config_error_saying_where_valid_ids_are() -> None:
    with pytest.raises(
        ConfigError, match=r"unknown exchange id 'coinbas'.*coinbase.*ccxt.exchanges"
    ):
        open_exchange("coinbas")
    with pytest.raises(ConfigError, match=r"ccxt\.exchanges"):
        open_exchange("")


def test_any_ccxt_exchange_opens_by_id_with_websocket_support_when_ccxt_pro_has_it() -> None:
    kraken = open_exchange("kraken")
    assert isinstance(kraken, ccxt.pro.kraken)
    assert kraken.has["watchTrades"]
    rest_only = sorted(set(ccxt.exchanges) - set(ccxt.pro.exchanges))[0]
    assert open_exchange(rest_only).id == rest_only
    assert "binance" in exchange_ids()


def test_coinbase_gets_websocket_candles_and_skips_currencies_unless_asked() -> None:
    coinbase = open_exchange("coinbase")
    assert isinstance(coinbase, CoinbaseWithCandles)
    assert coinbase.has["watchOHLCV"] is True
    assert coinbase.has["fetchCurrencies"] is False
    assert open_exchange("coinbase", load_currencies=True).has["fetchCurrencies"] is True


def test_endpoint_overrides_replace_rest_and_every_websocket_url() -> None:
    coinbase = open_exchange("coinbase", api_urls={"rest": "http://127.0.0.1:9"}, ws_url="ws://x")
    assert coinbase.urls["api"] == {"rest": "http://127.0.0.1:9", "ws": "ws://x"}
    binance = open_exchange("binance", ws_url="ws://127.0.0.1:9/ws")
    ws = binance.urls["api"]["ws"]
    assert isinstance(ws, dict)
    assert isinstance(ws["ws-api"], dict)  # ccxt's nesting is kept
    assert set(leaves(ws)) == {"ws://127.0.0.1:9/ws"}
    assert len(leaves(ws)) == len(leaves(ccxt.pro.binance().urls["api"]["ws"]))


def leaves(tree: object) -> list[object]:
    if isinstance(tree, dict):
        return [leaf for value in tree.values() for leaf in leaves(value)]
    return [tree]


def test_an_unknown_api_url_name_is_a_config_error_listing_the_names() -> None:
    with pytest.raises(ConfigError, match=r"no API url named 'public'.*rest"):
        open_exchange("coinbase", api_urls={"public": "http://127.0.0.1:9"})


def test_options_and_config_pass_through_to_ccxt() -> None:
    coinbase = open_exchange("coinbase", options={"fetchTicker": "fetchTickerV2"}, timeout_ms=1234)
    assert coinbase.options["fetchTicker"] == "fetchTickerV2"
    assert coinbase.timeout == 1234
    assert open_exchange("coinbase", config={"enableRateLimit": False}).enableRateLimit is False


def test_malformed_json_is_a_bad_response_and_valid_json_still_parses() -> None:
    coinbase = open_exchange("coinbase")
    body = (FIXTURES / "http_ticker.json").read_text()
    assert coinbase.on_json_response(body) == load_fixture("http_ticker.json")
    with pytest.raises(ccxt.BadResponse, match="malformed JSON"):
        coinbase.on_json_response(body[:-7])


def coinbase_with_recorded_markets() -> Any:
    exchange = open_exchange("coinbase")
    products = load_fixture("http_products.json")["products"]
    exchange.set_markets([exchange.parse_spot_market(p, {}) for p in products])
    return exchange


def handle(exchange: Any, message: object, watch: str = "candles::BTC/USD") -> Any:
    async def run() -> Any:
        client = Client("ws://unused", None, None, None, None, {})
        future = client.future(watch)
        exchange.handle_message(client, message)
        return future.result() if future.done() else None

    return asyncio.run(run())


def test_candles_message_resolves_the_watcher_with_the_parsed_candle() -> None:
    message = load_fixture("ws_candles.json")
    candle = message["events"][0]["candles"][0]
    stored = handle(coinbase_with_recorded_markets(), message)
    assert [list(row) for row in stored] == [
        [
            int(candle["start"]) * 1000,
            *(float(candle[k]) for k in ("open", "high", "low", "close", "volume")),
        ]
    ]


def test_a_candle_for_btc_usd_also_resolves_a_btc_usdc_watcher() -> None:
    stored = handle(
        coinbase_with_recorded_markets(), load_fixture("ws_candles.json"), "candles::BTC/USDC"
    )
    assert stored is not None
