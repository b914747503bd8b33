"""WebSocket feeds through real ccxt.pro over a local socket that replays Coinbase WS messages.

The ws_* messages are schema-accurate placeholders (see tests/fixtures/coinbase/README.md): these
tests check that every value of a venue message reaches the raw record, not market realism.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

import pytest

from grekko.adapters.ccxt import CcxtMarketDataSource
from grekko.core.errors import ConfigError
from grekko.domain.raw import RawBar, RawBook, RawQuote, RawTrade
from recorded_exchange import load_fixture, recorded_coinbase

T = TypeVar("T")
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def iso_ms(text: str) -> int:
    return (datetime.fromisoformat(text.replace("Z", "+00:00")) - EPOCH) // timedelta(
        milliseconds=1
    )


def fast_source(exchange: Any) -> CcxtMarketDataSource:
    return CcxtMarketDataSource(exchange, interval_s=0.01, backoff_s=0.01, max_backoff_s=0.04)


async def next_of(feed: AsyncIterator[T]) -> T:
    async with asyncio.timeout(5):
        return await anext(feed)


def book_levels(*messages: str) -> tuple[list[tuple[float, float]], list[tuple[float, float]]]:
    """The L2 book after applying the recorded messages in order: size 0 removes a level."""
    sides: dict[str, dict[float, float]] = {"bid": {}, "offer": {}}
    for name in messages:
        for event in load_fixture(name)["events"]:
            if event["type"] == "snapshot":
                sides = {"bid": {}, "offer": {}}
            for update in event["updates"]:
                sides[update["side"]][float(update["price_level"])] = float(update["new_quantity"])
    live = {side: {p: q for p, q in levels.items() if q > 0} for side, levels in sides.items()}
    bids = sorted(live["bid"].items(), reverse=True)
    asks = sorted(live["offer"].items())
    return bids, asks


@pytest.mark.asyncio
async def test_watch_trades_yields_the_streamed_trades_oldest_first() -> None:
    message = load_fixture("ws_market_trades.json")
    expected = [
        RawTrade(
            venue="coinbase",
            symbol="BTC/USD",
            price=float(t["price"]),
            amount=float(t["size"]),
            side=t["side"].lower(),
            ts=iso_ms(t["time"]),
            trade_id=t["trade_id"],
        )
        for event in message["events"]
        for t in sorted(event["trades"], key=lambda t: t["time"])
    ]
    async with recorded_coinbase() as (server, exchange):
        feed = fast_source(exchange).watch_trades("BTC/USD")
        trades = [await next_of(feed) for _ in expected]
        await feed.aclose()  # type: ignore[attr-defined]
    assert trades == expected
    [subscribe] = [m for m in server.ws_received if m.get("type") == "subscribe"]
    assert subscribe == {
        "type": "subscribe",
        "product_ids": ["BTC-USD"],
        "channel": "market_trades",
    }


@pytest.mark.asyncio
async def test_watch_books_yields_the_snapshot_then_the_book_after_each_update() -> None:
    async with recorded_coinbase(hold_ws_updates=True) as (server, exchange):
        feed = fast_source(exchange).watch_books("BTC/USD")
        first = await next_of(feed)
        await server.release_ws_updates()
        second = await next_of(feed)
        await feed.aclose()  # type: ignore[attr-defined]
    assert isinstance(first, RawBook)
    assert (first.bids, first.asks) == book_levels("ws_l2_data_snapshot.json")
    assert (second.bids, second.asks) == book_levels(
        "ws_l2_data_snapshot.json", "ws_l2_data_update.json"
    )
    assert second.ts == iso_ms(load_fixture("ws_l2_data_update.json")["timestamp"])
    assert first.bids != second.bids  # the update changed the best bid's size


@pytest.mark.asyncio
async def test_watch_books_reconnects_after_the_venue_drops_the_socket(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.WARNING, logger="grekko.ccxt")
    snapshot = book_levels("ws_l2_data_snapshot.json")
    async with recorded_coinbase(hold_ws_updates=True) as (server, exchange):
        source = fast_source(exchange)
        feed = source.watch_books("BTC/USD", depth=2)
        before = await next_of(feed)
        pending = asyncio.ensure_future(next_of(feed))
        await server.drop_ws()
        after = await pending
        await feed.aclose()  # type: ignore[attr-defined]
        connections = server.ws_connections
    assert connections == 2
    assert (before.bids, before.asks) == (snapshot[0][:2], snapshot[1][:2])
    assert (after.bids, after.asks) == (before.bids, before.asks)
    assert source.stats.failures >= 1
    assert any("watch_order_book" in r.getMessage() for r in caplog.records)


@pytest.mark.asyncio
async def test_watch_bars_yields_the_streamed_candle_with_its_values() -> None:
    candle = load_fixture("ws_candles.json")["events"][0]["candles"][0]
    async with recorded_coinbase() as (server, exchange):
        feed = fast_source(exchange).watch_bars("BTC/USD", "5m")
        bar = await next_of(feed)
        await feed.aclose()  # type: ignore[attr-defined]
    assert bar == RawBar(
        venue="coinbase",
        symbol="BTC/USD",
        ts=int(candle["start"]) * 1000,
        open=float(candle["open"]),
        high=float(candle["high"]),
        low=float(candle["low"]),
        close=float(candle["close"]),
        volume=float(candle["volume"]),
        interval_s=300,
    )
    assert {"type": "subscribe", "product_ids": ["BTC-USD"], "channel": "candles"} in (
        server.ws_received
    )


@pytest.mark.asyncio
async def test_watch_quotes_copies_the_streamed_top_of_book() -> None:
    message = load_fixture("ws_ticker.json")
    ticker = message["events"][0]["tickers"][0]
    async with recorded_coinbase() as (_server, exchange):
        feed = fast_source(exchange).watch_quotes("BTC/USD")
        quote = await next_of(feed)
        await feed.aclose()  # type: ignore[attr-defined]
    assert quote == RawQuote(
        venue="coinbase",
        symbol="BTC/USD",
        bid=float(ticker["best_bid"]),
        ask=float(ticker["best_ask"]),
        bid_size=float(ticker["best_bid_quantity"]),
        ask_size=float(ticker["best_ask_quantity"]),
        ts=iso_ms(message["timestamp"]),
    )


@pytest.mark.asyncio
async def test_coinbase_websocket_candles_other_than_5m_are_a_config_error() -> None:
    async with recorded_coinbase() as (server, exchange):
        feed = fast_source(exchange).watch_bars("BTC/USD", "1m")
        with pytest.raises(ConfigError, match="5m candles only"):
            await next_of(feed)
        assert server.ws_connections == 0
