"""REST polling through real ccxt against a local server answering with recorded Coinbase payloads.

Expected values are read from the fixture files here, independently of ccxt, so a test fails if
any value is lost or altered on the way from the venue's JSON to the raw record.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Callable
from contextlib import aclosing
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

import pytest

from grekko.adapters.ccxt import CcxtMarketDataSource
from grekko.core.errors import ConfigError
from grekko.domain.raw import RawBar, RawBook, RawQuote, RawTrade
from recorded_exchange import Fault, load_fixture, recorded_coinbase

T = TypeVar("T")
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def iso_ms(text: str) -> int:
    return (datetime.fromisoformat(text.replace("Z", "+00:00")) - EPOCH) // timedelta(
        milliseconds=1
    )


async def take(feed: AsyncIterator[T], count: int) -> list[T]:
    out: list[T] = []
    async with asyncio.timeout(5), aclosing(feed) as items:  # type: ignore[type-var]
        async for item in items:
            out.append(item)
            if len(out) == count:
                break
    return out


def fast_source(exchange: Any) -> CcxtMarketDataSource:
    return CcxtMarketDataSource(exchange, interval_s=0.01, backoff_s=0.01, max_backoff_s=0.04)


def recorded_trades() -> list[RawTrade]:
    trades = load_fixture("http_ticker.json")["trades"]
    return [
        RawTrade(
            venue="coinbase",
            symbol="BTC/USD",
            price=float(t["price"]),
            amount=float(t["size"]),
            side=t["side"].lower(),
            ts=iso_ms(t["time"]),
            trade_id=t["trade_id"],
        )
        for t in sorted(trades, key=lambda t: t["time"])
    ]


async def wait_until(condition: Callable[[], bool]) -> None:
    async with asyncio.timeout(5):
        while not condition():
            await asyncio.sleep(0.01)


async def nothing_more_after(feed: AsyncIterator[Any], condition: Callable[[], bool]) -> None:
    """Asserts the feed yields nothing while it keeps polling until condition holds."""
    pending = asyncio.ensure_future(anext(feed))
    await wait_until(condition)
    assert not pending.done(), f"unexpected extra record {pending.result()!r}"
    pending.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await pending
    await feed.aclose()  # type: ignore[attr-defined]


@pytest.mark.asyncio
async def test_poll_trades_yields_each_recorded_trade_once_oldest_first() -> None:
    async with recorded_coinbase() as (server, exchange):
        source = fast_source(exchange)
        feed = source.poll_trades("BTC/USD")
        trades = [await anext(feed) for _ in range(3)]
        await nothing_more_after(feed, lambda: len(server.seen("/ticker")) >= 4)
    assert trades == recorded_trades()
    assert server.seen("/api/v3/brokerage/market/products/BTC-USD/ticker")
    assert source.stats.rejected == 0
    assert source.stats.records == 3


@pytest.mark.asyncio
async def test_poll_bars_yields_recorded_candles_once_with_exact_values() -> None:
    rows = sorted(load_fixture("http_candles.json")["candles"], key=lambda r: int(r["start"]))
    first_ms = int(rows[0]["start"]) * 1000
    async with recorded_coinbase() as (server, exchange):
        source = fast_source(exchange)
        bars = await take(source.poll_bars("BTC/USD", "1h", since_ms=first_ms), 2)
        candle_requests = server.seen("/products/BTC-USD/candles")
    assert bars == [
        RawBar(
            venue="coinbase",
            symbol="BTC/USD",
            ts=int(r["start"]) * 1000,
            open=float(r["open"]),
            high=float(r["high"]),
            low=float(r["low"]),
            close=float(r["close"]),
            volume=float(r["volume"]),
            interval_s=3600,
        )
        for r in rows
    ]
    assert candle_requests[0].query["start"] == rows[0]["start"]
    assert candle_requests[0].query["granularity"] == "ONE_HOUR"


@pytest.mark.asyncio
async def test_poll_bars_resumes_from_the_last_closed_bar_without_duplicates() -> None:
    rows = sorted(load_fixture("http_candles.json")["candles"], key=lambda r: int(r["start"]))
    async with recorded_coinbase() as (server, exchange):
        source = fast_source(exchange)
        feed = source.poll_bars("BTC/USD", "1h", since_ms=int(rows[0]["start"]) * 1000)
        bars = [await anext(feed), await anext(feed)]
        await nothing_more_after(feed, lambda: len(server.seen("/candles")) >= 4)
    assert [b.ts for b in bars] == [int(r["start"]) * 1000 for r in rows]
    later = server.seen("/candles")[1:]
    assert {r.query["start"] for r in later} == {rows[-1]["start"]}


@pytest.mark.asyncio
async def test_poll_quotes_copies_best_bid_and_ask() -> None:
    ticker = load_fixture("http_ticker.json")
    newest = max(ticker["trades"], key=lambda t: t["time"])
    async with recorded_coinbase() as (server, exchange):
        [quote] = await take(fast_source(exchange).poll_quotes("BTC/USD"), 1)
        ticker_requests = server.seen("/products/BTC-USD/ticker")
    assert quote == RawQuote(
        venue="coinbase",
        symbol="BTC/USD",
        bid=float(ticker["best_bid"]),
        ask=float(ticker["best_ask"]),
        bid_size=None,
        ask_size=None,
        ts=iso_ms(newest["time"]),
    )
    assert ticker_requests[0].query["limit"] == "1"


@pytest.mark.asyncio
async def test_poll_books_copies_every_level_of_the_recorded_book() -> None:
    book = load_fixture("http_product_book.json")["pricebook"]
    async with recorded_coinbase() as (server, exchange):
        [record] = await take(fast_source(exchange).poll_books("BTC/USD"), 1)
        [top2] = await take(fast_source(exchange).poll_books("BTC/USD", depth=2), 1)
        book_requests = server.seen("/market/product_book")
    assert isinstance(record, RawBook)
    assert record.venue == "coinbase"
    assert record.symbol == "BTC/USD"
    assert record.bids == [(float(lv["price"]), float(lv["size"])) for lv in book["bids"]]
    assert record.asks == [(float(lv["price"]), float(lv["size"])) for lv in book["asks"]]
    assert record.ts == iso_ms(book["time"])
    assert top2.bids == record.bids[:2]  # type: ignore[index]
    assert [r.query.get("limit") for r in book_requests] == [None, "2"]


@pytest.mark.asyncio
async def test_rate_limit_server_error_and_garbage_json_are_logged_backed_off_and_survived(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.WARNING, logger="grekko.ccxt")
    async with recorded_coinbase() as (server, exchange):
        server.fail_next(
            "/ticker",
            Fault(429, '{"error":"rate_limit_exceeded","message":"Too many requests"}'),
            Fault(500, "Internal Server Error"),
            Fault(200, '{"trades": [{"trade_id": "99509'),
            Fault(200, "[1, 2,"),
        )
        source = fast_source(exchange)
        trades = await take(source.poll_trades("BTC/USD"), 3)
        ticker_requests = len(server.seen("/ticker"))
    assert trades == recorded_trades()
    assert ticker_requests == 5
    assert source.stats.failures == 4
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 4
    assert "RateLimitExceeded" in warnings[0]
    assert "ExchangeNotAvailable" in warnings[1]
    assert all("BadResponse" in w and "malformed JSON" in w for w in warnings[2:])
    assert [w.split("retry ")[1].split(" ")[0] for w in warnings] == ["1", "2", "3", "4"]


@pytest.mark.asyncio
async def test_garbage_market_list_is_reloaded_instead_of_rejecting_the_symbol() -> None:
    async with recorded_coinbase() as (server, exchange):
        server.fail_next("/market/products", Fault(200, '{"products": []}'), Fault(200, "{}"))
        [quote] = await take(fast_source(exchange).poll_quotes("BTC/USD"), 1)
        product_requests = [r for r in server.requests if r.path.endswith("/market/products")]
    assert quote.bid == float(load_fixture("http_ticker.json")["best_bid"])
    assert len(product_requests) >= 3


@pytest.mark.asyncio
async def test_unknown_symbol_is_a_config_error_naming_similar_markets() -> None:
    async with recorded_coinbase() as (_server, exchange):
        source = fast_source(exchange)
        with pytest.raises(ConfigError, match=r"no market 'BTC/EUR'.*BTC/USD"):
            await take(source.poll_trades("BTC/EUR"), 1)


@pytest.mark.asyncio
async def test_unsupported_timeframe_is_a_config_error_before_any_request() -> None:
    async with recorded_coinbase() as (server, exchange):
        with pytest.raises(ConfigError, match="no timeframe '7m'"):
            await take(fast_source(exchange).poll_bars("BTC/USD", "7m"), 1)
        assert server.requests == []
